// No option is ever silently ignored: every option of every subcommand (read from its --help, so a
// new option without a row here fails the test) changes what the command produces — files, reports,
// stdout, stderr or exit code; and every shared option a subcommand cannot apply (kRefused) is left out
// of its --help and, given, refused with exit 2 and a one-line reason.
#include <chrono>
#include <iomanip>
#include <regex>

#include "cli_fixture.hpp"
#include "core/sha256.hpp"
#include "xai/method_settings.hpp"
#include "xai/methods.hpp"

namespace {

using namespace xai::e2e;
namespace fs = std::filesystem;
using nlohmann::json;
using Args = std::vector<std::string>;

std::string examples_dir() { return xai::test::example_patches(); }

// Options of the shared groups (and retired ones) that a subcommand refuses, with a reason.
const std::map<std::string, std::set<std::string>> kRefused = {
    {"explain", {"--batch-size"}},
    {"card", {"--no-inference-clone", "--precision", "--staged-capture", "--stain-normalize", "--stain-reference"}},
    {"slide", {"--max-pixels", "--max-image-memory", "--apply-exif-orientation", "--dicom-window", "--frame", "--frames",
               "--top-k", "--targets", "--all-classes", "--layers", "--faithfulness", "--faithfulness-steps", "--faithfulness-fill",
               "--figure-size", "--num-features"}},
    {"batch", {"--lime-batch-size"}},
    {"compare", {"--figure-size", "--num-features", "--frames", "--top-k", "--targets", "--all-classes", "--card", "--map-size", "--faithfulness", "--faithfulness-steps", "--faithfulness-fill"}},
    {"sanity", {"--figure-size", "--num-features", "--frames", "--top-k", "--targets", "--all-classes", "--map-size", "--faithfulness", "--faithfulness-steps", "--faithfulness-fill"}},
    {"diff", {"--figure-size", "--num-features", "--frames", "--top-k", "--targets", "--all-classes", "--layers", "--card", "--map-size", "--faithfulness", "--faithfulness-steps", "--faithfulness-fill"}},
    {"eval", {"--background", "--figure-size", "--num-features", "--frames", "--target-class", "--top-k", "--targets", "--all-classes", "--colormap", "--alpha", "--map-size"}},
    {"bench", {"--stain-normalize", "--stain-reference", "--max-pixels", "--max-image-memory", "--apply-exif-orientation", "--map-size", "--dicom-window", "--frame", "--frames", "--colormap", "--alpha", "--background", "--figure-size", "--num-features", "--rounds",
               "--faithfulness", "--faithfulness-steps", "--faithfulness-fill"}},
    {"layers", {"--stain-normalize", "--stain-reference", "--method", "--layer", "--layers", "--target-class", "--top-k", "--targets", "--all-classes", "--probe-batch",
                "--colormap", "--alpha", "--background", "--figure-size", "--num-features", "--max-pixels", "--samples", "--segments", "--compactness", "--superpixels",
                "--regions", "--hide", "--hide-color", "--kernel-width", "--seed", "--repeats", "--window", "--stride", "--rise-masks", "--grid", "--keep", "--steps", "--baseline", "--noise", "--max-evals", "--partition",
                "--no-inference-clone", "--precision", "--staged-capture", "--tolerance", "--max-samples", "--max-image-memory", "--apply-exif-orientation", "--map-size",
                "--faithfulness", "--faithfulness-steps", "--faithfulness-fill", "--dicom-window", "--frame", "--frames"}},
    {"merge", {"--stain-normalize", "--stain-reference", "--model", "--card", "--device", "--input-size", "--channels", "--mean", "--std", "--output-kind", "--output-element",
               "--resize", "--interpolation",
               "--labels", "--method", "--layer", "--layers", "--target-class", "--top-k", "--targets", "--all-classes",
               "--probe-batch", "--colormap", "--alpha", "--background", "--figure-size", "--num-features", "--max-pixels", "--samples", "--segments", "--compactness",
               "--superpixels", "--regions", "--hide", "--hide-color", "--kernel-width", "--seed", "--repeats",
               "--window", "--stride", "--rise-masks", "--grid", "--keep", "--steps", "--baseline", "--noise", "--max-evals", "--partition",
               "--no-inference-clone", "--precision", "--staged-capture", "--tolerance", "--max-samples", "--max-image-memory", "--apply-exif-orientation", "--map-size",
               "--faithfulness", "--faithfulness-steps", "--faithfulness-fill", "--dicom-window", "--frame", "--frames",
               // The matrix merges batch outputs: these score slide runs (tests/cli/test_cli_slide.cpp).
               "--annotations", "--annotation-classes", "--annotation-cover", "--at-fpr", "--top-fraction", "--fail-if",
               "--junit"}},
};

// Of those, the ones refused only without another flag that makes them apply (bench draws with
// --pipeline, eval with --save-overlays, slide's figures with --top-tiles): listed in --help.
const std::map<std::string, std::set<std::string>> kRefusedUnlessEnabled = {
    {"bench", {"--colormap", "--alpha", "--background", "--figure-size", "--rounds"}},
    {"eval", {"--colormap", "--alpha", "--background", "--figure-size"}},
    {"slide", {"--figure-size", "--num-features"}},
    {"merge", {"--annotations", "--annotation-classes", "--annotation-cover", "--at-fpr", "--top-fraction", "--fail-if",
               "--junit"}},
};

// Counts that keep the matrix's runs short: each method's row runs it with these instead of its defaults.
const std::map<std::string, std::string> kCheap = {
    {"--samples", "30"}, {"--rise-masks", "30"}, {"--window", "24"}, {"--steps", "8"}, {"--max-evals", "60"}};

std::string fixed_seconds(double s) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(1) << s << "s";
  return out.str();
}

