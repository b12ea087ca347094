// Mask agreement on hand-made maps and masks with known answers.
#include <gtest/gtest.h>

#include "xai/evaluate.hpp"
#include "xai/metrics.hpp"

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

}  // namespace
}  // namespace xai
