// Preprocessing against hand-computed values.
#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include "xai/preprocess.hpp"

namespace xai {
namespace {

Image make_image(const cv::Mat& pixels) {
  Image image;
  image.path = "test";
  image.pixels = pixels;
  return image;
}

TEST(Preprocess, NormalisesRgbInChannelMajorOrder) {
  // A 2x1 BGR image: pixel 0 = (B,G,R) = (0.1, 0.2, 0.3), pixel 1 = (0.4, 0.5, 0.6).
  cv::Mat pixels(1, 2, CV_32FC3);
  pixels.at<cv::Vec3f>(0, 0) = {0.1f, 0.2f, 0.3f};
  pixels.at<cv::Vec3f>(0, 1) = {0.4f, 0.5f, 0.6f};
  ModelCard card;
  card.input_height = 1;
  card.input_width = 2;
  card.mean = {0.5f, 0.4f, 0.3f};
  card.std = {0.5f, 0.25f, 0.1f};
  const InputBlob blob = preprocess(make_image(pixels), card);
  ASSERT_EQ(blob.values.size(), 6u);
  const float expected[] = {(0.3f - 0.5f) / 0.5f, (0.6f - 0.5f) / 0.5f,     // R plane
                            (0.2f - 0.4f) / 0.25f, (0.5f - 0.4f) / 0.25f,   // G plane
                            (0.1f - 0.3f) / 0.1f, (0.4f - 0.3f) / 0.1f};    // B plane
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(blob.values[i], expected[i], 1e-6) << i;
}

TEST(Preprocess, GrayToRgbRepeatsAndRgbToGrayUsesLuma) {
  cv::Mat gray(1, 1, CV_32FC1, cv::Scalar(0.6));
  ModelCard rgb;
  rgb.input_height = rgb.input_width = 1;
  rgb.mean = {0, 0, 0};
  rgb.std = {1, 1, 1};
  const InputBlob repeated = preprocess(make_image(gray), rgb);
  for (float v : repeated.values) EXPECT_NEAR(v, 0.6f, 1e-6);

  cv::Mat colour(1, 1, CV_32FC3, cv::Scalar(0.2, 0.4, 0.8));  // B, G, R
  ModelCard g;
  g.input_height = g.input_width = 1;
  g.set_channels(ChannelMode::gray);
  g.mean = {0};
  g.std = {1};
  const InputBlob luma = preprocess(make_image(colour), g);
  ASSERT_EQ(luma.values.size(), 1u);
  EXPECT_NEAR(luma.values[0], 0.299f * 0.8f + 0.587f * 0.4f + 0.114f * 0.2f, 1e-5);
}

TEST(Preprocess, ShrinkingAveragesAreas) {
  cv::Mat pixels(2, 2, CV_32FC1);
  pixels.at<float>(0, 0) = 0.0f;
  pixels.at<float>(0, 1) = 0.2f;
  pixels.at<float>(1, 0) = 0.4f;
  pixels.at<float>(1, 1) = 1.0f;
  ModelCard card;
  card.input_height = card.input_width = 1;
  card.set_channels(ChannelMode::gray);
  card.mean = {0};
  card.std = {1};
  EXPECT_NEAR(preprocess(make_image(pixels), card).values[0], 0.4f, 1e-6);
}

}  // namespace
}  // namespace xai
