// Explanation drift between model versions: none between a model and itself, some between the demo
// model and its retrain (models/demo-histo-v2.pt: another weights seed and training set).
#include "pipelines/drift.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <opencv2/imgcodecs.hpp>

#include "test_helpers.hpp"
#include "xai/error.hpp"
#include "xai/prepared_image.hpp"
#include "core/statistics.hpp"

namespace xai {
namespace {

namespace fs = std::filesystem;

std::string examples_dir() { return xai::test::example_patches(); }

TEST(Diff, QuantileInterpolatesBetweenOrderStatistics) {
  // numpy.quantile([4, 1, 3, 2], q) by hand: position q·(n−1) between the sorted values 1 2 3 4.
  EXPECT_DOUBLE_EQ(quantile({4, 1, 3, 2}, 0.9), 3.7);
  EXPECT_DOUBLE_EQ(quantile({4, 1, 3, 2}, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(quantile({4, 1, 3, 2}, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(quantile({4, 1, 3, 2}, 1.0), 4.0);
  EXPECT_DOUBLE_EQ(quantile({0.25}, 0.9), 0.25);
  EXPECT_DOUBLE_EQ(quantile({}, 0.9), 0.0);
}

TEST(Diff, AModelAgainstItselfHasNoDrift) {
  Model a = Model::load(test::model_path("demo-histo.pt"));
  Model b = Model::load(test::model_path("demo-histo.pt"));
  test::TempDir dir;
  DiffOptions options;
  options.explain.methods = {"gradcam", "lime"};
  options.explain.lime.samples = 50;
  options.output_dir = dir.file("out");
  const DiffResult result = diff_models(a, b, {examples_dir()}, options);
  ASSERT_EQ(result.images.size(), 6u);
  EXPECT_EQ(result.prediction_changes, 0);
  for (const auto& image : result.images) {
    EXPECT_EQ(image.drift, 0.0) << image.path;
    EXPECT_EQ(image.old_probability, image.new_probability);
    for (const auto& m : image.maps) EXPECT_EQ(m.iou_top, 1.0);
  }
  for (const auto& row : result.rows) EXPECT_EQ(row.drift_p90, 0.0) << row.method;
}

TEST(Diff, ARetrainedModelDriftsAndTheGalleryShowsTheLargestFirst) {
  Model old_model = Model::load(test::model_path("demo-histo.pt"));
  Model new_model = Model::load(test::model_path("demo-histo-v2.pt"));
  test::TempDir dir;
  DiffOptions options;
  options.output_dir = dir.file("out");
  const DiffResult result = diff_models(old_model, new_model, {examples_dir()}, options);
  ASSERT_EQ(result.images.size(), 6u);
  ASSERT_EQ(result.rows.size(), 1u);
  const DriftRow& row = result.rows.front();
  std::cout << "Grad-CAM drift demo-histo -> demo-histo-v2: mean " << row.drift_mean << ", p50 " << row.drift_p50
            << ", p90 " << row.drift_p90 << ", max " << row.drift_max << ", IoU top-20% " << row.iou_top_mean << "\n";
  EXPECT_GT(row.drift_mean, 0.05);
  EXPECT_GT(row.drift_max, row.drift_p50);
  for (size_t i = 1; i < result.images.size(); ++i) EXPECT_GE(result.images[i - 1].drift, result.images[i].drift);
  // Both models classify the examples right: no prediction changes, the same class explained.
  EXPECT_EQ(result.prediction_changes, 0);

  std::ifstream page(result.gallery_path);
  const std::string html((std::istreambuf_iterator<char>(page)), std::istreambuf_iterator<char>());
  size_t last = 0;
  for (const auto& image : result.images) {
    EXPECT_TRUE(fs::is_regular_file(fs::path(options.output_dir) / image.figure)) << image.figure;
    const size_t at = html.find("src=\"" + image.figure + "\"");
    ASSERT_NE(at, std::string::npos) << image.figure;
    EXPECT_GT(at, last) << "the page lists the images in drift order";
    last = at;
  }
  const cv::Mat figure = cv::imread((fs::path(options.output_dir) / result.images.front().figure).string());
  EXPECT_EQ(figure.cols > 0 && figure.cols > figure.rows, true) << "the image, old and new side by side";
  std::ifstream csv(result.csv_path);
  size_t lines = 0;
  for (std::string line; std::getline(csv, line);) ++lines;
  EXPECT_EQ(lines, 1u + 6);
  EXPECT_EQ(result.report["per_image"].size(), 6u);
  EXPECT_EQ(result.report["new"]["sha256"], new_model.sha256());
}

// Issue 29, items 6 and 10: diff.csv printed p(old class) under "new_probability" beside new_predicted,
// and diff refused --labels-csv. Every probability column now names its class; checked against both
// models' own predictions, and each model's top-1 accuracy against the labels.
TEST(Diff, EveryProbabilityColumnNamesItsClassAndTrueLabelsGiveAccuracy) {
  Model old_model = Model::load(test::model_path("tiny-binary-scripted.pt"));
  Model new_model = Model::load(test::model_path("demo-histo.pt"));
  test::TempDir dir;
  std::ofstream(dir.file("labels.csv")) << "name,label\nbenign-1,malignant\nbenign-2,benign\nbenign-3,benign\n"
                                           "malignant-1,malignant\nmalignant-2,malignant\nmalignant-3,malignant\n";
  DiffOptions options;
  options.output_dir = dir.file("out");
  options.labels_csv = dir.file("labels.csv");
  const DiffResult result = diff_models(old_model, new_model, {examples_dir()}, options);
  ASSERT_EQ(result.images.size(), 6u);
  std::ifstream csv(result.csv_path);
  std::string header;
  std::getline(csv, header);
  EXPECT_EQ(header, "path,true_label,method,old_layer,new_layer,explained_class,old_p_explained_class,"
                    "new_p_explained_class,old_predicted,old_p_predicted,new_predicted,new_p_predicted,"
                    "prediction_changed,spearman,ssim,iou_top,drift");
  int old_right = 0, new_right = 0;
  for (const auto& image : result.images) {
    const Prediction a = old_model.predict({prepare_image(image.path, old_model.card(), {}).blob}).front();
    const Prediction b = new_model.predict({prepare_image(image.path, new_model.card(), {}).blob}).front();
    EXPECT_EQ(image.target, a.predicted) << image.path;  // the old model's prediction is explained
    EXPECT_NEAR(image.old_probability, a.probabilities[a.predicted], 1e-6);
    EXPECT_NEAR(image.new_probability, b.probabilities[a.predicted], 1e-6) << "p(explained class) of the new model";
    EXPECT_NEAR(image.new_predicted_probability, b.probabilities[b.predicted], 1e-6);
    const std::string truth = fs::path(image.path).stem() == "benign-1" ? "malignant"
                              : fs::path(image.path).stem().string().rfind("benign", 0) == 0 ? "benign" : "malignant";
    ASSERT_TRUE(image.true_label.has_value());
    EXPECT_EQ(*image.true_label, truth);
    old_right += old_model.labels()[a.predicted] == truth;
    new_right += new_model.labels()[b.predicted] == truth;
  }
  ASSERT_TRUE(result.old_top1_accuracy && result.new_top1_accuracy);
  EXPECT_DOUBLE_EQ(*result.old_top1_accuracy, old_right / 6.0);
  EXPECT_DOUBLE_EQ(*result.new_top1_accuracy, new_right / 6.0);
  EXPECT_DOUBLE_EQ(*result.new_top1_accuracy, 5.0 / 6.0);  // the demo is right on all six; one label is wrong
  EXPECT_EQ(result.report["per_image"][0]["new"].at("p_explained_class"), result.images[0].new_probability);
}

TEST(Diff, ModelsWithOtherLabelsAreRefused) {
  Model demo = Model::load(test::model_path("demo-histo.pt"));
  Model tiny = Model::load(test::model_path("tiny-scripted.pt"));  // three labels
  test::TempDir dir;
  DiffOptions options;
  options.output_dir = dir.file("out");
  try {
    diff_models(demo, tiny, {examples_dir()}, options);
    FAIL() << "expected a usage error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::usage);
    EXPECT_NE(std::string(e.what()).find("other labels"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir.file("out/diff.json")));
}

}  // namespace
}  // namespace xai
