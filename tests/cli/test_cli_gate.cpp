// `xai eval --fail-if`: a CI gate on measured localisation and faithfulness, with JUnit output.
#include "cli_fixture.hpp"

namespace {

using namespace xai::e2e;
namespace fs = std::filesystem;
using Args = std::vector<std::string>;

std::string examples_dir() { return xai::test::example_patches(); }

// The JUnit file's test cases and failures, counted by Python's XML parser: "cases failures tests failures".
std::string junit_counts(const fs::path& junit) {
  const std::string check =
      XAI_PYTHON " -c \"import sys, xml.etree.ElementTree as ET; t = ET.parse(sys.argv[1]).getroot(); "
      "cases = t.findall('.//testcase'); print(len(cases), len([c for c in cases if c.find('failure') is not None]), "
      "t.get('tests'), t.get('failures'))\" " + junit.string();
  int status = 0;
  const std::string counts = xai::test::run_command(check + " 2>&1", &status);
  EXPECT_EQ(status, 0) << counts;
  return counts;
}

class CliGate : public CliTest {
 protected:
  RunResult eval(Args extra) {
    Args args = {"eval", "-q", "-m", model_dir() + "/demo-histo.pt", examples_dir()};
    args.insert(args.end(), extra.begin(), extra.end());
    return xai(args);
  }
  static std::string model_dir() { return std::string(XAI_SOURCE_DIR) + "/models"; }
};

TEST_F(CliGate, BadExpressionsAreUsageErrors) {
  expect_error(eval({"--fail-if", "pointing=0.5"}), 2, {"pointing=0.5", "comparison"});
  expect_error(eval({"--fail-if", "pointy<0.5"}), 2, {"unknown metric 'pointy'", "pointing"});
  expect_error(eval({"--fail-if", "pointing<high"}), 2, {"'high' is not a finite number"});
  expect_error(eval({"--fail-if", "pointing<nan"}), 2, {"not a finite number"});
  expect_error(eval({"--fail-if", "<0.5"}), 2, {"no metric"});
  expect_error(eval({"--fail-if", "deletion_auc>0.3"}), 2, {"deletion_auc", "--faithfulness"});
  expect_error(eval({"--junit", (root_ / "j.xml").string()}), 2, {"--junit", "--fail-if"});
}

TEST_F(CliGate, HoldingAndFailingConditions) {
  const RunResult pass = eval({"--fail-if", "accuracy<0", "--fail-if", "pointing<0"});
  EXPECT_EQ(pass.code, 0) << pass;
  // Always true: accuracy is at most 1, pointing at least 0 — each failed row is one line.
  const RunResult fail = eval({"--fail-if", "accuracy<=1", "--fail-if", "gradcam.pointing>=0"});
  EXPECT_EQ(fail.code, 9) << fail;
  EXPECT_EQ(count_lines(fail.err), 2u) << fail;
  EXPECT_NE(fail.err.find("xai: gate failed: run: accuracy = "), std::string::npos) << fail;
  EXPECT_NE(fail.err.find("xai: gate failed: gradcam layer3: pointing = "), std::string::npos) << fail;
  // A condition on a method that did not run matches no row: it fails rather than passing unseen.
  const RunResult typo = eval({"--fail-if", "lime.pointing<0.5"});
  EXPECT_EQ(typo.code, 9) << typo;
  EXPECT_NE(typo.err.find("no row has method lime"), std::string::npos) << typo;
}

// The demo's Grad-CAM beats a random pixel order on both curves: the gate on the gains passes, and
// the same gate with an impossible threshold fails.
TEST_F(CliGate, FaithfulnessGate) {
  const RunResult pass = eval({"--faithfulness", "--faithfulness-steps", "8", "--fail-if", "deletion_gain<0",
                               "--fail-if", "insertion_gain<0"});
  EXPECT_EQ(pass.code, 0) << pass;
  const RunResult fail = eval({"--faithfulness", "--faithfulness-steps", "8", "--fail-if", "insertion_auc<1.01"});
  EXPECT_EQ(fail.code, 9) << fail;
  EXPECT_NE(fail.err.find("insertion_auc = "), std::string::npos) << fail;
}

TEST_F(CliGate, JUnitParsesWithTheExpectedCounts) {
  const fs::path junit = root_ / "reports" / "gate.xml";
  fs::create_directories(junit.parent_path());
  const RunResult r = eval({"--method", "gradcam,lime", "--samples", "40", "--fail-if", "accuracy<=1", "--fail-if",
                            "pointing<0", "--junit", junit.string()});
  EXPECT_EQ(r.code, 9) << r;
  // Three cases (run; gradcam layer3; lime superpixels), one failure: accuracy.
  EXPECT_EQ(junit_counts(junit), "3 1 3 1\n");
}

}  // namespace

