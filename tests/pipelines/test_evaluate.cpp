// xai eval's pieces: ROC AUC against the rank-sum (Mann-Whitney) formula, the labels CSV, and the
// whole evaluation on a model with a known answer.
#include <gtest/gtest.h>

#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <random>

#include "test_helpers.hpp"
#include "xai/error.hpp"
#include "xai/evaluate.hpp"

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
  EXPECT_EQ(result.correct, 4);
  ASSERT_TRUE(result.roc_auc.has_value());
  EXPECT_DOUBLE_EQ(*result.roc_auc, 1.0);
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
  EXPECT_FALSE(result.roc_auc.has_value());
}

}  // namespace
}  // namespace xai
