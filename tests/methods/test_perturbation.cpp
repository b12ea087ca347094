// The perturbation core against closed forms, with a fake classifier (no model): composition of
// masked images, region masks, fill modes, batching.
#include <gtest/gtest.h>

#include <numeric>
#include <opencv2/imgproc.hpp>

#include "npy_reader.hpp"
#include "test_helpers.hpp"
#include "model/batch_tuner.hpp"
#include "xai/error.hpp"
#include "output/npy.hpp"
#include "methods/perturbation.hpp"

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
  const cv::Mat mean = fill_image(view, segments, 2, FillSpec{});
  const cv::Scalar left = cv::mean(view(cv::Rect(0, 0, 2, 4))), right = cv::mean(view(cv::Rect(2, 0, 2, 4)));
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(mean.at<cv::Vec3f>(1, 1)[c], left[c], 1e-6);
    EXPECT_NEAR(mean.at<cv::Vec3f>(3, 3)[c], right[c], 1e-6);
  }
  const cv::Mat constant = fill_image(view, segments, 2, {HideMode::constant, {0.1f, 0.2f, 0.3f}});
  EXPECT_FLOAT_EQ(constant.at<cv::Vec3f>(2, 2)[2], 0.3f);
  EXPECT_THROW(fill_image(view, segments, 2, {HideMode::constant, {1.5f}}), Error);
  EXPECT_THROW(fill_image(view, segments, 2, {HideMode::constant, {0.1f, 0.2f}}), Error);
  const cv::Mat blur = fill_image(view, segments, 2, {HideMode::blur});
  EXPECT_EQ(blur.size(), view.size());
  EXPECT_GT(cv::norm(blur, view), 0.0);
  EXPECT_THROW(fill_image(view, segments, 2, {HideMode::inpaint}), Error);
}

TEST(Perturbation, BoxBlurIsTheMeanOfTheKernelWindow) {
  cv::Mat view(9, 9, CV_32FC3);
  cv::randu(view, 0.0, 1.0);
  const FillSpec spec = parse_fill("blur(3,3)");
  ASSERT_EQ(spec.blur_kernel, 3);
  EXPECT_EQ(to_string(spec), "blur(3,3)");
  const cv::Mat blur = fill_image(view, cv::Mat(9, 9, CV_32SC1, cv::Scalar(0)), 1, spec);
  for (int c = 0; c < 3; ++c) {  // an interior pixel: the mean of its 3x3 neighbourhood, by hand
    double sum = 0;
    for (int dy = -1; dy <= 1; ++dy)
      for (int dx = -1; dx <= 1; ++dx) sum += view.at<cv::Vec3f>(4 + dy, 5 + dx)[c];
    EXPECT_NEAR(blur.at<cv::Vec3f>(4, 5)[c], sum / 9, 1e-6);
  }
}

TEST(Perturbation, FillNames) {
  EXPECT_EQ(parse_fill("mean").mode, HideMode::mean);
  EXPECT_EQ(parse_fill("constant").mode, HideMode::constant);
  EXPECT_EQ(parse_fill("inpaint_telea").mode, HideMode::inpaint);
  EXPECT_EQ(parse_fill("blur").blur_kernel, 0);
  for (const char* bad : {"blur(3,4)", "blur(0,0)", "blur(3,3", "blur(3,3)x", "median"})
    EXPECT_THROW(parse_fill(bad), Error) << bad;
}