namespace {

using namespace xai::e2e;
namespace fs = std::filesystem;

// batch --faithfulness: each map's areas in the journal and in summary.csv; the setting is part of the
// resume key, so a rerun without it recomputes rather than keeping results that say something else.
TEST_F(CliTest, BatchRecordsFaithfulnessInJournalAndSummary) {
  fs::create_directories(in("images"));
  for (int i = 0; i < 2; ++i) cv::imwrite((in("images") / ("p" + std::to_string(i) + ".png")).string(), test_image(48, 40, i));
  const std::vector<std::string> base = {"batch", "-q", "-m", model("tiny-scripted.pt"), in("images").string(),
                                         "-o", out_dir().string()};
  std::vector<std::string> with = base;
  with.insert(with.end(), {"--faithfulness", "--faithfulness-steps", "5"});
  const RunResult first = xai(with);
  ASSERT_EQ(first.code, 0) << first;
  std::istringstream journal(read_bytes(out_dir() / "results.jsonl"));
  int lines = 0;
  for (std::string line; std::getline(journal, line); ++lines) {
    const auto record = nlohmann::json::parse(line);
    const auto f = record.at("maps").at(0).at("faithfulness");
    // The journal's numbers are the report's.
    const auto report = nlohmann::json::parse(read_bytes(out_dir() / record.at("files").at("report").get<std::string>()));
    const auto& full = report.at("explanations").at(0).at("faithfulness");
    EXPECT_EQ(f.at("deletion_auc"), full.at("deletion_auc"));
    EXPECT_EQ(f.at("insertion_gain"), full.at("insertion_gain"));
    EXPECT_NEAR(full.at("deletion_gain").get<double>(),
                full.at("random_deletion_auc").get<double>() - full.at("deletion_auc").get<double>(), 1e-12);
    EXPECT_EQ(full.at("deletion").at("probabilities").size(), 6u);
  }
  EXPECT_EQ(lines, 2);
  const std::string csv = read_bytes(out_dir() / "summary.csv");
  EXPECT_NE(csv.find(",deletion_auc,insertion_auc,truth\n"), std::string::npos) << csv;
  EXPECT_EQ(csv.find(",,\n"), std::string::npos) << "every row has both areas\n" << csv;
  const RunResult again = xai(base);
  ASSERT_EQ(again.code, 0) << again;
  const RunResult count = xai({"batch", "-m", model("tiny-scripted.pt"), in("images").string(), "-o", out_dir().string()});
  EXPECT_NE(count.err.find("0 explained, 2 already done"), std::string::npos) << count;
  EXPECT_NE(read_bytes(out_dir() / "summary.csv").find(",,\n"), std::string::npos) << "without --faithfulness: empty";
}

}  // namespace

namespace {

using namespace xai::e2e;
namespace fs = std::filesystem;


// `xai sanity --fail-if flagged>0`: the edge control fails the gate, Grad-CAM alone passes it.
TEST_F(CliTest, SanityGateFlagsTheEdgeControl) {
  const std::string demo = std::string(XAI_SOURCE_DIR) + "/models/demo-histo.pt";
  const std::string examples = xai::test::example_patches();
  const fs::path junit = root_ / "sanity.xml";
  const RunResult flagged = xai({"sanity", "-q", "-m", demo, "--method", "gradcam,edges", examples, "-o",
                                 out_dir().string(), "--fail-if", "flagged>0", "--junit", junit.string()});
  EXPECT_EQ(flagged.code, 9) << flagged;
  EXPECT_EQ(count_lines(flagged.err), 1u) << flagged;
  EXPECT_NE(flagged.err.find("xai: gate failed: edges: flagged = 1"), std::string::npos) << flagged;
  EXPECT_NE(flagged.out.find("FLAGGED"), std::string::npos) << flagged;
  EXPECT_EQ(junit_counts(junit), "2 1 2 1\n");
  EXPECT_TRUE(fs::is_regular_file(out_dir() / "malignant-1.sanity.png"));

  const RunResult passed = xai({"sanity", "-q", "-m", demo, "--method", "gradcam", "--no-grids", examples, "-o",
                                (root_ / "out2").string(), "--fail-if", "flagged>0", "--fail-if", "spearman>0.5"});
  EXPECT_EQ(passed.code, 0) << passed;
  EXPECT_FALSE(fs::exists(root_ / "out2" / "malignant-1.sanity.png"));
  fs::remove_all(out_dir());  // the refusals below must leave it empty
  expect_error(xai({"sanity", "-m", demo, examples, "-o", out_dir().string(), "--fail-if", "pointing<0.5"}), 2,
               {"unknown metric 'pointing'", "flagged"});
  expect_error(xai({"sanity", "-m", demo, examples, "-o", out_dir().string(), "-k", "2"}), 2, {"--top-k"});
}

// `xai diff`: a model against itself passes a zero-drift gate; against its retrain the per-image
// condition gives one JUnit case per image.
TEST_F(CliTest, DiffGateWithRunMethodAndImageRows) {
  const std::string models = std::string(XAI_SOURCE_DIR) + "/models/";
  const std::string examples = xai::test::example_patches();
  const RunResult same = xai({"diff", "-q", "-m", models + "demo-histo.pt", "-m", models + "demo-histo.pt", examples,
                              "-o", out_dir().string(), "--fail-if", "drift_max>0", "--fail-if", "prediction_changes>0"});
  EXPECT_EQ(same.code, 0) << same;
  const fs::path junit = root_ / "diff.xml";
  const RunResult retrained =
      xai({"diff", "-q", "-m", models + "demo-histo.pt", "-m", models + "demo-histo-v2.pt", examples, "-o",
           (root_ / "drift").string(), "--fail-if", "drift>=0", "--fail-if", "drift_p90<0", "--junit", junit.string()});
  EXPECT_EQ(retrained.code, 9) << retrained;
  // drift >= 0 holds for each of the 6 images (6 failed cases); drift_p90 < 0 for none (1 passed case).
  EXPECT_EQ(junit_counts(junit), "7 6 7 6\n");
  EXPECT_EQ(count_lines(retrained.err), 6u) << retrained;
  EXPECT_TRUE(fs::is_regular_file(root_ / "drift" / "index.html"));
  fs::remove_all(out_dir());  // the refusals below must leave it empty
  expect_error(xai({"diff", "-m", models + "demo-histo.pt", examples, "-o", out_dir().string()}), 2,
               {"--model", "exactly two"});
  expect_error(xai({"diff", "-m", models + "demo-histo.pt", "-m", models + "demo-histo-v2.pt", examples, "-o",
                    out_dir().string(), "--layers", "auto-all"}),
               2, {"--layers"});
}

}  // namespace
