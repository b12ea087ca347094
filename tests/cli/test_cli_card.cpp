// xai card: a card written after a dry run, read back by every command as the user meant it.
#include "cli_fixture.hpp"

namespace {

using namespace xai::e2e;
namespace fs = std::filesystem;
using nlohmann::json;

using CliCard = CliTest;

size_t error_lines(const std::string& err) {
  size_t count = 0;
  for (size_t at = err.find("xai: error:"); at != std::string::npos; at = err.find("xai: error:", at + 1)) ++count;
  return count;
}

TEST_F(CliCard, WritesACardThatExplainsLikeTheOverridesItRecords) {
  fs::copy_file(model("tiny-scripted.pt"), in("mine.pt"));  // an exported model with no card yet
  fs::copy_file(model("tiny-scripted.pt"), in("bare.pt"));
  // The automatic layer, as `xai layers` marks it.
  const RunResult layers = xai({"layers", in("bare.pt").string(), "--input-size", "64", "--json"});
  ASSERT_EQ(layers.code, 0) << layers;
  const RunResult r = xai({"card", in("mine.pt").string(), "--labels", "benign,malignant,other", "--input-size", "64,64",
                           "--mean", "0.5,0.4,0.3", "--std", "0.2,0.25,0.3", "--resize", "shorter-side", "--interpolation",
                           "bicubic"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_NE(r.out.find("wrote " + in("mine.json").string()), std::string::npos) << r;
  EXPECT_NE(r.out.find("0=benign, 1=malignant, 2=other"), std::string::npos) << r;
  EXPECT_NE(r.out.find("(automatic)"), std::string::npos) << r;
  // Issue 29, item 10: it warned "no model card" while writing the card.
  EXPECT_EQ(r.err.find("no model card"), std::string::npos) << r;
  const json card = read_json(in("mine.json"));
  EXPECT_EQ(card.at("labels"), (json{"benign", "malignant", "other"}));
  EXPECT_EQ(card.at("input_size"), (json{64, 64}));
  EXPECT_EQ(card.at("mean"), (json{0.5, 0.4, 0.3}));
  EXPECT_EQ(card.at("std"), (json{0.2, 0.25, 0.3}));
  EXPECT_EQ(card.at("resize"), "shorter-side:73");
  EXPECT_EQ(card.at("interpolation"), "bicubic");
  EXPECT_EQ(card.at("name"), "mine");
  EXPECT_EQ(card.at("target_layer"), json::parse(layers.out).at("default_layer"));

  // Read back: no warning (nothing assumed, no unknown key), and the same explanation as the overrides give.
  const fs::path image = write_image("patch.png", test_image(120, 90));
  const RunResult carded = xai({"explain", "-m", in("mine.pt").string(), image.string(), "-o", (root_ / "a").string()});
  ASSERT_EQ(carded.code, 0) << carded;
  EXPECT_TRUE(carded.err.empty()) << carded;
  const RunResult flagged = xai({"explain", "-m", in("bare.pt").string(), "--labels", "benign,malignant,other",
                                 "--input-size", "64", "--mean", "0.5,0.4,0.3", "--std", "0.2,0.25,0.3", "--resize",
                                 "shorter-side", "--interpolation", "bicubic", "-l", card.at("target_layer"),
                                 image.string(), "-o", (root_ / "b").string()});
  ASSERT_EQ(flagged.code, 0) << flagged;
  EXPECT_EQ(read_json(root_ / "a" / "patch.json").at("prediction").at("logits"),
            read_json(root_ / "b" / "patch.json").at("prediction").at("logits"));
  EXPECT_EQ(read_bytes(root_ / "a" / "patch.gradcam.npy"), read_bytes(root_ / "b" / "patch.gradcam.npy"));
}

TEST_F(CliCard, LabelsAreCheckedAgainstTheOutputsAndCardsAreNotOverwritten) {
  fs::copy_file(model("tiny-scripted.pt"), in("mine.pt"));
  const RunResult none = xai({"card", in("mine.pt").string(), "--input-size", "64"});
  EXPECT_EQ(none.code, 2) << none;
  EXPECT_EQ(error_lines(none.err), 1u) << none;  // after the warning of what a card-less model assumes
  EXPECT_NE(none.err.find("the model has 3 outputs"), std::string::npos) << none;
  const RunResult two = xai({"card", in("mine.pt").string(), "--input-size", "64", "--labels", "benign,malignant"});
  EXPECT_EQ(two.code, 4) << two;
  EXPECT_EQ(error_lines(two.err), 1u) << two;
  EXPECT_FALSE(fs::exists(in("mine.json")));

  ASSERT_EQ(xai({"card", in("mine.pt").string(), "--input-size", "64", "--labels", "a,b,c"}).code, 0);
  const std::string first = read_bytes(in("mine.json"));
  const RunResult again = xai({"card", in("mine.pt").string(), "--labels", "x,y,z"});
  EXPECT_EQ(again.code, 2) << again;
  EXPECT_NE(again.err.find("--force"), std::string::npos) << again;
  EXPECT_EQ(read_bytes(in("mine.json")), first);
  // --force starts from the card there (its input size) and replaces it.
  const RunResult forced = xai({"card", in("mine.pt").string(), "--labels", "x,y,z", "--force", "-l", "layer1"});
  ASSERT_EQ(forced.code, 0) << forced;
  const json card = read_json(in("mine.json"));
  EXPECT_EQ(card.at("labels"), (json{"x", "y", "z"}));
  EXPECT_EQ(card.at("input_size"), (json{64, 64}));
  EXPECT_EQ(card.at("target_layer"), "layer1");
  const RunResult unknown = xai({"card", in("mine.pt").string(), "--force", "-l", "layer9"});
  EXPECT_EQ(unknown.code, 5) << unknown;
  EXPECT_EQ(count_lines(unknown.err), 1u) << unknown;
}

// A model whose forward() returns (features, logits): --output-element 1 explains the logits, the
// report records the choice, and `xai card` writes it so later runs need no flag. Without it the first
// value (8 features) is explained as 8 classes, with a warning naming the flag.
TEST_F(CliCard, OutputElementChoosesTheScoresAndTheCardKeepsIt) {
  int status = 0;
  const std::string made = xai::test::run_command(XAI_PYTHON " " + std::string(XAI_SOURCE_DIR) +
                                                      "/tests/reference/foreign_model_files.py " + in("foreign").string() +
                                                      " 2>&1",
                                                  &status);
  ASSERT_EQ(status, 0) << made;
  fs::copy_file(in("foreign") / "returns_features_then_logits.pt", in("two.pt"));
  const fs::path image = write_image("patch.png", test_image(120, 90));
  const RunResult first = xai({"explain", "-m", in("two.pt").string(), image.string(), "-o", out_dir().string()});
  ASSERT_EQ(first.code, 0) << first;
  EXPECT_NE(first.err.find("returns 2 values; xai explains the first as the class scores and ignores the others "
                           "(--output-element N chooses another)"),
            std::string::npos) << first;
  EXPECT_EQ(read_json(out_dir() / "patch.json").at("prediction").at("classes").size(), 8u);

  const RunResult card = xai({"card", in("two.pt").string(), "--output-element", "1", "--labels", "benign,malignant"});
  ASSERT_EQ(card.code, 0) << card;
  EXPECT_NE(card.out.find("output softmax (element 1)"), std::string::npos) << card;
  EXPECT_EQ(read_json(in("two.json")).at("output_element"), 1);
  fs::remove_all(out_dir());
  const RunResult chosen = xai({"explain", "-m", in("two.pt").string(), image.string(), "-o", out_dir().string()});
  ASSERT_EQ(chosen.code, 0) << chosen;
  EXPECT_EQ(chosen.err.find("explains the first"), std::string::npos) << chosen;
  const json report = read_json(out_dir() / "patch.json");
  EXPECT_EQ(report.at("model").at("output_element"), "1");
  EXPECT_EQ(report.at("prediction").at("classes").size(), 2u);
  // An element the model does not return: exit 4, naming what it returns.
  fs::remove_all(out_dir());
  expect_error(xai({"explain", "-m", in("two.pt").string(), "--output-element", "2", image.string(), "-o",
                    out_dir().string()}),
               4, {in("two.pt").string(), "--output-element 2 is not one of its indices (0..1)"});
}

}  // namespace
