#include <gtest/gtest.h>

#include "xai/map_stats.hpp"

namespace xai {
namespace {

TEST(MapStats, PeakAndTopBoxOfAKnownMap) {
  cv::Mat map = cv::Mat::zeros(10, 10, CV_32FC1);
  map(cv::Rect(2, 3, 4, 5)).setTo(0.5f);  // 20 pixels = top 20 % of 100
  map.at<float>(4, 3) = 1.0f;
  const MapStats stats = compute_map_stats(map, 0.2);
  EXPECT_EQ(stats.peak, cv::Point(3, 4));
  EXPECT_FLOAT_EQ(stats.peak_value, 1.0f);
  EXPECT_EQ(stats.top_box, cv::Rect(2, 3, 4, 5));
  EXPECT_NEAR(stats.mean, (19 * 0.5 + 1.0) / 100.0, 1e-6);
}

TEST(MapStats, ConstantMapIsDefined) {
  const MapStats stats = compute_map_stats(cv::Mat::zeros(4, 6, CV_32FC1));
  EXPECT_EQ(stats.peak, cv::Point(0, 0));
  EXPECT_EQ(stats.top_box, cv::Rect(0, 0, 6, 4));
  EXPECT_EQ(stats.mean, 0.0f);
}

}  // namespace
}  // namespace xai
