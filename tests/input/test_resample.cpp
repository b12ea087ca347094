// PIL-style resampling in closed form: weights of the triangle and cubic kernels, widened when
// shrinking (tests/input/test_preprocess_torchvision.cpp checks whole images against PIL itself).
#include <gtest/gtest.h>

#include "input/resample.hpp"

namespace xai {
namespace {

TEST(Resample, HalvingWithTheTriangleAveragesFourNeighboursOneThreeThreeOne) {
  // Shrinking 8 -> 4 doubles the triangle's support to 2 input pixels: output 1 is centred at 3.0
  // and weighs inputs 1..4 (centres 1.5, 2.5, 3.5, 4.5) by 1 - |d|/2 = 1/4, 3/4, 3/4, 1/4 (then / 2).
  cv::Mat row(1, 8, CV_32FC1);
  for (int x = 0; x < 8; ++x) row.at<float>(0, x) = static_cast<float>(x * x);
  const cv::Mat out = resample_like_pil(row, {4, 1}, ResampleFilter::bilinear);
  EXPECT_NEAR(out.at<float>(0, 1), (1 * 1 + 3 * 4 + 3 * 9 + 1 * 16) / 8.0, 1e-5);
  // At the border the weights are renormalised over the inputs that exist: centre 1.0, inputs 0..2
  // (centres 0.5, 1.5, 2.5) weigh 3/4, 3/4, 1/4.
  EXPECT_NEAR(out.at<float>(0, 0), (3 * 0 + 3 * 1 + 1 * 4) / 7.0, 1e-5);
}

TEST(Resample, EnlargingWithTheCubicUsesKeysWeightsAtAQuarter) {
  // 4 -> 8: output 3 is centred at 1.75, a quarter pixel right of input 1's centre 1.5: distances
  // 1.25, 0.25, 0.75, 1.75 to inputs 0..3 with a = -0.5.
  const auto keys = [](double x) {
    const double a = -0.5;
    x = std::abs(x);
    return x < 1 ? ((a + 2) * x - (a + 3)) * x * x + 1 : (((x - 5) * x + 8) * x - 4) * a;
  };
  cv::Mat row(1, 4, CV_32FC1);
  const float v[] = {0.1f, 0.7f, 0.2f, 0.9f};
  for (int x = 0; x < 4; ++x) row.at<float>(0, x) = v[x];
  const cv::Mat out = resample_like_pil(row, {8, 1}, ResampleFilter::bicubic);
  const double w[] = {keys(1.25), keys(0.25), keys(0.75), keys(1.75)};
  double expected = 0, total = 0;
  for (int i = 0; i < 4; ++i) expected += w[i] * v[i], total += w[i];
  EXPECT_NEAR(out.at<float>(0, 3), expected / total, 1e-6);
}

TEST(Resample, EightBitRoundsAndClampsLikeFixedPoint) {
  // A cubic's negative lobes overshoot at a hard edge: PIL clamps to 0..255.
  cv::Mat edge(1, 4, CV_8UC1);
  edge.at<uchar>(0, 0) = edge.at<uchar>(0, 1) = 0;
  edge.at<uchar>(0, 2) = edge.at<uchar>(0, 3) = 255;
  const cv::Mat out = resample_like_pil(edge, {8, 1}, ResampleFilter::bicubic);
  ASSERT_EQ(out.type(), CV_8UC1);
  double lo = 0, hi = 0;
  cv::minMaxLoc(out, &lo, &hi);
  EXPECT_EQ(lo, 0);
  EXPECT_EQ(hi, 255);
  // A constant stays exactly constant (the weights sum to 1 in fixed point, up to rounding at 0.5).
  cv::Mat flat(5, 7, CV_8UC3, cv::Scalar(17, 128, 250));
  const cv::Mat same = resample_like_pil(flat, {3, 11}, ResampleFilter::bilinear);
  EXPECT_EQ(cv::norm(same, cv::Mat(11, 3, CV_8UC3, cv::Scalar(17, 128, 250)), cv::NORM_INF), 0);
}

}  // namespace
}  // namespace xai
