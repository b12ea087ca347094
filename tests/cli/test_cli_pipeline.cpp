// End-to-end regressions of "one pipeline": every front end goes through the method registry, no
// option is silently ignored, and outputs are never inputs. Each test names the problem it guards.
#include <set>

#include "cli_fixture.hpp"

namespace {

using namespace xai::e2e;
namespace fs = std::filesystem;
using nlohmann::json;

std::string examples_dir() { return xai::test::example_patches(); }
const std::string kDemo = std::string(XAI_SOURCE_DIR) + "/models/demo-histo.pt";

class CliPipeline : public CliTest {
 protected:
  // The bundled example patches (and masks) copied into IN/NAME.
  fs::path copy_examples(const std::string& name = "patches") {
    const fs::path dir = in(name);
    fs::create_directories(dir);
    for (const auto& entry : fs::directory_iterator(examples_dir())) fs::copy_file(entry.path(), dir / entry.path().filename());
    return dir;
  }
  std::vector<json> journal(const fs::path& out) {
    std::vector<json> records;
    std::istringstream lines(read_bytes(out / "results.jsonl"));
    for (std::string line; std::getline(lines, line);)
      if (!line.empty()) records.push_back(json::parse(line));
    return records;
  }
};

// 1. compare used to ignore -l/--layers/-k, report `target: null` for -t, and score maps of
// different classes without a word.
TEST_F(CliPipeline, CompareHonoursLayerAndTarget) {
  const fs::path image = write_image("patch.png", test_image(120, 90));
  const RunResult r = xai({"compare", "-m", model("tiny-scripted.pt"), "-m", model("tiny-traced.pt"), "-l", "layer1",
                           "-t", "other", image.string(), "-o", out_dir().string()});
  ASSERT_EQ(r.code, 0) << r;
  const json report = read_json(out_dir() / "patch.compare.json");
  EXPECT_EQ(report.at("target").at("kind"), "class");
  for (const auto& m : report.at("models")) {
    EXPECT_EQ(m.at("layers"), json::array({"layer1"})) << m.dump();
    EXPECT_EQ(m.at("explanations")[0].at("layer"), "layer1");
    EXPECT_EQ(m.at("explanations")[0].at("target").at("label"), "other");
  }
  for (const auto& a : report.at("agreement")) {
    EXPECT_EQ(a.at("layer"), "layer1");
    EXPECT_TRUE(a.at("same_class").get<bool>());
  }
  EXPECT_TRUE(report.at("warnings").empty());
}

TEST_F(CliPipeline, CompareRefusesWhatItCannotApply) {
  const fs::path image = write_image("patch.png", test_image(120, 90));
  const std::vector<std::string> two = {"compare", "-m", model("tiny-scripted.pt"), "-m", model("tiny-traced.pt"),
                                        image.string(), "-o", out_dir().string()};
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{"-k", "2"}, {"--layers", "auto-all"}, {"--method", "lime", "--all-classes"}}) {
    std::vector<std::string> args = two;
    args.insert(args.end(), extra.begin(), extra.end());
    expect_error(xai(args), 2, {extra.front() == "--method" ? "--all-classes" : extra.front()});
  }
}

