// The resize modes end to end: what a centre crop does to every output (the maps, overlays and
// reports cover the part of the image the model sees), and where models that see different parts
// are refused. The numbers themselves are checked against torchvision in
// tests/input/test_preprocess_torchvision.cpp.
#include "cli_fixture.hpp"

namespace {

using namespace xai::e2e;
namespace fs = std::filesystem;
using nlohmann::json;

using CliPreprocess = CliTest;

TEST_F(CliPreprocess, ShorterSideMapsCoverTheCentreCrop) {
  const fs::path image = write_image("patch.png", test_image(150, 97));
  const RunResult r = explain(model("tiny-scripted.pt"), image,
                              {"--resize", "shorter-side", "--interpolation", "bilinear", "--no-figure",
                               "--figure-size", "0"});
  ASSERT_EQ(r.code, 0) << r;
  // 64x64 input: shorter side to round(64 * 8/7) = 73, 150x97 -> 112x73 (int(73 * 150 / 97) = 112),
  // crop at round(24) = 24, round(4.5) = 4; in the original: x 24*150/112 = 32.1 .. 88*150/112 = 117.9,
  // y 4*97/73 = 5.3 .. 68*97/73 = 90.4.
  const json report = read_json(out_dir() / "patch.json");
  const json& pre = report.at("preprocessing");
  EXPECT_EQ(pre.at("resize"), "shorter-side:73");
  EXPECT_EQ(pre.at("interpolation"), "bilinear");
  EXPECT_EQ(pre.at("visible_region"), (json{{"x", 32}, {"y", 5}, {"width", 86}, {"height", 85}}));
  EXPECT_NE(pre.at("steps").get<std::string>().find("centre crop 64x64 at 24,4"), std::string::npos) << pre.dump();
  const cv::Mat overlay = cv::imread((out_dir() / "patch.gradcam.png").string());
  EXPECT_EQ(overlay.size(), cv::Size(86, 85));
  EXPECT_EQ(read_map(out_dir() / "patch.gradcam.npy").shape, (std::vector<size_t>{85, 86}));

  // The same image cut to the visible region by hand and stretched gives nearly the same prediction
  // (nearly: the crop's footprint is rounded to whole pixels, and the resize differs).
  cv::Mat cut = test_image(150, 97)(cv::Rect(32, 5, 86, 85)).clone();
  const fs::path cropped = write_image("cropped.png", cut);
  ASSERT_EQ(explain(model("tiny-scripted.pt"), cropped, {"--interpolation", "bilinear", "--no-figure"}).code, 0);
  const json by_hand = read_json(out_dir() / "cropped.json");
  EXPECT_EQ(by_hand.at("prediction").at("index"), report.at("prediction").at("index"));
  EXPECT_NEAR(by_hand.at("prediction").at("probability").get<double>(),
              report.at("prediction").at("probability").get<double>(), 0.05);
}

TEST_F(CliPreprocess, ModelsThatSeeDifferentPartsAreNotComparedPixelByPixel) {
  const fs::path image = write_image("patch.png", test_image(120, 90));
  fs::copy_file(model("tiny-scripted.pt"), in("cropping.pt"));
  json card = read_json(model("tiny-scripted.json"));
  card["resize"] = "shorter-side:80";
  write_bytes(in("cropping.json"), card.dump());
  const RunResult r = xai({"compare", "-m", in("cropping.pt").string(), "-m", model("tiny-scripted.pt"),
                           image.string(), "-o", out_dir().string()});
  EXPECT_EQ(r.code, 2) << r;
  EXPECT_EQ(count_lines(r.err), 1u) << r;
  EXPECT_NE(r.err.find("cannot be compared pixel by pixel"), std::string::npos) << r;
  // Given the same geometry on the command line, both apply it and the comparison runs.
  const RunResult same = xai({"compare", "-m", in("cropping.pt").string(), "-m", model("tiny-scripted.pt"), "--resize",
                              "shorter-side:80", image.string(), "-o", out_dir().string()});
  EXPECT_EQ(same.code, 0) << same;
}

TEST_F(CliPreprocess, BadResizeSettingsAreUsageErrors) {
  const fs::path image = write_image("patch.png", test_image(100, 100));
  for (const std::vector<std::string>& bad : std::vector<std::vector<std::string>>{{"--resize", "crop"}, {"--resize", "shorter-side:10"}, {"--interpolation", "lanczos"}}) {
    const RunResult r = explain(model("tiny-scripted.pt"), image, bad);
    EXPECT_EQ(r.code, 2) << r;
    EXPECT_EQ(count_lines(r.err), 1u) << r;
  }
  EXPECT_FALSE(fs::exists(out_dir() / "patch.json"));
}

// Stain normalisation end to end: the report says which stains were replaced by which (the numbers are
// checked against numpy in tests/input/test_stain.cpp); the settings that cannot apply are refused in
// one line.
TEST_F(CliPreprocess, StainNormalisationIsReportedAndItsSettingsChecked) {
  const std::string demo = std::string(XAI_SOURCE_DIR) + "/models/demo-histo.pt";
  const fs::path patch = fs::path(xai::test::example_patches()) / "malignant-1.png";
  const std::string reference = std::string(XAI_SOURCE_DIR) + "/examples/ihc-crop.png";
  const RunResult r = explain(demo, patch, {"--stain-normalize", "macenko", "--stain-reference", reference, "--no-figure"});
  ASSERT_EQ(r.code, 0) << r;
  const json report = read_json(out_dir() / "malignant-1.json");
  const json& stain = report.at("preprocessing").at("stain_normalization");
  EXPECT_EQ(stain.at("method"), "macenko");
  EXPECT_EQ(stain.at("reference"), reference);
  EXPECT_EQ(stain.at("source").at("hematoxylin").size(), 3u);
  EXPECT_NE(stain.at("source"), stain.at("target"));
  EXPECT_NE(report.at("preprocessing").at("steps").get<std::string>().find("stains (macenko) of the image"),
            std::string::npos);

  fs::remove_all(out_dir());  // the refusals below must write nothing
  expect_error(explain(demo, patch, {"--stain-normalize", "macenko"}), 2, {"--stain-normalize", "--stain-reference"});
  expect_error(explain(demo, patch, {"--stain-reference", reference}), 2, {"--stain-reference", "--stain-normalize"});
  expect_error(explain(demo, patch, {"--stain-normalize", "reinhard", "--stain-reference", reference}), 2,
               {"--stain-normalize"});
  expect_error(explain(demo, patch, {"--stain-normalize", "macenko", "--stain-reference", in("missing.png").string()}),
               3, {"missing.png"});
}

}  // namespace