class CliOptions : public CliTest, public ::testing::WithParamInterface<std::string> {
 protected:
  // One option's test: `args` added to the command (replacing a base option of the same name),
  // `needs` added to both runs so the option can apply (e.g. --method lime for LIME settings).
  struct Row {
    Args args;
    Args needs;
  };

  void SetUp() override {
    CliTest::SetUp();
    // ~900 command lines: each in a forked child of one loaded process (cli_server.cpp), not a new binary.
    use_server();
    image_ = write_image("patch.png", test_image(120, 90));
    fs::create_directories(in("batch"));
    cv::imwrite(in("batch/a.png").string(), test_image(64, 48, 1));
    cv::imwrite(in("batch/b.png").string(), test_image(64, 48, 2));
    cv::imwrite(in("batch/c.png").string(), test_image(64, 48, 3));
    fs::create_directories(in("eval"));
    for (const auto& entry : fs::directory_iterator(examples_dir())) fs::copy_file(entry.path(), in("eval") / entry.path().filename());
    fs::create_directories(in("masks"));
    cv::imwrite(in("masks/malignant-1.png").string(), cv::Mat(96, 96, CV_8UC1, cv::Scalar(255)));
    cv::Mat regions(90, 120, CV_8UC1, cv::Scalar(0));
    regions(cv::Rect(60, 0, 60, 45)).setTo(1);
    regions(cv::Rect(0, 45, 60, 45)).setTo(2);
    cv::imwrite(in("regions.png").string(), regions);
    fs::create_directories(in("extra"));
    big_jpeg_ = write_image("extra/big.jpg", test_image(1200, 900));
    turned_jpeg_ = in("extra/turned.jpg");
    write_bytes(turned_jpeg_, with_exif_orientation(read_bytes(write_image("extra/upright.jpg", test_image(80, 60))), 6));
    // 8x6 cells of 64 px at 0.5 µm/px, one malignant.
    slide_ = in("slide.tif");
    int status = 0;
    const std::string made = xai::test::run_command(XAI_PYTHON " " + std::string(XAI_SOURCE_DIR) +
                                                        "/scripts/make_test_slide.py " + slide_.string() +
                                                        " --grid 8x6 --patch 64 --malignant 3,2 2>&1",
                                                    &status);
    ASSERT_EQ(status, 0) << made;
    cv::imwrite(in("slide-mask.png").string(), cv::Mat(6, 8, CV_8UC1, cv::Scalar(255)));  // every cell, glass too
    // Half of the malignant cell (3,2) as "Tumor", and the cell below it as "Stroma" (level-0 pixels).
    write_bytes(in("two-classes.geojson"),
                R"({"type": "FeatureCollection", "features": [
                     {"type": "Feature", "properties": {"classification": {"name": "Tumor"}},
                      "geometry": {"type": "Polygon", "coordinates": [[[192,128],[224,128],[224,192],[192,192],[192,128]]]}},
                     {"type": "Feature", "properties": {"classification": {"name": "Stroma"}},
                      "geometry": {"type": "Polygon", "coordinates": [[[192,192],[256,192],[256,256],[192,256],[192,192]]]}}]})");
    write_bytes(in("truth.csv"), "name,label\npatch,malignant\nmalignant-1,benign\nmalignant-2,malignant\n"
                                 "malignant-3,malignant\nbenign-1,benign\nbenign-2,benign\nbenign-3,malignant\n");
  }

  std::string model_for(const std::string& sub) const {
    // eval needs a model that gets the examples right, or no image is scored at all.
    return sub == "eval" ? std::string(XAI_SOURCE_DIR) + "/models/demo-histo.pt" : model("tiny-scripted.pt");
  }

  static std::string stain_reference(const std::string& example) { return examples_dir() + "/" + example; }

  std::string existing_card() {
    write_bytes(in("existing.json"), "{}");
    return in("existing.json").string();
  }

  // A card for the subcommand's model with other label names.
  std::string relabelled_card(const std::string& sub) {
    json card = read_json(fs::path(model_for(sub)).replace_extension(".json"));
    for (auto& label : card["labels"]) label = "r-" + label.get<std::string>();
    write_bytes(in("card.json"), card.dump());
    return in("card.json").string();
  }

  std::map<std::string, Row> rows(const std::string& sub) {
    const bool binary = sub == "eval";
    const Args lime = {"--method", "lime", "--samples", "30"};
    const Args rise = {"--method", "rise", "--rise-masks", "30"};
    const Args occlusion = {"--method", "occlusion", "--window", "24"};
    const Args fidelity = {"--fidelity", "--method", "lime", "--samples", "auto", "--max-samples", "60", "--segments", "6",
                           "--reference-samples", "80", "--fixed-samples", "30", image_.string()};
    // slide's gate and --top-fraction score the run against annotations (two classes, so that choosing
    // one changes the truth).
    const Args annotated = {"--annotations", in("two-classes.geojson").string()};
    const bool slide = sub == "slide";
    // Figures are written by explain, by batch with --figures, by slide for its top tiles.
    const Args figure_needs = sub == "batch" ? Args{"--figures"} : slide ? Args{"--top-tiles", "1"} : Args{};
    std::map<std::string, Row> table = {
        {"--annotations", {annotated, {}}},
        {"--annotation-classes", {{"--annotation-classes", "Stroma"}, annotated}},
        {"--annotation-cover", {{"--annotation-cover", "0.9"}, annotated}},
        {"--at-fpr", {{"--at-fpr", "0.5"}, annotated}},
        {"--contours", {{"--contours", "0.5"}, {}}},
        {"--figure-format", {{"--figure-format", "svg"}, figure_needs}},
        {"--dpi", {{"--dpi", "150"}, figure_needs}},
        {"--stain-normalize", {{"--stain-normalize", "macenko"}, {"--stain-reference", stain_reference("malignant-1.png")}}},
        {"--stain-reference", {{"--stain-reference", stain_reference("benign-2.png")},
                               {"--stain-normalize", "macenko", "--stain-reference", stain_reference("malignant-1.png")}}},
        // diff takes exactly two models (with the same labels): the row replaces both.
        {"--model", {sub == "diff" ? Args{"-m", model("tiny-scripted.pt"), "-m", model("tiny-scripted.pt")}
                                   : Args{"-m", model("tiny-binary-traced.pt")},
                     {}}},
        {"--card", {{"--card", relabelled_card(sub)}, {}}},
        {"--device", {{"--device", "cuda"}, {}}},
        {"--input-size", {{"--input-size", "48"}, {}}},
        {"--channels", {{"--channels", "gray"}, {}}},
        {"--mean", {{"--mean", binary ? "0.3,0.3,0.3" : "0.3,0.3,0.3"}, {}}},
        {"--std", {{"--std", "0.4,0.4,0.4"}, {}}},
        {"--output-kind", {{"--output-kind", "sigmoid"}, {}}},
        // The test models return one tensor: choosing an element of it is refused (tests/model/test_model_file.cpp
        // chooses among a tuple's and a dictionary's).
        {"--output-element", {{"--output-element", "1"}, {}}},
        {"--resize", {{"--resize", "shorter-side"}, {}}},
        // With a resize: eval's examples are already the demo model's input size.
        {"--interpolation", {{"--interpolation", "bicubic"}, {"--resize", "shorter-side"}}},
        {"--labels", {{"--labels", binary ? "x,y" : "x,y,z"}, {}}},
        {"--no-inference-clone", {{"--no-inference-clone"}, lime}},
        {"--precision", {{"--precision", "fp16"}, lime}},
        {"--staged-capture", {{"--staged-capture"}, {}}},
        {"--method", {{"--method", "xgradcam"}, {}}},
        {"--layers", {{"--layers", sub == "compare" ? "stages" : "auto-all"}, {}}},
        {"--target-class", {{"-t", "benign"}, {}}},
        {"--panel", {{"--panel"}, {}}},
        {"--colormap", {{"--colormap", "turbo"}, {}}},
        {"--background", {{"--background", "gray"}, {}}},
        {"--figure-size", {{"--figure-size", "0"}, {}}},
        {"--no-figure", {{"--no-figure"}, {}}},
        {"--figures", {{"--figures"}, {}}},
        {"--max-pixels", {{"--max-pixels", "100"}, {}}},
        // A 1200x900 JPEG needs 16 MiB decoded: within 1 MiB it is decoded at 1/4 scale.
        {"--max-image-memory", {{"--max-image-memory", "1"}, {big_jpeg_.string()}}},
        {"--apply-exif-orientation", {{"--apply-exif-orientation"}, {turned_jpeg_.string()}}},
        // A PNG input: the DICOM flags are applied to DICOM files only, and say so for the others.
        {"--dicom-window", {{"--dicom-window", "lung"}, {}}},
        {"--frame", {{"--frame", "2"}, {}}},
        {"--frames", {{"--frames", "all"}, {}}},
        {"--map-size", {{"--map-size", "40"}, {}}},
        {"--faithfulness", {{"--faithfulness"}, {}}},
        {"--faithfulness-steps", {{"--faithfulness-steps", "4"}, {"--faithfulness", "--faithfulness-steps", "6"}}},
        {"--faithfulness-fill", {{"--faithfulness-fill", "blur"}, {"--faithfulness", "--faithfulness-steps", "4"}}},
        {"--fidelity", {{"--fidelity"}, Args(fidelity.begin() + 1, fidelity.end())}},
        {"--reference-samples", {{"--reference-samples", "50"}, fidelity}},
        {"--fixed-samples", {{"--fixed-samples", "40"}, fidelity}},
        {"--curve", {{"--curve"}, fidelity}},
        {"--plot", {{"--plot", (root_ / "elsewhere" / "plot.png").string()}, fidelity}},
        {"--save-overlays", {{"--save-overlays", (root_ / "elsewhere" / "overlays").string()}, {}}},
        {"--regions", {{"--regions", in("regions.png").string()}, lime}},
        {"--output-dir", {{"-o", (root_ / "elsewhere").string()}, {}}},
        {"--json", {sub == "bench" || sub == "layers" ? Args{"--json"} : Args{"--json", "-"}, {}}},
        {"--batch-size", {{"--batch-size", "2"}, {}}},
        {"--lime-batch-size", {{"--lime-batch-size", "2"}, {}}},
        {"--include", {{"--include", "a*"}, {}}},
        {"--exclude", {{"--exclude", "a*"}, {}}},
        {"--shard", {{"--shard", "0/2"}, {}}},
        {"--workers", {{"--workers", "1"}, {}}},
        {"--fail-fast", {{"--fail-fast"}, {}}},
        {"--label", {{"--label", "malignant"}, {}}},
        {"--labels-csv", {{"--labels-csv", in("truth.csv").string()}, {}}},
        {"--masks", {{"--masks", in("masks").string()}, {}}},
        {"--positive-class", {{"--positive-class", "benign"}, {}}},
        {"--top-fraction", {{"--top-fraction", "0.5"}, slide ? annotated : Args{}}},
        {"--fail-if", {{"--fail-if", gate_metric(sub) + ">=0"}, slide ? annotated : Args{}}},
        {"--junit", {{"--junit", (root_ / "elsewhere" / "gate.xml").string()},
                     slide ? Args{"--annotations", annotated[1], "--fail-if", "tile_auc<-5"}
                           : Args{"--fail-if", gate_metric(sub) + "<-5"}}},
        {"--max-similarity", {{"--max-similarity", "-0.5"}, {}}},
        {"--flag-after", {{"--flag-after", "1"}, {}}},
        {"--randomise-seed", {{"--randomise-seed", "3"}, {}}},
        {"--no-grids", {{"--no-grids"}, {}}},
        {"--output", {{"-o", (root_ / "elsewhere" / "card.json").string()}, {}}},
        {"--name", {{"--name", "mine"}, {}}},
        // card: replacing a card that exists (the base writes a new one).
        {"--force", {{"-o", existing_card(), "--force"}, {}}},
        {"--warmup", {{"--warmup", "1"}, {}}},
        {"--runs", {{"--runs", "3"}, {}}},
        {"--pipeline", {{"--pipeline", "3"}, {}}},
        {"--rounds", {{"--rounds", "2"}, {}}},
        {"--no-full-backward", {{"--no-full-backward"}, {}}},
        // slide (and bench --slide): the small test slide made in SetUp.
        {"--slide", {{"--slide", slide_.string()}, {"-t", "1"}}},
        {"--level", {{"--level", "1"}, {}}},
        {"--mpp", {{"--mpp", "1"}, {}}},
        {"--tile", {{"--tile", "48"}, {}}},
        {"--tile-stride", {{"--tile-stride", "32"}, {}}},
        {"--min-tissue", {{"--min-tissue", "0.95"}, {}}},
        {"--tissue-threshold", {{"--tissue-threshold", "5"}, {}}},
        {"--tissue-mask", {{"--tissue-mask", in("slide-mask.png").string()}, {}}},
        {"--top-tiles", {{"--top-tiles", "1"}, {}}},
        {"--thumbnail-size", {{"--thumbnail-size", "200"}, {}}},
        {"--no-viewer", {{"--no-viewer"}, {}}},
    };
    // The methods' settings: rows from their declarations (xai/method_settings.hpp), unless a row above
    // gives a value that depends on this test's files (a label, a region map, compare's stages).
    for (const xai::SettingDeclaration& setting : xai::method_settings()) {
      const std::string flag = setting.long_flag();
      Args args = {flag};
      args.insert(args.end(), setting.example.begin(), setting.example.end());
      table.emplace(flag, Row{args, needs_of(setting)});
    }
    return table;
  }

  // What a setting's row needs: the first method that reads it (named unless it is the default), that method's counts at cheap values
  // (kCheap), and whatever the declaration says the setting applies beside.
  static Args needs_of(const xai::SettingDeclaration& setting) {
    const xai::ExplanationMethod* reader = nullptr;
    for (const auto& method : xai::explanation_methods())
      if (!reader && method->reads(setting.group)) reader = method.get();
    if (!reader) return {};
    std::vector<std::pair<std::string, std::string>> given;  // flag, value (empty: a switch)
    auto give = [&](const std::string& flag, const std::string& value) {
      for (auto& [f, v] : given)
        if (f == flag) {
          v = value;
          return;
        }
      given.emplace_back(flag, value);
    };
    for (const xai::SettingDeclaration& other : xai::method_settings()) {
      const std::string flag = other.long_flag();
      if (reader->reads(other.group) && kCheap.count(flag)) give(flag, kCheap.at(flag));
    }
    for (size_t i = 0; i + 1 < setting.example_needs.size(); i += 2) give(setting.example_needs[i], setting.example_needs[i + 1]);
    // The default method needs no --method (card has a --layer of its own, and no --method).
    Args needs;
    if (xai::ExplainOptions{}.methods != std::vector<std::string>{reader->name()}) needs = {"--method", reader->name()};
    for (const auto& [flag, value] : given) {
      needs.push_back(flag);
      if (!value.empty()) needs.push_back(value);
    }
    return needs;
  }

  static std::string gate_metric(const std::string& sub) {
    return sub == "sanity" ? "flagged" : sub == "diff" ? "drift_max" : sub == "slide" ? "tile_auc" : "accuracy";
  }

  // The command without the option under test, as (option, values) pairs so a row can replace one.
  std::vector<Args> base(const std::string& sub) {
    const std::string out = out_dir().string();
    if (sub == "explain") return {{"-m", model_for(sub)}, {image_.string()}, {"-o", out}};
    if (sub == "batch") return {{"-m", model_for(sub)}, {in("batch").string()}, {"-o", out}};
    if (sub == "compare") return {{"-m", model_for(sub), "-m", model("tiny-traced.pt")}, {image_.string()}, {"-o", out}};
    if (sub == "eval") return {{"-m", model_for(sub)}, {in("eval").string()}};
    if (sub == "sanity") return {{"-m", model_for(sub)}, {image_.string()}, {"-o", out}};
    if (sub == "diff") return {{"-m", model_for(sub), "-m", model("tiny-traced.pt")}, {image_.string()}, {"-o", out}};
    if (sub == "bench") return {{"-m", model_for(sub)}, {"--runs", "2"}, {"--warmup", "0"}};
    if (sub == "layers") return {{model_for(sub)}};
    if (sub == "card") return {{model_for(sub)}, {"-o", (out_dir() / "card.json").string()}};
    if (sub == "merge") return {{merge_source_.string()}, {"-o", out}};
    // The tiny model has three classes: the stitched maps' class is given (by index: --labels renames them).
    if (sub == "slide") return {{"-m", model_for(sub)}, {slide_.string()}, {"-o", out}, {"-t", "1"}};
    return {};
  }

  RunResult run(const std::string& sub, const Args& extra, Args needs) {
    // A row may change a value its needs set (e.g. --samples 25 where the needs say --samples 30, so
    // that the baseline stays small): the row's value replaces the needed one.
    for (size_t i = 0; !extra.empty() && i + 1 < needs.size(); ++i)
      if (needs[i] == extra.front()) needs.erase(needs.begin() + i, needs.begin() + i + 2);
    fs::remove_all(out_dir());
    fs::remove_all(root_ / "elsewhere");
    fs::remove_all(in("xai-out"));
    Args args = {sub};
    const std::string replaced = extra.empty() ? "" : extra.front();
    const bool replaces_model = replaced == "-m" && sub != "compare";  // diff's row names both models
    for (const Args& part : base(sub)) {
      if (!part.empty() && !extra.empty() && part.front() == replaced && (replaced != "-m" || replaces_model)) continue;
      // --pipeline times whole batch runs and --fidelity explains whole images: both refuse the
      // single-run timing flags.
      const bool fidelity = replaced == "--fidelity" || std::find(needs.begin(), needs.end(), "--fidelity") != needs.end();
      if ((replaced == "--pipeline" || replaced == "--slide" || fidelity) && (part.front() == "--runs" || part.front() == "--warmup"))
        continue;
      args.insert(args.end(), part.begin(), part.end());
    }
    args.insert(args.end(), needs.begin(), needs.end());
    args.insert(args.end(), extra.begin(), extra.end());
    return xai(args);
  }

  // Everything a user can see: exit code, stdout and stderr (numbers on lines with times masked),
  // every file written (reports without their timings).
  std::string observable(const RunResult& r) {
    auto without_times = [](const std::string& text) {
      std::string kept;
      std::istringstream lines(text);
      const std::regex number(R"([0-9][0-9.e+-]*)");
      for (std::string line; std::getline(lines, line);) {
        const bool timed = line.find(" ms") != std::string::npos || line.find("_ms") != std::string::npos ||
                           line.find("ratio") != std::string::npos || line.find("per_second") != std::string::npos ||
                           line.find("img/s") != std::string::npos || line.find("images/s") != std::string::npos ||
                           line.find("ETA") != std::string::npos;
        kept += (timed ? std::regex_replace(line, number, "#") : line) + "\n";
      }
      return kept;
    };
    std::string seen = std::to_string(r.code) + "\n" + without_times(r.out) + "\n" + without_times(r.err) + "\n";
    std::vector<fs::path> files;
    for (const fs::path& dir : {out_dir(), root_ / "elsewhere", in("xai-out")}) {
      std::error_code ec;
      if (!fs::exists(dir)) continue;
      for (const auto& e : fs::recursive_directory_iterator(dir, ec))
        if (e.is_regular_file()) files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      std::string bytes = read_bytes(f);
      if (f.extension() == ".json") {
        json j = json::parse(bytes, nullptr, false);
        if (j.is_object()) j.erase("timings_ms");
        bytes = j.dump();
      }
      seen += fs::relative(f, root_).string() + " " + xai::sha256_hex(bytes) + "\n";
    }
    return seen;
  }

  fs::path image_;
  fs::path slide_;  // a small synthetic slide (slide, bench --slide)
  fs::path big_jpeg_, turned_jpeg_;
  fs::path merge_source_;
};

