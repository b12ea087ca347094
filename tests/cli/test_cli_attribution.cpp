// End-to-end: the SHAP, occlusion, RISE and gradient methods through the real binary on the bundled
// demo model and example patches: the files a user gets, the checks the report carries (efficiency,
// completeness, base value), and clear exit-2 refusals of settings that cannot work.
#include "cli_fixture.hpp"

namespace {

using namespace xai::e2e;
namespace fs = std::filesystem;
using nlohmann::json;

const std::string kDemo = std::string(XAI_SOURCE_DIR) + "/models/demo-histo.pt";
const fs::path kPatch = fs::path(XAI_SOURCE_DIR) / "examples/patches/malignant-1.png";

using CliAttribution = CliTest;

TEST_F(CliAttribution, EveryMethodWritesASignedOrHeatMapWithItsChecks) {
  const RunResult r = explain(kDemo, kPatch,
                              {"--method", "kernelshap,partitionshap,occlusion,rise,intgrad,smoothgrad", "--samples", "64",
                               "--segments", "12", "--max-evals", "60", "--rise-masks", "40", "--steps", "16", "-q"});
  ASSERT_EQ(r.code, 0) << r;
  const json report = read_json(out_dir() / "malignant-1.json");
  const cv::Mat image = cv::imread(kPatch.string());
  std::map<std::string, json> entries;
  for (const auto& e : report["explanations"]) entries[e["method"]] = e;
  ASSERT_EQ(entries.size(), 6u) << report.dump(2);
  for (const auto& [method, entry] : entries) {
    SCOPED_TRACE(method);
    const Map map = read_map(out_dir() / entry["files"]["map"].get<std::string>());
    ASSERT_EQ(map.shape, (std::vector<size_t>{size_t(image.rows), size_t(image.cols)}));
    EXPECT_TRUE(fs::exists(out_dir() / entry["files"]["overlay"].get<std::string>()));
    EXPECT_FALSE(entry["parameters"].empty());
  }
  // Kernel SHAP: 12 superpixels want 2^12 − 2 coalitions; 64 samples give sampled values whose sum is
  // still exactly f(x) − f(all hidden).
  const json& shap = entries["kernelshap"];
  EXPECT_FALSE(shap["exact"].get<bool>());
  EXPECT_LT(shap["efficiency"]["error"].get<double>(), 1e-9);
  EXPECT_NEAR(shap["efficiency"]["expected"].get<double>(),
              shap["model_probability"].get<double>() - shap["base_value"].get<double>(), 1e-12);
  EXPECT_TRUE(fs::exists(out_dir() / "malignant-1.kernelshap-segments.png"));
  const json& partition = entries["partitionshap"];
  EXPECT_LE(partition["evaluations"].get<int>(), 60);
  EXPECT_LT(partition["efficiency"]["error"].get<double>(), 1e-9);
  const json& ig = entries["intgrad"];
  EXPECT_NEAR(ig["completeness"]["expected"].get<double>(),
              ig["target"]["score"].get<double>() - ig["baseline_score"].get<double>(), 1e-6);
  EXPECT_LT(ig["completeness"]["relative_error"].get<double>(), 0.2) << "16 steps on a small ResNet";
  // The methods of one family all explain the predicted class by default.
  for (const auto& [method, entry] : entries)
    EXPECT_EQ(entry["target"]["index"], report["prediction"]["index"]) << method;
}

TEST_F(CliAttribution, SameSeedSameMapsAndAnotherSeedOthers) {
  const std::vector<std::string> args = {"--method", "rise", "--rise-masks", "30", "-q"};
  ASSERT_EQ(explain(kDemo, kPatch, args).code, 0);
  const Map first = read_map(out_dir() / "malignant-1.rise.npy");
  fs::remove_all(out_dir());
  ASSERT_EQ(explain(kDemo, kPatch, args).code, 0);
  EXPECT_EQ(max_abs_diff(first, read_map(out_dir() / "malignant-1.rise.npy")), 0.0f);
  fs::remove_all(out_dir());
  std::vector<std::string> seeded = args;
  seeded.insert(seeded.end(), {"--seed", "9"});
  ASSERT_EQ(explain(kDemo, kPatch, seeded).code, 0);
  EXPECT_GT(max_abs_diff(first, read_map(out_dir() / "malignant-1.rise.npy")), 0.0f);
}

TEST_F(CliAttribution, InpaintingAndBoxBlurFillsAsShapSpellsThem) {
  for (const char* fill : {"inpaint_telea", "blur(5,5)"}) {
    SCOPED_TRACE(fill);
    fs::remove_all(out_dir());
    const RunResult r = explain(kDemo, kPatch, {"--method", "kernelshap", "--samples", "20", "--segments", "8", "--hide", fill});
    ASSERT_EQ(r.code, 0) << r;
    const json entry = read_json(out_dir() / "malignant-1.json")["explanations"][0];
    EXPECT_EQ(entry["parameters"]["hide"], std::string(fill) == "inpaint_telea" ? "inpaint" : fill);
  }
}

TEST_F(CliAttribution, SettingsThatCannotWorkAreRefused) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--method", "kernelshap", "--samples", "1"}, "--samples"},
      {{"--method", "lime", "--samples", "1"}, "--samples"},
      {{"--method", "occlusion", "--window", "500"}, "--window 500: larger than the model's input"},
      {{"--method", "rise", "--grid", "0"}, "--grid"},
      {{"--method", "rise", "--grid", "200"}, "--grid 200"},
      {{"--method", "rise", "--keep", "0"}, "--keep"},
      {{"--method", "intgrad", "--steps", "0"}, "--steps"},
      {{"--method", "intgrad", "--steps", "1"}, "--steps"},
      {{"--method", "intgrad", "--baseline", "white"}, "--baseline: expected black, blur or mean, got 'white'"},
      {{"--method", "partitionshap", "--max-evals", "1"}, "--max-evals"},
      {{"--method", "partitionshap", "--partition", "quadtree"}, "--partition: expected axes or superpixels, got 'quadtree'"},
      {{"--method", "partitionshap", "--segments", "20"}, "--partition superpixels"},
      {{"--method", "kernelshap", "--hide", "blur(3,4)"}, "--hide blur(3,4)"},
      {{"--method", "gradcam", "--steps", "8"}, "--steps: not used by --method gradcam"},
      {{"--method", "intgrad", "--all-classes"}, "--all-classes: not used by --method intgrad"},
  };
  for (const auto& [args, fragment] : cases) {
    SCOPED_TRACE(args[1] + " " + args[2]);
    expect_error(explain(kDemo, kPatch, args), 2, {fragment});
  }
}