// Models with different stages, compared at matching depths (--layers stages), over a folder: each
// model explains its own stage k (captioned with its layer name), and the folder gets one agreement
// table (CSV, JSON summary, figure) with a row per depth.
TEST_F(CliPipeline, CompareMatchesStagesAndSummarisesAFolder) {
  const fs::path dir = copy_examples();
  const RunResult r = xai({"compare", "-m", kDemo, "-m", model("tiny-scripted.pt"), "--layers", "stages", "-t", "1",
                           dir.string(), "-o", out_dir().string(), "--figure-format", "svg"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_NE(r.out.find("agreement over 6 images"), std::string::npos) << r;
  const json one = read_json(out_dir() / "malignant-1.compare.json");
  const auto& a = one.at("models").at(0).at("layers");
  const auto& b = one.at("models").at(1).at("layers");
  ASSERT_EQ(a.size(), b.size());
  ASSERT_GE(a.size(), 2u);
  EXPECT_EQ(b.back(), "head");  // the deepest stage of each model is always matched with the other's deepest
  for (size_t k = 0; k < a.size(); ++k) {
    EXPECT_EQ(one.at("agreement").at(k).at("layer"), a.at(k));
    EXPECT_EQ(one.at("agreement").at(k).at("layer_b"), b.at(k));
  }
  const json summary = read_json(out_dir() / "compare.agreement.json");
  EXPECT_EQ(summary.at("images"), 6);
  EXPECT_EQ(summary.at("pairs").size(), a.size());  // one pair, one method, one row per depth
  EXPECT_EQ(summary.at("pairs").at(0).at("spearman").at("n"), 6);
  EXPECT_TRUE(fs::exists(out_dir() / "compare.agreement.csv"));
  const std::string svg = read_bytes(out_dir() / "compare.agreement.svg");
  EXPECT_NE(svg.find("top-20% IoU"), std::string::npos);
  keep_artifact(out_dir() / "compare.agreement.svg");
  keep_artifact(out_dir() / "malignant-1.compare.svg");
  fs::remove_all(out_dir());
  expect_error(xai({"explain", "--model", kDemo, "--layers", "stages", (dir / "malignant-1.png").string(), "-o",
                    out_dir().string()}),
               2, {"--layers stages", "compare"});
}

TEST_F(CliPipeline, CompareWarnsWhenModelsExplainDifferentClasses) {
  // The demo model (malignant, p = 1.000) and the tiny binary model (benign) disagree on this image:
  // their maps answer different questions, which the report and stderr say.
  const fs::path image = copy_examples() / "malignant-1.png";
  const RunResult r = xai({"compare", "-m", kDemo, "-m", model("tiny-binary-scripted.pt"), image.string(), "-o",
                           out_dir().string()});
  ASSERT_EQ(r.code, 0) << r;
  const json report = read_json(out_dir() / "malignant-1.compare.json");
  const std::string a = report.at("models")[0].at("explanations")[0].at("target").at("label");
  const std::string b = report.at("models")[1].at("explanations")[0].at("target").at("label");
  ASSERT_NE(a, b) << "the two models must disagree here for this test to mean anything";
  EXPECT_FALSE(report.at("agreement")[0].at("same_class").get<bool>()) << report.dump(2);
  EXPECT_EQ(report.at("warnings").size(), 1u);  // one pair, one method (gradcam, the default)
  EXPECT_NE(r.err.find("different questions"), std::string::npos) << r;
}

// 2. batch and eval used to explain and score their own outputs (xai-out/, -o inside the input tree).
TEST_F(CliPipeline, EvalAfterExplainSeesOnlyTheInputs) {
  const fs::path dir = copy_examples();
  ASSERT_EQ(xai({"explain", (dir / "malignant-1.png").string(), (dir / "benign-1.png").string()}).code, 0);
  ASSERT_TRUE(fs::exists(dir / "xai-out" / "malignant-1.gradcam.png"));
  // Also an output written beside the inputs (explain -o DIR): named like an output, not an input.
  ASSERT_EQ(xai({"explain", (dir / "benign-2.png").string(), "-o", dir.string()}).code, 0);
  const RunResult r = xai({"eval", dir.string(), "--json", "-"});
  ASSERT_EQ(r.code, 0) << r;
  const json report = json::parse(r.out);
  EXPECT_EQ(report.at("images"), 6) << r;
  EXPECT_EQ(report.at("top1_accuracy"), 1.0);
  EXPECT_EQ(report.at("roc_auc_macro"), 1.0);
  EXPECT_EQ(report.at("skipped_outputs"), 6);  // two overlays and their figures in xai-out/, one of each beside the inputs
  EXPECT_EQ(report.at("skipped_masks"), 3);    // the three STEM.mask.png
}

TEST_F(CliPipeline, BatchWithOutputInsideTheInputTreeSkipsItsOutputs) {
  const fs::path dir = copy_examples();
  const fs::path out = dir / "results";
  RunResult r = xai({"batch", dir.string(), "-o", out.string()});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(journal(out).size(), 6u);
  r = xai({"batch", dir.string(), "-o", out.string()});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(journal(out).size(), 6u) << r;
  EXPECT_NE(r.err.find("skipped"), std::string::npos) << r;
  EXPECT_NE(r.err.find("0 explained, 6 already done"), std::string::npos) << r;
}

// 3. batch with several layers used to keep only the first layer in results, summary and gallery.
TEST_F(CliPipeline, BatchRecordsEveryLayer) {
  const fs::path image = write_image("patch.png", test_image(120, 90));
  const RunResult r = xai({"batch", "-m", model("tiny-scripted.pt"), image.string(), "-l", "layer1", "-l", "layer2",
                           "-o", out_dir().string()});
  ASSERT_EQ(r.code, 0) << r;
  const auto records = journal(out_dir());
  ASSERT_EQ(records.size(), 1u);
  ASSERT_EQ(records[0].at("maps").size(), 2u);
  EXPECT_EQ(records[0]["maps"][0].at("layer"), "layer1");
  EXPECT_EQ(records[0]["maps"][1].at("layer"), "layer2");
  for (const auto& m : records[0]["maps"]) EXPECT_TRUE(fs::exists(out_dir() / m.at("files").at("overlay").get<std::string>()));
  const std::string csv = read_bytes(out_dir() / "summary.csv");
  EXPECT_EQ(count_lines(csv), 3u) << csv;  // header + one row per layer
  EXPECT_NE(csv.find("layer1"), std::string::npos);
  EXPECT_NE(csv.find("layer2"), std::string::npos);
  const std::string html = read_bytes(out_dir() / "index.html");
  EXPECT_NE(html.find("patch.gradcam.layer-layer1.png"), std::string::npos);
  EXPECT_NE(html.find("patch.gradcam.layer-layer2.png"), std::string::npos);
}

// 4. eval --json - printed the table on stdout before the JSON; undefined means printed as 0.
TEST_F(CliPipeline, EvalJsonOnStdoutIsOneDocumentAndUndefinedIsNull) {
  const fs::path dir = in("benign");
  fs::create_directories(dir);
  for (const char* name : {"benign-1.png", "benign-2.png"}) fs::copy_file(examples_dir() + "/" + name, dir / name);
  const RunResult r = xai({"eval", dir.string(), "--json", "-"});
  ASSERT_EQ(r.code, 0) << r;
  json report;
  ASSERT_NO_THROW(report = json::parse(r.out)) << r;
  ASSERT_EQ(report.at("localisation").size(), 1u);
  EXPECT_EQ(report["localisation"][0].at("count"), 0);
  EXPECT_TRUE(report["localisation"][0].at("pointing_game").is_null());
  EXPECT_TRUE(report["localisation"][0].at("iou_top").is_null());
  EXPECT_TRUE(report.at("roc_auc_macro").is_null());
  EXPECT_TRUE(report.at("positive_vs_rest").at("roc_auc").is_null());
  EXPECT_EQ(report.at("top1_accuracy"), 1.0);  // the folder is named like a class: both are benign
  EXPECT_NE(r.err.find("n/a"), std::string::npos) << r;  // the table, on stderr
}

// 5. The resume key and the report listed different LIME parameters: now one record serves both.
TEST_F(CliPipeline, EveryLimeParameterIsInTheReportAndInTheResumeKey) {
  const fs::path image = write_image("patch.png", test_image(120, 90));
  const std::vector<std::string> base = {"batch", "-m", model("tiny-scripted.pt"), image.string(), "-o",
                                         out_dir().string(), "--method", "lime", "--samples", "40"};
  ASSERT_EQ(xai(base).code, 0);
  const json parameters = read_json(out_dir() / "patch.json").at("explanations")[0].at("parameters");
  for (const char* key : {"samples", "regions", "hide", "kernel_width", "ridge_alpha", "seed", "probe_batch",
                          "target", "repeats"})
    EXPECT_TRUE(parameters.contains(key)) << key << ": " << parameters.dump();
  for (const std::vector<std::string>& change :
       {std::vector<std::string>{"--hide", "blur"}, {"--repeats", "2"}, {"--all-classes"}, {"--kernel-width", "0.5"},
        {"--probe-batch", "7"}}) {
    std::vector<std::string> args = base;
    args.insert(args.end(), change.begin(), change.end());
    const RunResult r = xai(args);
    ASSERT_EQ(r.code, 0) << r;
    EXPECT_NE(r.err.find("1 explained, 0 already done"), std::string::npos) << change.front() << "\n" << r;
  }
  // One result per input and method: the last run's settings superseded the first run's result, so
  // the first command explains again, and only then is its result done.
  const RunResult back = xai(base);
  EXPECT_NE(back.err.find("1 explained, 0 already done"), std::string::npos) << back;
  const RunResult again = xai(base);
  EXPECT_NE(again.err.find("0 explained, 1 already done"), std::string::npos) << again;
}

// 6. Card warnings were printed twice, "assuming 224x224" after --input-size 64, and misspelled keys
// or a missing mean/std went unnoticed.
TEST_F(CliPipeline, CardWarningsAreOnceAndTrue) {
  fs::copy_file(model("tiny-scripted.pt"), in("nocard.pt"));
  const fs::path image = write_image("patch.png", test_image(120, 90));
  const RunResult r = xai({"explain", "-m", in("nocard.pt").string(), "--input-size", "64", image.string(), "-o",
                           out_dir().string()});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.err.find("224x224"), std::string::npos) << r;
  const size_t first = r.err.find("no model card");
  ASSERT_NE(first, std::string::npos) << r;
  EXPECT_EQ(r.err.find("no model card", first + 1), std::string::npos) << "printed twice\n" << r;
  EXPECT_NE(r.err.find("mean/std ImageNet"), std::string::npos) << r;
  EXPECT_EQ(r.err.find("input size"), std::string::npos) << "the size was given\n" << r;

  json card = read_json(model("tiny-scripted.json"));
  card["chanels"] = card["channels"];
  card.erase("channels");
  card.erase("std");
  write_bytes(in("typo.json"), card.dump());
  const RunResult t = xai({"explain", "-m", model("tiny-scripted.pt"), "--card", in("typo.json").string(),
                           image.string(), "-o", out_dir().string()});
  ASSERT_EQ(t.code, 0) << t;
  EXPECT_NE(t.err.find("unknown key \"chanels\" is ignored (did you mean \"channels\"?)"), std::string::npos) << t;
  EXPECT_NE(t.err.find("no mean/std"), std::string::npos) << t;
}

// 7. A batch without a card layer ran a dry forward per batch; a resume recomputed every method.
TEST_F(CliPipeline, BatchResolvesTheLayerOnceAndResumesOnlyPendingMethods) {
  const fs::path dir = in("many");
  fs::create_directories(dir);
  for (int i = 0; i < 12; ++i) cv::imwrite((dir / ("p" + std::to_string(i) + ".png")).string(), test_image(64, 64, i));
  json card = read_json(model("tiny-scripted.json"));
  card.erase("target_layer");
  fs::copy_file(model("tiny-scripted.pt"), in("m.pt"));
  write_bytes(in("m.json"), card.dump());
  RunResult r = xai({"batch", "-m", in("m.pt").string(), dir.string(), "--batch-size", "2", "-o", out_dir().string()});
  ASSERT_EQ(r.code, 0) << r;
  const auto before = fs::last_write_time(out_dir() / "p0.gradcam.png");
  r = xai({"batch", "-m", in("m.pt").string(), dir.string(), "--batch-size", "2", "-o", out_dir().string(), "--method",
           "gradcam,lime", "--samples", "20", "-v"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_NE(r.err.find("12 explained, 0 already done"), std::string::npos) << r;
  EXPECT_EQ(fs::last_write_time(out_dir() / "p0.gradcam.png"), before) << "gradcam was recomputed";
  const json report = read_json(out_dir() / "p0.json");
  EXPECT_EQ(report.at("methods"), json::array({"gradcam", "lime"})) << report.dump();
  std::set<std::string> methods;
  for (const auto& e : report.at("explanations")) methods.insert(e.at("method"));
  EXPECT_EQ(methods, (std::set<std::string>{"gradcam", "lime"}));
  EXPECT_EQ(journal(out_dir()).size(), 24u);
}

// 8. explain stopped at the first bad image (tested in CliBadInput), -q only worked before the
// subcommand, --help named two methods.
TEST_F(CliPipeline, QuietAfterTheSubcommandAndHelpListsEveryMethod) {
  const fs::path image = write_image("patch.png", test_image(120, 90));
  const RunResult loud = xai({"explain", image.string(), "-o", out_dir().string()});
  ASSERT_EQ(loud.code, 0) << loud;
  EXPECT_NE(loud.err.find("bundled demo model"), std::string::npos) << loud;
  const RunResult quiet = xai({"explain", image.string(), "-o", out_dir().string(), "-q"});
  ASSERT_EQ(quiet.code, 0) << quiet;
  EXPECT_TRUE(quiet.err.empty()) << quiet;
  const RunResult help = xai({"explain", "--help"});
  for (const char* method : {"gradcam", "gradcam++", "xgradcam", "hirescam", "layercam", "eigencam", "scorecam",
                             "ablationcam", "lime", "kernelshap", "partitionshap", "occlusion", "rise", "intgrad",
                             "smoothgrad", "edges"})
    EXPECT_NE(help.out.find(" " + std::string(method) + (std::string(method) == "edges" ? "\n" : ",")),
              std::string::npos)
        << method << "\n" << help.out;
}

// A method setting that none of the chosen methods reads is refused, not ignored.
TEST_F(CliPipeline, SettingsOfOtherMethodsAreRefused) {
  const fs::path image = write_image("patch.png", test_image(120, 90));
  expect_error(explain(model("tiny-scripted.pt"), image, {"--samples", "50"}), 2, {"--samples", "lime"});
  expect_error(explain(model("tiny-scripted.pt"), image, {"--method", "lime", "-l", "layer1"}), 2, {"--layer"});
  expect_error(explain(model("tiny-scripted.pt"), image, {"--method", "lime", "--colormap", "turbo"}), 2,
               {"--colormap"});
  expect_error(explain(model("tiny-scripted.pt"), image, {"--probe-batch", "4"}), 2, {"--probe-batch", "scorecam"});
  expect_error(explain(model("tiny-scripted.pt"), image,
                       {"--method", "lime", "--regions", image.string(), "--segments", "10"}),
               2, {"--segments", "--regions"});
}

// xai eval end to end: the demo on its bundled examples, and LIME through the same registry.
TEST_F(CliPipeline, EvalOnTheBundledExamples) {
  const fs::path dir = copy_examples();
  RunResult r = xai({"eval", dir.string(), "-l", "layer2", "-l", "layer3"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_NE(r.out.find("images 6, positives 3 (malignant), top-1 accuracy 1.000 (2 classes)"), std::string::npos) << r;
  EXPECT_NE(r.out.find("malignant vs rest: accuracy 1.000, ROC AUC 1.000"), std::string::npos) << r;
  // The settings are a readable line, not a JSON dump inside the table (issue 29, item 10).
  EXPECT_NE(r.out.find("settings of gradcam: layers [\"layer2\",\"layer3\"]"), std::string::npos) << r;
  EXPECT_EQ(r.out.find("parameters gradcam {"), std::string::npos) << r;
  EXPECT_NE(r.out.find("layer2"), std::string::npos);
  EXPECT_NE(r.out.find("layer3"), std::string::npos);
  r = xai({"eval", dir.string(), "--method", "gradcam,lime", "--samples", "100", "--json", in("eval.json").string()});
  ASSERT_EQ(r.code, 0) << r;
  const json report = read_json(in("eval.json"));
  ASSERT_EQ(report.at("localisation").size(), 2u);
  EXPECT_EQ(report["localisation"][1].at("method"), "lime");
  EXPECT_EQ(report["localisation"][1].at("layer"), "superpixels");
  EXPECT_EQ(report["localisation"][1].at("count"), 3);
  for (const auto& row : report.at("localisation")) {
    const double pointing = row.at("pointing_game");
    EXPECT_GE(pointing, 0.0);
    EXPECT_LE(pointing, 1.0);
  }
  expect_error(xai({"eval", dir.string(), "-t", "benign"}), 2, {"--target-class", "--positive-class"});
  expect_error(xai({"eval", dir.string(), "--colormap", "turbo"}), 2, {"--colormap"});
}

// Issue 29, item 2: a masks/ folder beside the images was explained as 3 more images (summary.csv had
// 18 extra rows on a real data set). Masks (STEM.mask.png, masks/ folders, eval's --masks) are skipped
// and counted by every command that walks folders.
TEST_F(CliPipeline, MasksAreNeverExplainedAsImages) {
  const fs::path dir = copy_examples();
  fs::create_directories(dir / "masks");
  for (int i = 1; i <= 3; ++i) {
    const std::string stem = "malignant-" + std::to_string(i);
    fs::copy_file(dir / (stem + ".mask.png"), dir / "masks" / (stem + ".png"));
  }
  // batch: 6 images; 3 STEM.mask.png + 3 in masks/ skipped.
  RunResult r = xai({"batch", "-m", model("tiny-binary-scripted.pt"), dir.string(), "-o", out_dir().string()});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(journal(out_dir()).size(), 6u);
  EXPECT_EQ(read_json(out_dir() / "run.json")["counts"]["skipped_masks"], 6);
  EXPECT_NE(r.err.find("skipped 6 ground-truth mask(s)"), std::string::npos) << r;
  EXPECT_EQ(count_lines(read_bytes(out_dir() / "summary.csv")), 7u);  // header + 6 images
  // diff: the same 6 images.
  r = xai({"diff", "-m", model("tiny-binary-scripted.pt"), "-m", model("tiny-binary-traced.pt"), dir.string(), "-o",
           in("diff").string()});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(read_json(in("diff") / "diff.json").at("images"), 6) << r;
  EXPECT_EQ(read_json(in("diff") / "diff.json").at("skipped_masks"), 6) << r;
  // eval with --masks naming another folder inside the inputs: that folder is ground truth, not images.
  fs::create_directories(dir / "truth");
  for (int i = 1; i <= 3; ++i)
    fs::copy_file(dir / ("malignant-" + std::to_string(i) + ".mask.png"), dir / "truth" / ("malignant-" + std::to_string(i) + ".png"));
  r = xai({"eval", dir.string(), "--masks", (dir / "truth").string(), "--json", "-"});
  ASSERT_EQ(r.code, 0) << r;
  const json report = json::parse(r.out);
  EXPECT_EQ(report.at("images"), 6) << r;
  EXPECT_EQ(report.at("skipped_masks"), 9);
}

// Issue 29, item 7: after README's quick start (which wrote examples/patches/xai-out/) the fixtures failed
// to copy the examples folder, and 16 tests failed. Tests now take the committed examples only.
TEST_F(CliPipeline, WhatAUserWroteIntoTheExamplesNeverReachesTheTests) {
  const fs::path source = in("checkout-examples");
  fs::create_directories(source / "xai-out");
  for (const char* name : {"benign-1.png", "malignant-1.png", "malignant-1.mask.png"})
    fs::copy_file(examples_dir() + "/" + name, source / name);
  write_bytes(source / "xai-out" / "malignant-1.gradcam.png", "an output");
  write_bytes(source / "malignant-1.gradcam.png", "an output beside the inputs");
  write_bytes(source / "notes.txt", "a user's notes");
  const fs::path copy = xai::test::pristine_copy(source, in("pristine"));
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(copy)) names.insert(entry.path().filename().string());
  EXPECT_EQ(names, (std::set<std::string>{"benign-1.png", "malignant-1.png", "malignant-1.mask.png"}));
  // README's quick start writes beside the working directory, not into the examples.
  const RunResult r = xai({"explain", "--method", "gradcam", (copy / "malignant-1.png").string(), "-o", in("quick").string()});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_NE(r.out.find("malignant-1.png: malignant, probability "), std::string::npos) << r;
  EXPECT_EQ(r.out.find("malignant (1)"), std::string::npos) << r;
  EXPECT_FALSE(fs::exists(copy / "xai-out"));
}

}  // namespace