TEST_P(CliOptions, EveryOptionChangesTheOutputOrIsRefused) {
  const std::string sub = GetParam();
  if (sub == "merge") {
    merge_source_ = root_ / "run";
    ASSERT_EQ(xai({"batch", "-m", model("tiny-scripted.pt"), in("batch").string(), "-o", merge_source_.string()}).code, 0);
  }
  const RunResult help = xai({sub, "--help"});
  ASSERT_EQ(help.code, 0) << help;
  const std::vector<std::string> options = options_in_help(help.out);
  ASSERT_FALSE(options.empty()) << help.out;
  auto table = rows(sub);
  const std::set<std::string>& refused = kRefused.at(sub);
  // --help lists what the command applies; what it refuses is not listed, but given, it is refused.
  std::vector<std::string> tried = options;
  const auto conditional = kRefusedUnlessEnabled.count(sub) ? kRefusedUnlessEnabled.at(sub) : std::set<std::string>{};
  for (const auto& name : refused) {
    const bool listed = std::find(options.begin(), options.end(), name) != options.end();
    if (conditional.count(name)) {
      EXPECT_TRUE(listed) << sub << " --help does not list " << name << ", which applies with another flag";
      continue;
    }
    EXPECT_FALSE(listed) << sub << " --help lists refused " << name;
    tried.push_back(name);
  }

  std::map<Args, std::string> baselines;  // by the options a row needs
  std::vector<std::pair<double, std::string>> seconds;  // per row, to show where the matrix's time goes
  for (const auto& name : tried) {
    SCOPED_TRACE(sub + " " + name);
    const auto start = std::chrono::steady_clock::now();
    struct Timer {
      std::chrono::steady_clock::time_point start;
      std::string name;
      std::vector<std::pair<double, std::string>>& out;
      ~Timer() { out.emplace_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), name); }
    } timer{start, name, seconds};
    auto row = table.find(name);
    ASSERT_NE(row, table.end()) << "no test row for " << name << ": add one, so the option is shown to apply";
    // A refused option is given alone, so the refusal is its own and not a needed option's.
    const RunResult with = run(sub, row->second.args, refused.count(name) ? Args{} : row->second.needs);
    if (refused.count(name)) {
      EXPECT_EQ(with.code, 2) << with;
      EXPECT_EQ(count_lines(with.err), 1u) << with;
      EXPECT_NE(with.err.find(name), std::string::npos) << "the reason names the option\n" << with;
      continue;
    }
    const std::string after = observable(with);
    auto baseline = baselines.find(row->second.needs);
    if (baseline == baselines.end())
      baseline = baselines.emplace(row->second.needs, observable(run(sub, {}, row->second.needs))).first;
    EXPECT_NE(with.code, 2) << "refused, but expected to apply\n" << with;
    EXPECT_NE(baseline->second, after) << "no visible effect\n" << with;
  }
  std::sort(seconds.rbegin(), seconds.rend());
  std::cout << sub << ": slowest rows (with their baselines):";
  for (size_t i = 0; i < std::min<size_t>(8, seconds.size()); ++i)
    std::cout << " " << seconds[i].second << " " << fixed_seconds(seconds[i].first);
  std::cout << "\n";
}