TEST_F(CliAttribution, BatchAndEvalTakeTheNewMethods) {
  fs::create_directories(in("patches"));
  for (const char* name : {"benign-1.png", "malignant-1.png", "malignant-1.mask.png"})
    fs::copy_file(fs::path(XAI_SOURCE_DIR) / "examples/patches" / name, in("patches") / name);
  RunResult r = xai({"batch", "-m", kDemo, in("patches").string(), "-o", out_dir().string(), "--method",
                     "occlusion,intgrad", "--steps", "4", "-q"});
  ASSERT_EQ(r.code, 0) << r;
  for (const char* file : {"benign-1.occlusion.png", "malignant-1.intgrad.npy"})
    EXPECT_TRUE(fs::exists(out_dir() / file)) << file;
  r = xai({"eval", "-m", kDemo, in("patches").string(), "--method", "intgrad", "--steps", "4", "--json", "-"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_NE(r.out.find("intgrad"), std::string::npos) << r;
}

// --samples auto: the report says how many samples were used, how settled the weights are, and how
// the samples were drawn; what auto cannot apply is refused.
TEST_F(CliAttribution, AutoSamplesAreReportedAndItsFlagsNeedIt) {
  const fs::path ihc = fs::path(XAI_SOURCE_DIR) / "examples/ihc-crop.png";
  const RunResult r = explain(kDemo, ihc,
                              {"--method", "lime,kernelshap", "--samples", "auto", "--tolerance", "0.1",
                               "--max-samples", "600", "--segments", "20", "-q"});
  ASSERT_EQ(r.code, 0) << r;
  const json report = read_json(out_dir() / "ihc-crop.json");
  for (const auto& e : report["explanations"]) {
    SCOPED_TRACE(e["method"].get<std::string>());
    EXPECT_EQ(e["parameters"]["samples"], (json{{"mode", "auto"}, {"tolerance", 0.1}, {"max_samples", 600}}));
    const json& sampling = e["sampling"];
    EXPECT_EQ(sampling["mode"], "auto");
    EXPECT_LE(sampling["samples"].get<int>(), 600);
    EXPECT_EQ(sampling["settled"].get<bool>(), sampling["estimated_agreement"].get<double>() >= 0.9);
    EXPECT_GE(sampling["checks"].get<int>(), 1);
  }
  EXPECT_EQ(report["explanations"][0]["parameters"]["draws"], "complementary pairs");
  fs::remove_all(out_dir());
  const std::vector<std::pair<std::vector<std::string>, std::string>> refused = {
      {{"--method", "lime", "--tolerance", "0.1"}, "--tolerance: only with --samples auto"},
      {{"--method", "kernelshap", "--max-samples", "100"}, "--max-samples: only with --samples auto"},
      {{"--method", "lime,smoothgrad", "--samples", "auto"}, "--samples auto: smoothgrad takes a number of samples"},
      {{"--method", "lime", "--samples", "auto", "--tolerance", "1"}, "--tolerance"},
      {{"--method", "lime", "--samples", "some"}, "--samples"},
      {{"--method", "lime", "--samples", "99999999999"}, "--samples: expected an integer >= 1 or auto, got '99999999999' (too large)"},
      {{"--method", "gradcam", "--tolerance", "0.1"}, "--tolerance: not used by --method gradcam"},
  };
  for (const auto& [args, fragment] : refused) {
    SCOPED_TRACE(fragment);
    expect_error(explain(kDemo, kPatch, args), 2, {fragment});
  }
}

// bench --fidelity: every row explains every image against the reference, the plot is written, and
// the JSON carries the per-image numbers the medians come from.
TEST_F(CliAttribution, FidelityBenchComparesFixedAndAutoRows) {
  const std::string tiny = std::string(XAI_SOURCE_DIR) + "/models/tiny-scripted.pt";
  const fs::path plot = out_dir() / "fidelity.png";
  fs::create_directories(out_dir());
  const RunResult r = xai({"bench", "-m", tiny, "--method", "lime", "--samples", "auto", "--max-samples", "300",
                           "--segments", "12", "--fidelity", "--reference-samples", "600", "--fixed-samples", "100",
                           "--plot", plot.string(), "--json", kPatch.string(),
                           (fs::path(XAI_SOURCE_DIR) / "examples/patches/benign-1.png").string()});
  ASSERT_EQ(r.code, 0) << r;
  const json out = json::parse(r.out);
  EXPECT_EQ(out["images"].size(), 2u);
  EXPECT_EQ(out["reference_samples"], 600);
  ASSERT_EQ(out["rows"].size(), 3u);
  EXPECT_EQ(out["rows"][0]["name"], "fixed 100, plain module, batch 64");
  EXPECT_FALSE(out["rows"][0]["optimised"].get<bool>());
  EXPECT_EQ(out["rows"][2]["samples"], "auto");
  for (const auto& row : out["rows"]) {
    ASSERT_EQ(row["fidelity"].size(), 2u);
    for (const auto& f : row["fidelity"]) EXPECT_LE(f.get<double>(), 1.0);
  }
  EXPECT_EQ(out["rows"][0]["samples_used"], (json{100, 100}));
  EXPECT_EQ(out["rows"][0]["fidelity"], out["rows"][1]["fidelity"]) << "the clone gives the same weights";
  const cv::Mat png = cv::imread(plot.string());
  EXPECT_EQ(png.cols, static_cast<int>(std::ceil(85 / 25.4 * 150)));  // drawn with cairo: one column at 150 dpi
  keep_artifact(plot);
  fs::remove_all(out_dir());

  expect_error(xai({"bench", "-m", tiny, "--method", "lime", "--samples", "auto", "--fidelity", "--plot",
                    (out_dir() / "plot.eps").string(), kPatch.string()}),
               2, {"--plot", "plot.eps", ".png, .svg or .pdf"});
  expect_error(xai({"bench", "-m", tiny, "--method", "lime", "--fidelity", kPatch.string()}), 2, {"add --samples auto"});
  expect_error(xai({"bench", "-m", tiny, "--method", "lime", "--reference-samples", "50"}), 2,
               {"--reference-samples: only with --fidelity"});
  expect_error(xai({"bench", "-m", tiny, "--method", "occlusion", "--samples", "auto", "--fidelity", kPatch.string()}), 2,
               {"--samples"});
}

}  // namespace
