// The sanity check on the demo model: Grad-CAM's maps follow the weights, a model-independent edge
// map does not (Adebayo et al. 2018's finding for edge detectors), and the model is never modified.
#include "pipelines/sanity.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <opencv2/imgcodecs.hpp>

#include "test_helpers.hpp"
#include "xai/error.hpp"

namespace xai {
namespace {

namespace fs = std::filesystem;

TEST(Sanity, EdgeControlIsFlaggedAndGradCamIsNot) {
  Model model = Model::load(test::model_path("demo-histo.pt"));
  const std::string examples = xai::test::example_patches();
  const InputBlob probe = test::random_blob(3, 96, 96, 4);
  const std::vector<float> before = model.predict({probe}).front().probabilities;
  test::TempDir dir;
  SanityOptions options;
  options.explain.methods = {"gradcam", "edges"};
  options.output_dir = dir.file("out");
  const SanityResult result = check_sanity(model, {examples}, options);

  EXPECT_EQ(result.images, 6);
  ASSERT_EQ(result.cascade.size(), 5u);
  EXPECT_EQ(result.flag_step, 1);
  ASSERT_EQ(result.rows.size(), 2u);
  const SanityRow& gradcam = result.rows[0];
  const SanityRow& edges = result.rows[1];
  EXPECT_EQ(gradcam.method, "gradcam");
  EXPECT_EQ(gradcam.layer, "layer3");
  EXPECT_EQ(edges.method, "edges");
  std::cout << "Grad-CAM layer3, Spearman rho per step:";
  for (size_t s = 0; s < gradcam.spearman.size(); ++s)
    std::cout << " " << result.cascade[s].name << " " << gradcam.spearman[s];
  std::cout << "\n";
  // The edge map does not depend on the model: identical at every step (ρ, SSIM and IoU exactly 1).
  for (size_t s = 0; s < result.cascade.size(); ++s) {
    EXPECT_DOUBLE_EQ(edges.spearman[s], 1.0);
    EXPECT_DOUBLE_EQ(edges.ssim[s], 1.0);
    EXPECT_DOUBLE_EQ(edges.iou_top[s], 1.0);
  }
  EXPECT_TRUE(edges.flagged);
  EXPECT_FALSE(gradcam.flagged);
  EXPECT_LT(gradcam.spearman[1], 0.5);
  EXPECT_LT(gradcam.iou_top[1], 0.6);

  // Report, CSV and one grid per image; the model as loaded is untouched.
  EXPECT_EQ(result.report["flagged"], 1);
  EXPECT_EQ(result.report["per_image"].size(), 6u);
  EXPECT_EQ(result.report["cascade"][0]["stage"], "fc");
  EXPECT_EQ(result.grids.size(), 6u);
  const cv::Mat grid = cv::imread(result.grids.front());
  ASSERT_FALSE(grid.empty());
  EXPECT_GT(grid.cols, grid.rows * 2) << "two rows of seven tiles (image, trained, five steps)";
  EXPECT_TRUE(fs::is_regular_file(result.csv_path));
  std::ifstream csv(result.csv_path);
  size_t lines = 0;
  for (std::string line; std::getline(csv, line);) ++lines;
  EXPECT_EQ(lines, 1u + 2 * 5) << "a header, then one line per method and step";
  EXPECT_EQ(model.predict({probe}).front().probabilities, before);
}

TEST(Sanity, OutputsAreNeverInputsAndAnOutputFolderIsRequired) {
  Model model = Model::load(test::model_path("tiny-scripted.pt"));
  test::TempDir dir;
  fs::create_directories(dir.file("in"));
  test::write_random_picture(dir, "in/a.png");
  SanityOptions options;
  options.output_dir = dir.file("in/out");
  options.flag_after = 99;  // more than the cascade has: the last step decides
  const SanityResult first = check_sanity(model, {dir.file("in")}, options);
  EXPECT_EQ(first.flag_step, static_cast<int>(first.cascade.size()) - 1);
  EXPECT_TRUE(fs::is_regular_file(dir.file("in/out/a.sanity.png")));
  const SanityResult second = check_sanity(model, {dir.file("in")}, options);
  EXPECT_EQ(second.images, 1) << "the grid written by the first run is not an input of the second";
  options.output_dir.clear();
  EXPECT_THROW(check_sanity(model, {dir.file("in")}, options), Error);
}

}  // namespace
}  // namespace xai
