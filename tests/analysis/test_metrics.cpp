// Mask agreement on hand-made maps and masks with known answers.
#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>
#include <sstream>

#include "test_helpers.hpp"
#include "pipelines/evaluate.hpp"
#include "analysis/metrics.hpp"
#include "output/npy.hpp"

namespace xai {
namespace {

TEST(Metrics, KnownMapAndMask) {
  cv::Mat map = cv::Mat::zeros(10, 10, CV_32FC1);
  map(cv::Rect(0, 0, 5, 4)).setTo(1.0f);  // 20 pixels of 1: exactly the top 20 %
  map.at<float>(1, 1) = 2.0f;             // the peak
  cv::Mat mask = cv::Mat::zeros(10, 10, CV_8UC1);
  mask(cv::Rect(0, 0, 5, 2)).setTo(255);  // 10 pixels, all inside the hot area
  const MaskAgreement a = mask_agreement(map, mask, 0.2);
  EXPECT_TRUE(a.pointing_hit);
  EXPECT_NEAR(a.energy_inside, (9 * 1.0 + 2.0) / (19 * 1.0 + 2.0), 1e-9);
  EXPECT_NEAR(a.iou_top, 10.0 / 20.0, 1e-9);
  EXPECT_FALSE(a.mask_empty);
}

TEST(Metrics, PeakOutsideTheMaskMisses) {
  cv::Mat map = cv::Mat::zeros(4, 4, CV_32FC1);
  map.at<float>(3, 3) = 1.0f;
  cv::Mat mask = cv::Mat::zeros(4, 4, CV_8UC1);
  mask.at<uchar>(0, 0) = 1;
  const MaskAgreement a = mask_agreement(map, mask, 0.25);
  EXPECT_FALSE(a.pointing_hit);
  EXPECT_EQ(a.energy_inside, 0.0);
  EXPECT_EQ(a.iou_top, 0.0);
}

TEST(Metrics, EmptyMaskAndConstantMapAreDefined) {
  const cv::Mat zeros = cv::Mat::zeros(5, 5, CV_32FC1);
  const cv::Mat empty_mask = cv::Mat::zeros(5, 5, CV_8UC1);
  cv::Mat full_mask(5, 5, CV_8UC1, cv::Scalar(255));
  const MaskAgreement a = mask_agreement(zeros, empty_mask);
  EXPECT_TRUE(a.mask_empty);
  EXPECT_TRUE(a.map_constant);
  EXPECT_FALSE(a.pointing_hit);
  EXPECT_EQ(a.energy_inside, 0.0);
  EXPECT_EQ(a.iou_top, 0.0);
  const MaskAgreement b = mask_agreement(zeros, full_mask);
  EXPECT_FALSE(b.pointing_hit);  // a constant map points nowhere
  EXPECT_EQ(b.energy_inside, 0.0);
  EXPECT_EQ(b.iou_top, 1.0);  // every pixel ties for the top and the mask is everything
  const MaskAgreement c = mask_agreement(cv::Mat(5, 5, CV_32FC1, cv::Scalar(0.5)), full_mask);
  EXPECT_EQ(c.energy_inside, 1.0);
}

TEST(Metrics, RocAucByRanks) {
  EXPECT_DOUBLE_EQ(*roc_auc({0.9, 0.8, 0.3, 0.1}, {true, true, false, false}), 1.0);
  EXPECT_DOUBLE_EQ(*roc_auc({0.1, 0.8, 0.3, 0.9}, {true, true, false, false}), 0.25);  // 1 of 4 pairs ordered
  EXPECT_DOUBLE_EQ(*roc_auc({0.5, 0.5}, {true, false}), 0.5);
  EXPECT_FALSE(roc_auc({0.5, 0.7}, {true, true}).has_value());  // one class only: undefined, not 0 or NaN
}

// SSIM against scikit-image (tests/reference/ssim_reference.py) on pairs that span its range: a map
// and a noisy copy, a map and its negative, smooth and blocky maps, sizes with and without an inside.
TEST(Metrics, StructuralSimilarityEqualsScikitImage) {
  test::TempDir dir;
  std::vector<std::pair<cv::Mat, cv::Mat>> pairs;
  cv::RNG rng(5);
  for (const cv::Size size : {cv::Size(40, 30), cv::Size(128, 96), cv::Size(17, 64)}) {
    cv::Mat smooth(size, CV_32FC1), noise(size, CV_32FC1);
    rng.fill(smooth, cv::RNG::UNIFORM, 0.0, 1.0);
    cv::GaussianBlur(smooth, smooth, cv::Size(0, 0), 3.0);
    cv::normalize(smooth, smooth, 0.0, 1.0, cv::NORM_MINMAX);
    rng.fill(noise, cv::RNG::NORMAL, 0.0, 0.05);
    cv::Mat noisy = cv::min(cv::max(smooth + noise, 0.0), 1.0);
    pairs.emplace_back(smooth, noisy);
    pairs.emplace_back(smooth, cv::Mat(1.0 - smooth));
    cv::Mat blocks;
    cv::resize(smooth, blocks, cv::Size(4, 3), 0, 0, cv::INTER_AREA);
    cv::resize(blocks, blocks, size, 0, 0, cv::INTER_NEAREST);
    pairs.emplace_back(blocks, smooth);
  }
  std::vector<double> ours;
  for (size_t k = 0; k < pairs.size(); ++k) {
    const auto& [a, b] = pairs[k];
    write_npy(dir.file("a_" + std::to_string(k) + ".npy"), a.ptr<float>(), {size_t(a.rows), size_t(a.cols)});
    write_npy(dir.file("b_" + std::to_string(k) + ".npy"), b.ptr<float>(), {size_t(b.rows), size_t(b.cols)});
    ours.push_back(structural_similarity(a, b));
  }
  int status = 0;
  const std::string output = test::run_command(
      XAI_PYTHON " " + std::string(XAI_SOURCE_DIR) + "/tests/reference/ssim_reference.py " + dir.path.string() + " 2>&1",
      &status);
  ASSERT_EQ(status, 0) << "the reference did not run: " << output;
  std::istringstream lines(output);
  double lowest = 1, highest = -1;
  for (size_t k = 0; k < ours.size(); ++k) {
    double expected = 0;
    ASSERT_TRUE(lines >> expected) << output;
    EXPECT_NEAR(ours[k], expected, 1e-6) << "pair " << k;
    lowest = std::min(lowest, expected);
    highest = std::max(highest, expected);
  }
  EXPECT_LT(lowest, 0.0) << "the pairs should include anti-correlated maps";
  EXPECT_GT(highest, 0.5);
}

TEST(Metrics, MapSimilarityOfIdenticalShuffledAndNegatedMaps) {
  cv::Mat map(60, 80, CV_32FC1);
  cv::randu(map, -1.0, 1.0);
  const MapSimilarity same = map_similarity(map, map, 0.2, false);
  EXPECT_DOUBLE_EQ(same.spearman, 1.0);
  EXPECT_DOUBLE_EQ(same.ssim, 1.0);
  EXPECT_DOUBLE_EQ(same.iou_top, 1.0);
  const cv::Mat zeros = cv::Mat::zeros(60, 80, CV_32FC1);
  EXPECT_DOUBLE_EQ(map_similarity(zeros, zeros, 0.2, true).spearman, 1.0) << "identical constant maps are alike";
  // The negated map ranks every pixel in reverse, but its absolute values are the same.
  const cv::Mat negated = -map;
  EXPECT_NEAR(map_similarity(map, negated, 0.2, false).spearman, -1.0, 1e-9);
  EXPECT_NEAR(map_similarity(map, negated, 0.2, true).spearman, 1.0, 1e-9);
  cv::Mat other(60, 80, CV_32FC1);
  cv::randu(other, -1.0, 1.0);
  const MapSimilarity unrelated = map_similarity(map, other, 0.2, true);
  EXPECT_LT(std::abs(unrelated.spearman), 0.1);
  EXPECT_LT(unrelated.iou_top, 0.3);
  // Large maps are compared on at most 128 px a side: a 1000 x 10 map still works.
  cv::Mat wide(10, 1000, CV_32FC1);
  cv::randu(wide, 0.0, 1.0);
  EXPECT_NEAR(map_similarity(wide, wide + 1.0f, 0.2, false).spearman, 1.0, 1e-9);
}

}  // namespace
}  // namespace xai
