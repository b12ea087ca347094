// Model comparison and layer-by-layer maps on the committed tiny models.
#include <gtest/gtest.h>

#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "test_helpers.hpp"
#include "pipelines/compare.hpp"
#include "xai/error.hpp"

namespace xai {
namespace {

std::string write_image(const test::TempDir& dir) {
  cv::Mat image(80, 120, CV_8UC3);
  cv::RNG(3).fill(image, cv::RNG::UNIFORM, 0, 255);
  cv::GaussianBlur(image, image, cv::Size(0, 0), 3);
  const std::string path = dir.file("patch.png");
  cv::imwrite(path, image);
  return path;
}

TEST(Compare, TheSameWeightsAgreeCompletely) {
  // The scripted and traced exports hold the same weights: their maps must agree exactly.
  Model scripted = Model::load(test::model_path("tiny-scripted.pt"));
  Model traced = Model::load(test::model_path("tiny-traced.pt"));
  test::TempDir dir;
  CompareOptions options;
  options.explain.methods = {"gradcam", "lime"};
  options.explain.lime.samples = 100;
  options.explain.output_dir = dir.file("out");
  options.true_label = "malignant";
  const CompareOutcome outcome = compare_models({&scripted, &traced}, write_image(dir), options);
  ASSERT_EQ(outcome.report["agreement"].size(), 2u);  // one pair, two methods
  for (const auto& a : outcome.report["agreement"]) {
    EXPECT_NEAR(a["spearman"].get<double>(), 1.0, 1e-6) << a.dump();
    EXPECT_NEAR(a["iou_top20"].get<double>(), 1.0, 1e-6) << a.dump();
  }
  const cv::Mat grid = cv::imread(outcome.grid_path);
  EXPECT_FALSE(grid.empty());
  EXPECT_GT(grid.rows, grid.cols / 2);  // two rows of three tiles
  EXPECT_EQ(outcome.report["true_label"], "malignant");
}

TEST(Compare, NeedsTwoModels) {
  Model one = Model::load(test::model_path("tiny-scripted.pt"));
  test::TempDir dir;
  EXPECT_THROW(compare_models({&one}, write_image(dir), {}), Error);
}

// Stage k of models with different numbers of stages: the fewest set the count, the others' stages are
// taken at the same fraction of their depth, round((k+1)·n/K) − 1, always ending at the last one.
TEST(Compare, MatchedStagesAlignByRelativeDepth) {
  const std::vector<std::string> resnet = {"layer1", "layer2", "layer3", "layer4"};
  const std::vector<std::string> effnet = {"s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8"};
  const std::vector<std::string> small = {"a", "b"};
  auto chosen = matched_stage_layers({resnet, effnet});
  EXPECT_EQ(chosen[0], resnet);
  EXPECT_EQ(chosen[1], (std::vector<std::string>{"s2", "s4", "s6", "s8"}));
  chosen = matched_stage_layers({resnet, small});
  EXPECT_EQ(chosen[0], (std::vector<std::string>{"layer2", "layer4"}));
  EXPECT_EQ(chosen[1], small);
  chosen = matched_stage_layers({{"x", "y", "z"}, resnet});  // 4·1/3 = 1.33 → 1, 4·2/3 = 2.67 → 3, 4
  EXPECT_EQ(chosen[1], (std::vector<std::string>{"layer1", "layer3", "layer4"}));
}

// Agreement over a folder: every row of the CSV, and each pair's mean and sample standard deviation,
// recomputed here from the per-image reports.
TEST(Compare, AgreementOverImagesSummarisesEachPair) {
  Model scripted = Model::load(test::model_path("tiny-scripted.pt"));
  Model binary = Model::load(test::model_path("tiny-binary-scripted.pt"));
  test::TempDir dir;
  CompareOptions options;
  options.explain.methods = {"gradcam"};
  options.explain.output_dir = dir.file("out");
  options.explain.cam.target = TargetSpec{TargetSpec::Kind::given, 0, 1};
  std::vector<ImageAgreement> images;
  std::vector<double> spearman;
  for (int i = 0; i < 3; ++i) {
    cv::Mat image(80, 120, CV_8UC3);
    cv::RNG(10 + i).fill(image, cv::RNG::UNIFORM, 0, 255);
    cv::GaussianBlur(image, image, cv::Size(0, 0), 2 + i);
    const std::string path = dir.file("img" + std::to_string(i) + ".png");
    cv::imwrite(path, image);
    const CompareOutcome outcome = compare_models({&scripted, &binary}, path, options);
    images.push_back({"img" + std::to_string(i) + ".png", outcome.report["agreement"]});
    spearman.push_back(outcome.report["agreement"][0]["spearman"].get<double>());
  }
  const AgreementSummary summary = summarise_agreement(images, {"broken.png"}, dir.file("out"), options);
  const double mean = (spearman[0] + spearman[1] + spearman[2]) / 3;
  double squares = 0;
  for (double v : spearman) squares += (v - mean) * (v - mean);
  const auto& pair = summary.summary["pairs"].at(0);
  EXPECT_EQ(summary.summary["pairs"].size(), 1u);
  EXPECT_EQ(pair["spearman"]["n"], 3);
  EXPECT_NEAR(pair["spearman"]["mean"].get<double>(), mean, 1e-12);
  EXPECT_NEAR(pair["spearman"]["sd"].get<double>(), std::sqrt(squares / 2), 1e-12);
  EXPECT_EQ(summary.summary["failed"], nlohmann::ordered_json::array({"broken.png"}));
  std::ifstream file(summary.csv_path);
  const std::string csv((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 4) << csv;  // the header and one row per image
  EXPECT_NE(csv.find("img2.png,"), std::string::npos);
  EXPECT_FALSE(cv::imread(summary.figure_path).empty());
}

TEST(Layers, StageLayersAreTheTopLevelContainers) {
  Model model = Model::load(test::model_path("tiny-traced.pt"));
  EXPECT_EQ(model.stage_layers(), (std::vector<std::string>{"stem", "layer1", "layer2", "head"}));
}

TEST(Layers, SeveralLayersGiveAGridAndOneMapEach) {
  Model model = Model::load(test::model_path("tiny-scripted.pt"));
  test::TempDir dir;
  ExplainOptions options;
  options.cam.layers = model.stage_layers();
  options.output_dir = dir.file("out");
  const ExplainOutcome outcome = explain_image(model, plan_explanations(model, options), write_image(dir));
  EXPECT_EQ(outcome.report["explanations"].size(), 4u);
  ASSERT_EQ(outcome.report["layer_grids"].size(), 1u);
  EXPECT_FALSE(cv::imread(dir.file("out/") + outcome.report["layer_grids"][0].get<std::string>()).empty());
  for (const auto& e : outcome.report["explanations"])
    EXPECT_TRUE(std::filesystem::exists(dir.file("out/") + e["files"]["map"].get<std::string>()));
}

}  // namespace
}  // namespace xai
