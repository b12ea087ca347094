// xai eval's pieces: ROC AUC against the rank-sum (Mann-Whitney) formula, the labels CSV, and the
// whole evaluation on a model with a known answer.
#include <gtest/gtest.h>

#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <random>
#include <algorithm>
#include <opencv2/imgproc.hpp>

#include "test_helpers.hpp"
#include "xai/error.hpp"
#include "pipelines/evaluate.hpp"
#include "xai/prepared_image.hpp"

namespace xai {
namespace {

// AUC = (R₁ − n₁(n₁+1)/2) / (n₁ n₀), R₁ the sum of the positives' mid-ranks.
double rank_sum_auc(const std::vector<double>& scores, const std::vector<bool>& positive) {
  const size_t n = scores.size();
  std::vector<double> rank(n);
  for (size_t i = 0; i < n; ++i) {
    double below = 0, equal = 0;
    for (size_t j = 0; j < n; ++j) below += scores[j] < scores[i], equal += scores[j] == scores[i];
    rank[i] = below + (equal + 1) / 2.0;
  }
  double r1 = 0, n1 = 0;
  for (size_t i = 0; i < n; ++i)
    if (positive[i]) r1 += rank[i], n1 += 1;
  const double n0 = n - n1;
  return (r1 - n1 * (n1 + 1) / 2) / (n1 * n0);
}

TEST(Evaluate, RocAucEqualsTheRankSumFormula) {
  std::mt19937 rng(5);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<double> scores;
    std::vector<bool> positive;
    for (int i = 0; i < 30; ++i) {
      positive.push_back(rng() % 3 == 0);
      scores.push_back(static_cast<double>(rng() % 10) / 10 + (positive.back() ? 0.2 : 0.0));  // ties on purpose
    }
    positive[0] = true, positive[1] = false;
    ASSERT_TRUE(roc_auc(scores, positive).has_value());
    EXPECT_NEAR(*roc_auc(scores, positive), rank_sum_auc(scores, positive), 1e-12);
  }
  EXPECT_FALSE(roc_auc({0.1, 0.9}, {true, true}).has_value());
}

TEST(Evaluate, LabelsCsvSkipsTheHeaderAndKeysByStem) {
  test::TempDir dir;
  std::ofstream(dir.file("labels.csv")) << "name,label\r\nslides/a.png,malignant\nb.jpg,benign\nno-comma\n";
  const auto labels = read_labels_csv(dir.file("labels.csv"));
  EXPECT_EQ(labels.size(), 2u);
  EXPECT_EQ(labels.at("a"), "malignant");
  EXPECT_EQ(labels.at("b"), "benign");
  EXPECT_THROW(read_labels_csv(dir.file("missing.csv")), Error);
}

// The region model's malignant logit depends only on the red channel inside rows/cols 16..47: a
// red square there is malignant, and the evidence lies inside it.
TEST(Evaluate, KnownAnswerModelPointsAtTheRegion) {
  Model model = Model::load(test::data_path("region-scripted.pt"));
  test::TempDir dir;
  cv::Mat mask(64, 64, CV_8UC1, cv::Scalar(0));
  mask(cv::Rect(16, 16, 32, 32)).setTo(255);
  for (int i = 0; i < 2; ++i) {
    cv::Mat positive(64, 64, CV_8UC3, cv::Scalar(60, 60, 60 + 10 * i));
    positive(cv::Rect(16, 16, 32, 32)).setTo(cv::Scalar(30, 30, 250));  // BGR: red
    cv::imwrite(dir.file("pos" + std::to_string(i) + ".png"), positive);
    cv::imwrite(dir.file("pos" + std::to_string(i) + ".mask.png"), mask);
    cv::imwrite(dir.file("neg" + std::to_string(i) + ".png"), cv::Mat(64, 64, CV_8UC3, cv::Scalar(90, 80 + i, 70)));
  }
  EvalOptions options;
  options.explain.methods = {"lime"};
  options.explain.lime.samples = 300;
  options.explain.lime.superpixels.segments = 16;
  options.explain.lime.hide.mode = HideMode::constant;  // a uniform region's mean colour would hide nothing
  options.explain.lime.hide.color = {0.0f};
  const EvalResult result = evaluate_localisation(model, {dir.path.string()}, options);
  EXPECT_EQ(result.images, 4);
  EXPECT_EQ(result.positives, 2);
  EXPECT_EQ(result.classification.positive_vs_rest_correct, 4);
  ASSERT_TRUE(result.classification.positive_vs_rest_roc_auc.has_value());
  EXPECT_DOUBLE_EQ(*result.classification.positive_vs_rest_roc_auc, 1.0);
  // A binary model: the mask gives the class too (malignant, else benign), so top-1 is defined.
  ASSERT_TRUE(result.classification.top1_accuracy.has_value());
  EXPECT_DOUBLE_EQ(*result.classification.top1_accuracy, 1.0);
  ASSERT_TRUE(result.classification.macro_roc_auc.has_value());
  EXPECT_DOUBLE_EQ(*result.classification.macro_roc_auc, 1.0);
  ASSERT_EQ(result.rows.size(), 1u);
  EXPECT_EQ(result.rows[0].method, "lime");
  EXPECT_EQ(result.rows[0].count, 2);
  ASSERT_TRUE(result.rows[0].pointing_game.has_value());
  EXPECT_DOUBLE_EQ(*result.rows[0].pointing_game, 1.0);
  EXPECT_GT(*result.rows[0].energy_inside, 0.9);
}

TEST(Evaluate, NoScorableImageGivesUndefinedNotZero) {
  Model model = Model::load(test::data_path("region-scripted.pt"));
  test::TempDir dir;
  cv::imwrite(dir.file("neg.png"), cv::Mat(64, 64, CV_8UC3, cv::Scalar(90, 80, 70)));
  EvalOptions options;
  options.explain.methods = {"lime"};
  options.explain.lime.samples = 50;
  const EvalResult result = evaluate_localisation(model, {dir.path.string()}, options);
  ASSERT_EQ(result.rows.size(), 1u);
  EXPECT_EQ(result.rows[0].count, 0);
  EXPECT_FALSE(result.rows[0].pointing_game.has_value());
  EXPECT_TRUE(result.report["localisation"][0]["pointing_game"].is_null());
  EXPECT_FALSE(result.classification.positive_vs_rest_roc_auc.has_value());
}

// Issue 29, item 1: a multi-class model's "accuracy" was one-vs-rest for --positive-class (a 4-class
// MRI model right on 4 of 24 images read 0.875). Here every image's true class is a wrong one that is on
// the same side (lesion or not) as the prediction: positive-vs-rest accuracy is 1, top-1 is what the
// model gets right — computed here from the model's own predictions, with this file's rank-sum AUC.
TEST(Evaluate, MultiClassTop1AccuracyIsNotPositiveVsRest) {
  Model model = Model::load(test::model_path("tiny-scripted.pt"));  // benign, malignant, other
  const std::vector<std::string> labels = model.labels();
  test::TempDir dir;
  std::vector<std::string> paths;
  std::vector<std::vector<float>> probabilities;
  std::vector<int> predicted;
  std::mt19937 rng(11);
  for (int i = 0; i < 24; ++i) {
    cv::Mat image(64, 64, CV_8UC3);
    cv::randu(image, 0, 256);
    cv::GaussianBlur(image, image, cv::Size(0, 0), 1 + i % 5);
    const std::string path = dir.file("image" + std::to_string(i) + ".png");
    cv::imwrite(path, image);
    const PreparedImage prepared = prepare_image(path, model.card(), {});
    const Prediction p = model.predict({prepared.blob}).front();
    probabilities.emplace_back(p.probabilities.begin(), p.probabilities.end());
    predicted.push_back(p.predicted);
    paths.push_back(path);
  }
  // "Lesions": malignant and other (1, 2); the rest: benign (0). Truth: the other lesion class for a
  // predicted lesion (wrong class, right side) — except every third, which is benign (wrong side) — and
  // benign for a predicted benign.
  ASSERT_LT(std::count(predicted.begin(), predicted.end(), 0), 24) << "the model must predict some lesions";
  std::vector<int> truth;
  std::ofstream csv(dir.file("labels.csv"));
  for (size_t i = 0; i < paths.size(); ++i) {
    truth.push_back(predicted[i] == 0 ? 0 : i % 3 == 0 ? 0 : 3 - predicted[i]);
    csv << "image" << i << "," << labels[truth.back()] << "\n";
  }
  csv.close();
  EvalOptions options;
  options.explain.methods = {"gradcam"};
  options.labels_csv = dir.file("labels.csv");
  options.positive_labels = {"malignant", "other"};
  const EvalResult result = evaluate_localisation(model, {dir.path.string()}, options);
  ASSERT_EQ(result.images, 24);

  int top1 = 0, positive_right = 0;
  std::vector<double> lesion_score;
  std::vector<bool> lesion;
  for (size_t i = 0; i < truth.size(); ++i) {
    top1 += truth[i] == predicted[i];
    positive_right += (predicted[i] != 0) == (truth[i] != 0);
    lesion_score.push_back(probabilities[i][1] + probabilities[i][2]);
    lesion.push_back(truth[i] != 0);
  }
  const ClassificationScores& c = result.classification;
  ASSERT_TRUE(c.top1_accuracy.has_value());
  EXPECT_DOUBLE_EQ(*c.top1_accuracy, top1 / 24.0);
  EXPECT_DOUBLE_EQ(c.positive_vs_rest_accuracy, positive_right / 24.0);
  EXPECT_NE(*c.top1_accuracy, c.positive_vs_rest_accuracy);
  ASSERT_TRUE(c.positive_vs_rest_roc_auc.has_value());
  EXPECT_NEAR(*c.positive_vs_rest_roc_auc, rank_sum_auc(lesion_score, lesion), 1e-6);
  double sum = 0;
  int defined = 0;
  ASSERT_EQ(c.one_vs_rest_roc_auc.size(), 3u);
  for (int k = 0; k < 3; ++k) {
    std::vector<double> scores;
    std::vector<bool> is_k;
    for (size_t i = 0; i < truth.size(); ++i) scores.push_back(probabilities[i][k]), is_k.push_back(truth[i] == k);
    const bool present = std::count(truth.begin(), truth.end(), k) > 0 && std::count(truth.begin(), truth.end(), k) < 24;
    ASSERT_EQ(c.one_vs_rest_roc_auc[k].has_value(), present) << k;
    if (!present) continue;
    EXPECT_NEAR(*c.one_vs_rest_roc_auc[k], rank_sum_auc(scores, is_k), 1e-6) << k;
    sum += rank_sum_auc(scores, is_k), defined += 1;
  }
  ASSERT_TRUE(c.macro_roc_auc.has_value());
  EXPECT_NEAR(*c.macro_roc_auc, sum / defined, 1e-6);
  EXPECT_EQ(result.report["top1_accuracy"].get<double>(), *c.top1_accuracy);
  EXPECT_EQ(result.report["positive_vs_rest"]["classes"], nlohmann::ordered_json::array({"malignant", "other"}));
}

// Masks alone tell lesion or not; a 3-class model's "other" images then have no known class, and top-1
// accuracy is undefined rather than computed over the lesions only.
TEST(Evaluate, Top1IsUndefinedWhenMasksCannotTellTheClass) {
  Model model = Model::load(test::model_path("tiny-scripted.pt"));
  test::TempDir dir;
  cv::Mat image(64, 64, CV_8UC3, cv::Scalar(80, 120, 160));
  cv::imwrite(dir.file("a.png"), image);
  cv::imwrite(dir.file("b.png"), image);
  cv::Mat mask(64, 64, CV_8UC1, cv::Scalar(0));
  mask(cv::Rect(8, 8, 16, 16)).setTo(255);
  cv::imwrite(dir.file("a.mask.png"), mask);
  EvalOptions options;
  options.explain.methods = {"gradcam"};
  options.positive_labels = {"malignant"};
  const EvalResult result = evaluate_localisation(model, {dir.path.string()}, options);
  EXPECT_EQ(result.images, 2);
  EXPECT_EQ(result.classification.known_classes, 1);
  EXPECT_FALSE(result.classification.top1_accuracy.has_value());
  EXPECT_TRUE(result.report["top1_accuracy"].is_null());
  EXPECT_EQ(result.skipped_masks, 1u);
}

}  // namespace
}  // namespace xai