TEST(Perturbation, InpaintingFillsOnlyTheHiddenPixelsFromTheirSurroundings) {
  // A smooth horizontal ramp with a hidden vertical band: Telea fills the band with values between
  // the band's two edges; every shown pixel keeps its own value.
  cv::Mat view(16, 16, CV_32FC3);
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 16; ++x) view.at<cv::Vec3f>(y, x) = cv::Vec3f(x / 15.0f, 0.5f, 1 - x / 15.0f);
  ModelCard card;
  card.input_height = card.input_width = 16;
  card.mean = {0, 0, 0};
  card.std = {1, 1, 1};
  const PerturbationBase base = perturbation_base(view, cv::Mat(16, 16, CV_32SC1, cv::Scalar(0)), 1,
                                                  {HideMode::inpaint}, card);
  ASSERT_TRUE(static_cast<bool>(base.mask_fill));
  std::vector<float> mask(256, 1.0f), fill(3 * 256);
  for (int y = 0; y < 16; ++y)
    for (int x = 6; x < 10; ++x) mask[y * 16 + x] = 0.0f;
  base.mask_fill(mask.data(), fill.data());
  for (int y = 2; y < 14; ++y)
    for (int x = 6; x < 10; ++x) {
      const float red = fill[y * 16 + x];
      EXPECT_GE(red, 5 / 15.0f - 0.02f);
      EXPECT_LE(red, 10 / 15.0f + 0.02f);
      EXPECT_NEAR(fill[256 + y * 16 + x], 0.5f, 0.01f);
    }
  // Composed with the mask, the perturbed image shows the original wherever the mask is 1.
  std::vector<int> batches;
  std::vector<float> seen;
  Classifier remember = [&](const ImageBatch& b) {
    seen.assign(b.values, b.values + 3 * 256);
    return std::vector<double>{1.0};
  };
  masked_probabilities(remember, base, 1, [&](int, int, float* m) { std::copy(mask.begin(), mask.end(), m); }, 1);
  EXPECT_FLOAT_EQ(seen[3 * 16 + 2], view.at<cv::Vec3f>(3, 2)[0]);
  EXPECT_FLOAT_EQ(seen[3 * 16 + 7], fill[3 * 16 + 7]);
}

TEST(Perturbation, BadBatchSizeIsAUsageError) {
  std::vector<int> batches;
  const InputBlob b = constant_blob(1, 2, 2, 0.5f);
  EXPECT_THROW(masked_probabilities(FakeClassifier{&batches}, b, b, 3, [](int, int, float*) {}, -1), Error);
  masked_probabilities(FakeClassifier{&batches}, b, b, 100, [](int, int, float*) {}, 0);
  EXPECT_EQ(batches, (std::vector<int>{kDefaultProbeBatch, 100 - kDefaultProbeBatch})) << "0 without a tuner: the default";
}

// With a tuner, the batches are the tuner's: its candidates in turn, then its choice.
TEST(Perturbation, BatchSizesFromTheTuner) {
  std::vector<int> batches;
  const InputBlob b = constant_blob(1, 2, 2, 0.5f);
  BatchTuner tuner({2, 3}, 1);
  masked_probabilities(FakeClassifier{&batches}, b, b, 20, [](int, int, float*) {}, 0, &tuner);
  ASSERT_GE(batches.size(), 4u);
  EXPECT_EQ(std::vector<int>(batches.begin(), batches.begin() + 3), (std::vector<int>{2, 2, 3})) << "warm-up, then each";
  EXPECT_NE(tuner.chosen(), 0);
  int total = 0;
  for (int n : batches) total += n;
  EXPECT_EQ(total, 20);
}

// A device that holds at most 12 images: the tuner's larger sizes fail, their samples run again smaller,
// and every sample is classified exactly once in order. A size the caller fixed is reported instead.
TEST(Perturbation, BatchesThatExceedTheDevicesMemoryRunAgainSmaller) {
  std::vector<int> batches;
  std::vector<float> first_values;  // the mask value each classified sample had: its index
  const Classifier small_device = [&](const ImageBatch& b) {
    if (b.count > 12) throw DeviceMemoryError("out of memory running " + std::to_string(b.count) + " images");
    batches.push_back(b.count);
    std::vector<double> out;
    for (int s = 0; s < b.count; ++s) {
      first_values.push_back(b.values[static_cast<size_t>(s) * 4]);
      out.push_back(b.values[static_cast<size_t>(s) * 4]);
    }
    return out;
  };
  const InputBlob original = constant_blob(1, 2, 2, 1.0f), fill = constant_blob(1, 2, 2, 0.0f);
  // Mask of sample s: s / 100 everywhere, so the composed image's value names its sample.
  const MaskWriter masks = [](int first, int count, float* out) {
    for (int s = 0; s < count; ++s) std::fill(out + s * 4, out + s * 4 + 4, (first + s) / 100.0f);
  };
  BatchTuner tuner({4, 8, 16, 32}, 1);
  const MaskedProbabilities probs = masked_probabilities(small_device, original, fill, 60, masks, 0, &tuner);
  ASSERT_EQ(probs.values.size(), 60u);
  for (int s = 0; s < 60; ++s) EXPECT_NEAR(probs.values[s], s / 100.0, 1e-6) << s;
  EXPECT_EQ(first_values.size(), 60u) << "no sample twice, none lost";
  for (int n : batches) EXPECT_LE(n, 12);
  EXPECT_EQ(tuner.candidates(), (std::vector<int>{4, 8}));
  EXPECT_THROW(masked_probabilities(small_device, original, fill, 60, masks, 16), DeviceMemoryError);
}

