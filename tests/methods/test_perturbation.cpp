// The perturbation core against closed forms, with a fake classifier (no model): composition of
// masked images, region masks, fill modes, batching.
#include <gtest/gtest.h>

#include <numeric>
#include <opencv2/imgproc.hpp>

#include "xai/error.hpp"
#include "xai/perturbation.hpp"

namespace xai {
namespace {

InputBlob constant_blob(int channels, int height, int width, float value) {
  InputBlob b{channels, height, width, {}};
  b.values.assign(static_cast<size_t>(channels) * height * width, value);
  return b;
}

// Two "classes": the mean of channel 0, and 1 minus it. Records the batch sizes it saw.
struct FakeClassifier {
  std::vector<int>* batches;
  std::vector<double> operator()(const ImageBatch& batch) const {
    batches->push_back(batch.count);
    std::vector<double> out;
    const size_t plane = static_cast<size_t>(batch.height) * batch.width;
    for (int s = 0; s < batch.count; ++s) {
      const float* image = batch.values + s * plane * batch.channels;
      const double mean = std::accumulate(image, image + plane, 0.0) / plane;
      out.push_back(mean);
      out.push_back(1.0 - mean);
    }
    return out;
  }
};

TEST(Perturbation, MaskedImagesAreFillPlusMaskTimesDifference) {
  // Original 1, fill 0.25: an image with a fraction f of pixels shown has channel-0 mean 0.25 + 0.75 f.
  const InputBlob original = constant_blob(3, 4, 5, 1.0f), fill = constant_blob(3, 4, 5, 0.25f);
  std::vector<int> batches;
  const int samples = 7;
  const MaskWriter masks = [](int first, int count, float* out) {
    for (int s = 0; s < count; ++s)
      for (int p = 0; p < 20; ++p) out[s * 20 + p] = p < (first + s) * 3 ? 1.0f : 0.0f;  // 3 more pixels per sample
  };
  const MaskedProbabilities probs = masked_probabilities(FakeClassifier{&batches}, original, fill, samples, masks, 3);
  ASSERT_EQ(probs.classes, 2);
  ASSERT_EQ(probs.values.size(), 14u);
  for (int s = 0; s < samples; ++s) {
    const double shown = std::min(20, s * 3) / 20.0;
    EXPECT_NEAR(probs.values[s * 2], 0.25 + 0.75 * shown, 1e-6) << s;
    EXPECT_NEAR(probs.values[s * 2 + 1], 1.0 - (0.25 + 0.75 * shown), 1e-6) << s;
  }
  EXPECT_EQ(batches, (std::vector<int>{3, 3, 1}));  // batched, the last one short
}

TEST(Perturbation, RegionMasksFollowTheSwitches) {
  cv::Mat segments = (cv::Mat_<int>(2, 3) << 0, 0, 1, 2, 2, 1);
  const std::vector<uint8_t> switches = {1, 1, 1, /* */ 0, 1, 0, /* */ 1, 0, 1};
  const MaskWriter masks = region_masks(segments, switches, 3);
  std::vector<float> out(2 * 6);
  masks(1, 2, out.data());
  EXPECT_EQ(out, (std::vector<float>{0, 0, 1, 0, 0, 1, /* */ 1, 1, 0, 1, 1, 0}));
}

TEST(Perturbation, SwitchesAreSeededWithTheFirstRowOn) {
  const auto a = sample_switches(50, 9, 3), b = sample_switches(50, 9, 3), c = sample_switches(50, 9, 4);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  for (int j = 0; j < 9; ++j) EXPECT_EQ(a[j], 1);
}

TEST(Perturbation, FillModes) {
  cv::Mat view(4, 4, CV_32FC3);
  cv::randu(view, 0.0, 1.0);
  cv::Mat segments(4, 4, CV_32SC1, cv::Scalar(0));
  segments(cv::Rect(2, 0, 2, 4)).setTo(1);
  const cv::Mat mean = fill_image(view, segments, 2, HideMode::mean, {});
  const cv::Scalar left = cv::mean(view(cv::Rect(0, 0, 2, 4))), right = cv::mean(view(cv::Rect(2, 0, 2, 4)));
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(mean.at<cv::Vec3f>(1, 1)[c], left[c], 1e-6);
    EXPECT_NEAR(mean.at<cv::Vec3f>(3, 3)[c], right[c], 1e-6);
  }
  const cv::Mat constant = fill_image(view, segments, 2, HideMode::constant, {0.1f, 0.2f, 0.3f});
  EXPECT_FLOAT_EQ(constant.at<cv::Vec3f>(2, 2)[2], 0.3f);
  EXPECT_THROW(fill_image(view, segments, 2, HideMode::constant, {1.5f}), Error);
  EXPECT_THROW(fill_image(view, segments, 2, HideMode::constant, {0.1f, 0.2f}), Error);
  const cv::Mat blur = fill_image(view, segments, 2, HideMode::blur, {});
  EXPECT_EQ(blur.size(), view.size());
  EXPECT_GT(cv::norm(blur, view), 0.0);
}

TEST(Perturbation, BadBatchSizeIsAUsageError) {
  std::vector<int> batches;
  const InputBlob b = constant_blob(1, 2, 2, 0.5f);
  EXPECT_THROW(masked_probabilities(FakeClassifier{&batches}, b, b, 3, [](int, int, float*) {}, 0), Error);
}

}  // namespace
}  // namespace xai
