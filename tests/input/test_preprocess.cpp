// Preprocessing against hand-computed values.
#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include "xai/error.hpp"
#include "input/preprocess.hpp"

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

TEST(Preprocess, ShorterSideCropsTheCentreAsTorchvision) {
  // 640x480, shorter side to 256: 341x256 (256 * 640 / 480 = 341.3, truncated); the 224 crop starts at
  // round(58.5) = 58 (Python rounds halves to even) and round(16) = 16. In the original's pixels:
  // x 58 * 640/341 = 108.9 .. 282 * 640/341 = 529.3, y 16 * 480/256 = 30 .. 240 * 480/256 = 450.
  ModelCard card;
  parse_resize("shorter-side", card);
  EXPECT_EQ(card.resized_side(), 256);
  EXPECT_EQ(visible_region({640, 480}, card), cv::Rect(109, 30, 420, 420));
  card.input_height = card.input_width = 299;
  EXPECT_EQ(card.resized_side(), 342);  // torchvision's Inception recipe
  parse_resize("stretch", card);
  EXPECT_EQ(visible_region({640, 480}, card), cv::Rect(0, 0, 640, 480));

  // The crop itself: a ramp whose values name their column, so the view shows which columns it took.
  cv::Mat ramp(4, 8, CV_32FC1);
  for (int x = 0; x < 8; ++x) ramp.col(x).setTo(x / 10.0);
  ModelCard crop;
  crop.set_channels(ChannelMode::gray);
  crop.input_height = crop.input_width = 3;
  parse_resize("shorter-side:4", crop);  // 8x4 stays 8x4; the 3x3 crop starts at round(2.5) = 2, round(0.5) = 0
  crop.validate();
  const cv::Mat view = model_view(make_image(ramp), crop);
  ASSERT_EQ(view.size(), cv::Size(3, 3));
  for (int x = 0; x < 3; ++x) EXPECT_NEAR(view.at<float>(0, x), (2 + x) / 10.0, 1e-6);
}

TEST(Preprocess, ResizeSettingsAreCheckedAndSpelledOut) {
  ModelCard card;
  EXPECT_EQ(resize_spec(card), "stretch");
  parse_resize("shorter-side:300", card);
  EXPECT_EQ(resize_spec(card), "shorter-side:300");
  for (const char* bad : {"shorter-side:", "shorter-side:0", "shorter-side:-3", "shorter-side:2x", "shorter", "crop"})
    EXPECT_THROW(parse_resize(bad, card), Error) << bad;
  parse_resize("shorter-side:200", card);  // smaller than the 224 input: the crop would not fit
  EXPECT_THROW(card.validate(), Error);
  EXPECT_THROW(parse_interpolation("nearest"), Error);
  EXPECT_EQ(parse_interpolation("bicubic"), Interpolation::bicubic);

  const ModelCard read = parse_model_card(R"({"resize": "shorter-side:256", "interpolation": "bilinear"})", "c.json");
  EXPECT_EQ(read.resize, ResizeMode::shorter_side);
  EXPECT_EQ(read.resized_side(), 256);
  EXPECT_EQ(read.interpolation, Interpolation::bilinear);
  EXPECT_TRUE(read.warnings.empty());
  EXPECT_THROW(parse_model_card(R"({"resize": "shorter-side:100"})", "c.json"), Error);
  EXPECT_THROW(parse_model_card(R"({"interpolation": "lanczos"})", "c.json"), Error);

  ModelCard whole, cropped;
  parse_resize("shorter-side", cropped);
  EXPECT_NO_THROW(require_same_visible_region(whole, whole, "compare", "a.pt", "b.pt"));
  EXPECT_THROW(require_same_visible_region(whole, cropped, "compare", "a.pt", "b.pt"), Error);
}

}  // namespace
}  // namespace xai
