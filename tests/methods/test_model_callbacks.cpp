// The model as the perturbation methods call it (model_callbacks.cpp): images composed where the
// model runs must be the images composed on the host, bit for bit.
#include <gtest/gtest.h>

#include <random>

#include "test_helpers.hpp"
#include "methods/perturbation.hpp"
#include "xai/model.hpp"

namespace xai {
namespace {

cv::Mat random_view(int height, int width, int type, uint64_t seed) {
  cv::Mat view(height, width, type);
  cv::RNG rng(seed);
  rng.fill(view, cv::RNG::UNIFORM, 0.0, 1.0);
  return view;
}

// Masks with fractional values (as RISE's), different in every sample.
MaskWriter random_masks(size_t pixels, uint64_t seed) {
  return [pixels, seed](int first, int count, float* masks) {
    for (int s = 0; s < count; ++s) {
      std::mt19937_64 rng(seed + first + s);
      std::uniform_real_distribution<float> value(0.0f, 1.0f);
      for (size_t p = 0; p < pixels; ++p) masks[s * pixels + p] = value(rng);
    }
  };
}

void expect_same_as_host_composition(const std::string& model_file, int type) {
  Model model = Model::load(test::model_path(model_file));
  const ModelCard& card = model.card();
  const cv::Mat view = random_view(card.input_height, card.input_width, type, 7);
  cv::Mat segments(view.size(), CV_32SC1);
  for (int y = 0; y < view.rows; ++y)
    for (int x = 0; x < view.cols; ++x) segments.at<int>(y, x) = (y / 16) * 4 + x / 16;
  const PerturbationBase base = perturbation_base(view, segments, 16, parse_fill("mean"), card);
  const MaskWriter masks = with_original_first(random_masks(view.total(), 11), view.total());

  Prediction on_model_side, on_host;
  const Classifier composing = model_classifier(model, &on_model_side);
  ASSERT_TRUE(composing.on_base) << "the model's classifier composes where the model runs";
  Classifier host = model_classifier(model, &on_host);
  host.on_base = nullptr;  // compose on the host, as for a fill that depends on the mask
  const MaskedProbabilities a = masked_probabilities(composing, base, 13, masks, 5);
  const MaskedProbabilities b = masked_probabilities(host, base, 13, masks, 5);
  ASSERT_EQ(a.classes, b.classes);
  ASSERT_EQ(a.values.size(), 13u * a.classes);
  EXPECT_EQ(a.values, b.values) << "the same images, so the same probabilities";
  EXPECT_EQ(on_model_side.logits, on_host.logits) << "sample 0 is the unperturbed image in both";
  // Sample 0 shows the original: its probabilities are the model's prediction of the image.
  const Prediction direct = model.predict({base.original}).front();
  for (int c = 0; c < a.classes; ++c) EXPECT_NEAR(a.values[c], direct.probabilities[c], 1e-6) << c;
}

TEST(ModelCallbacks, ImagesComposedWhereTheModelRunsAreTheHostsImages) {
  expect_same_as_host_composition("tiny-scripted.pt", CV_32FC3);
}

TEST(ModelCallbacks, GrayModelsComposeTheSame) {
  expect_same_as_host_composition("tiny-binary-scripted.pt", CV_32FC1);
}

}  // namespace
}  // namespace xai