// Noisy linear imputation (ROAD) without its noise equals the same sparse system solved by scipy
// (tests/reference/imputation_reference.py), on a picture with scattered pixels and a block hidden,
// touching the border too.
TEST(LinearImputation, EqualsScipyOnROADsSystem) {
  test::TempDir dir;
  cv::Mat view(20, 26, CV_32FC3);
  cv::randu(view, 0.0, 1.0);
  cv::Mat hidden(view.size(), CV_8UC1);
  cv::randu(hidden, 0, 2);
  hidden(cv::Rect(3, 4, 9, 7)).setTo(1);
  hidden(cv::Rect(0, 0, 5, 3)).setTo(1);
  write_npy(dir.file("view.npy"), view.ptr<float>(), {20, 26, 3});
  cv::Mat hidden_float;
  hidden.convertTo(hidden_float, CV_32F);
  write_npy(dir.file("hidden.npy"), hidden_float.ptr<float>(), {20, 26});
  int status = 0;
  const std::string output = test::run_command(XAI_PYTHON " " + std::string(XAI_SOURCE_DIR) +
                                                   "/tests/reference/imputation_reference.py " + dir.path.string() + " 2>&1",
                                               &status);
  ASSERT_EQ(status, 0) << "the reference did not run: " << output;
  const test::NpyArray expected = test::read_npy(dir.file("imputed.npy"));
  const cv::Mat ours = impute_hidden(view, hidden * 255, 0.0, 0);
  ASSERT_EQ(expected.data.size(), ours.total() * 3);
  double changed = 0;
  for (size_t i = 0; i < expected.data.size(); ++i) {
    EXPECT_NEAR(ours.ptr<float>()[i], expected.data[i], 1e-5) << i;
    changed = std::max(changed, std::abs(double(expected.data[i]) - view.ptr<float>()[i]));
  }
  EXPECT_GT(changed, 0.05) << "the hidden pixels were replaced";
}

// A linear ramp is its own imputation inside the image (the weights are symmetric), and the noise is
// N(0, noise^2) on the hidden pixels only, the same for the same seed.
TEST(LinearImputation, RampIsExactAndNoiseIsSeededAndOnHiddenPixelsOnly) {
  cv::Mat ramp(30, 40, CV_32FC1);
  for (int y = 0; y < 30; ++y)
    for (int x = 0; x < 40; ++x) ramp.at<float>(y, x) = 0.01f * x + 0.02f * y + 0.1f;
  cv::Mat hidden = cv::Mat::zeros(ramp.size(), CV_8UC1);
  hidden(cv::Rect(5, 5, 30, 20)).setTo(255);
  const cv::Mat exact = impute_hidden(ramp, hidden, 0.0, 0);
  EXPECT_LT(cv::norm(exact, ramp, cv::NORM_INF), 1e-5);
  const cv::Mat noisy = impute_hidden(ramp, hidden, 0.01, 7);
  const cv::Mat again = impute_hidden(ramp, hidden, 0.01, 7);
  EXPECT_EQ(cv::norm(noisy, again, cv::NORM_INF), 0.0);
  cv::Scalar mean, spread;
  cv::meanStdDev(noisy - exact, mean, spread, hidden);
  EXPECT_NEAR(spread[0], 0.01, 0.001);
  EXPECT_NEAR(mean[0], 0.0, 0.001);
  cv::Mat shown_difference;
  cv::absdiff(noisy, ramp, shown_difference);
  shown_difference.setTo(0, hidden);
  EXPECT_EQ(cv::countNonZero(shown_difference), 0);
  // Everything hidden: nothing to impute from, the image's mean colour.
  const cv::Mat all = impute_hidden(ramp, cv::Mat(ramp.size(), CV_8UC1, cv::Scalar(255)), 0.01, 7);
  EXPECT_NEAR(cv::norm(all - cv::mean(ramp)[0], cv::NORM_INF), 0.0, 1e-6);
  EXPECT_EQ(parse_fill("road").mode, HideMode::linear);
  EXPECT_EQ(to_string(parse_fill("linear")), "linear");
}

}  // namespace
}  // namespace xai
