#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>

#include "xai/error.hpp"
#include "output/render.hpp"

namespace xai {
namespace {

TEST(Render, OverlayBlendsImageAndColourMap) {
  cv::Mat image(3, 5, CV_8UC3, cv::Scalar(100, 50, 200));
  cv::Mat map(3, 5, CV_32FC1, cv::Scalar(1.0));
  const cv::Mat colours = colorize(map, Colormap::jet);
  const cv::Mat out = overlay(image, map, Colormap::jet, 0.25);
  ASSERT_EQ(out.size(), image.size());
  for (int c = 0; c < 3; ++c)
    EXPECT_NEAR(out.at<cv::Vec3b>(1, 1)[c], 0.75 * image.at<cv::Vec3b>(1, 1)[c] + 0.25 * colours.at<cv::Vec3b>(1, 1)[c],
                1.0);
  // Jet at 1.0 is dark red (BGR: blue 0), at 0.0 dark blue.
  EXPECT_EQ(colours.at<cv::Vec3b>(0, 0)[0], 0);
  EXPECT_GT(colorize(cv::Mat(1, 1, CV_32FC1, cv::Scalar(0.0)), Colormap::jet).at<cv::Vec3b>(0, 0)[0], 100);
}

TEST(Render, ColormapNamesRoundTrip) {
  for (const auto& name : colormap_names()) EXPECT_EQ(to_string(parse_colormap(name)), name);
  EXPECT_THROW(parse_colormap("rainbow"), Error);
}

TEST(Render, PngBytesDecode) {
  cv::Mat image(4, 7, CV_8UC3, cv::Scalar(1, 2, 3));
  const std::string bytes = encode_png(image, "x");
  const cv::Mat decoded = cv::imdecode(std::vector<uchar>(bytes.begin(), bytes.end()), cv::IMREAD_COLOR);
  EXPECT_EQ(cv::norm(decoded, image, cv::NORM_INF), 0.0);
}

}  // namespace
}  // namespace xai