INSTANTIATE_TEST_SUITE_P(Subcommands, CliOptions,
                         ::testing::Values("explain", "batch", "compare", "eval", "bench", "layers", "merge", "sanity", "diff", "card",
                                           "slide"),
                         [](const auto& info) { return info.param; });

// The global options, after the subcommand as well as before it.
TEST_F(CliTest, GlobalOptionsApplyBeforeAndAfterTheSubcommand) {
  const fs::path image = write_image("patch.png", test_image(120, 90));
  // The bundled demo model (no -m): its "using the bundled demo model" line is what -q silences.
  const Args explain = {"explain", image.string(), "-o", out_dir().string()};
  auto with = [&](Args extra, bool before) {
    Args args = explain;
    args.insert(before ? args.begin() : args.end(), extra.begin(), extra.end());
    return xai(args);
  };
  for (bool before : {true, false}) {
    const RunResult one = with({"--threads", "1"}, before);
    ASSERT_EQ(one.code, 0) << one;
    EXPECT_EQ(read_json(out_dir() / "patch.json").at("model").at("threads"), 1);
    const RunResult verbose = with({"-v"}, before);
    const RunResult quiet = with({"-q"}, before);
    const RunResult plain = with({}, before);
    ASSERT_EQ(verbose.code, 0) << verbose;
    EXPECT_NE(verbose.err, plain.err);
    EXPECT_NE(quiet.out + quiet.err, plain.out + plain.err);
  }
}

}  // namespace
