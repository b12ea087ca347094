// Model comparison and layer-by-layer maps on the committed tiny models.
#include <gtest/gtest.h>

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
