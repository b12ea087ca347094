// The inference clone (frozen + optimize_for_inference) used for forward-only passes: the same
// probabilities and the same LIME weights as the module as loaded, on every committed model; the
// choice is reported, and a run that needs no forward-only pass never builds it.
#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>
#include <random>

#include "test_helpers.hpp"
#include "xai/explain.hpp"
#include "xai/lime.hpp"
#include "xai/model.hpp"

namespace xai {
namespace {

std::vector<InputBlob> random_batch(const ModelCard& card, int count, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> value(-2.0f, 2.0f);
  std::vector<InputBlob> batch;
  for (int i = 0; i < count; ++i) {
    InputBlob b{card.channel_count(), card.input_height, card.input_width, {}};
    b.values.resize(static_cast<size_t>(b.channels) * b.height * b.width);
    for (auto& v : b.values) v = value(rng);
    batch.push_back(std::move(b));
  }
  return batch;
}

Model load(const std::string& path, bool clone) {
  ModelOptions options;
  options.inference_clone = clone;
  return Model::load(path, options);
}

TEST(InferenceClone, SameProbabilitiesOnEveryCommittedModel) {
  for (const std::string& path :
       {test::model_path("tiny-scripted.pt"), test::model_path("tiny-traced.pt"),
        test::model_path("tiny-binary-scripted.pt"), test::model_path("tiny-binary-traced.pt"),
        test::model_path("demo-histo.pt"), test::data_path("region-scripted.pt"), test::data_path("linear-scripted.pt"),
        test::data_path("frozen-scripted.pt")}) {
    SCOPED_TRACE(path);
    Model plain = load(path, false), optimised = load(path, true);
    const auto batch = random_batch(plain.card(), 3, 5);
    const auto a = plain.predict(batch), b = optimised.predict(batch);
    EXPECT_EQ(plain.inference(), "plain");
    EXPECT_FALSE(optimised.inference().empty());
    if (path.find("frozen") == std::string::npos) EXPECT_EQ(optimised.inference(), "optimised");
    for (size_t i = 0; i < a.size(); ++i)
      for (size_t c = 0; c < a[i].probabilities.size(); ++c)
        EXPECT_NEAR(a[i].probabilities[c], b[i].probabilities[c], 1e-4);
  }
}

TEST(InferenceClone, SameLimeWeights) {
  Model plain = load(test::model_path("tiny-scripted.pt"), false);
  Model optimised = load(test::model_path("tiny-scripted.pt"), true);
  Image image;
  image.path = "noise";
  image.pixels = cv::Mat(64, 64, CV_32FC3);
  cv::randu(image.pixels, 0.0, 1.0);
  cv::GaussianBlur(image.pixels, image.pixels, cv::Size(0, 0), 4);  // structure for SLIC to follow
  LimeOptions options;
  options.samples = 200;
  options.superpixels.segments = 12;
  const LimeExplanation a = explain_lime(plain, image, options), b = explain_lime(optimised, image, options);
  ASSERT_EQ(a.classes.front().weights.size(), b.classes.front().weights.size());
  for (size_t s = 0; s < a.classes.front().weights.size(); ++s)
    EXPECT_NEAR(a.classes.front().weights[s], b.classes.front().weights[s], 1e-4);
  EXPECT_EQ(optimised.inference(), "optimised");
}

TEST(InferenceClone, GradientCamRunsNeverBuildIt) {
  Model model = load(test::model_path("tiny-scripted.pt"), true);
  ExplainOptions options;
  options.methods = {"gradcam"};
  ExplainPlan plan = plan_explanations(model, options);
  EXPECT_EQ(model.inference(), "");
  EXPECT_EQ(plan.model["inference"], "not used (no forward-only pass)");
  options.methods = {"gradcam", "occlusion"};
  plan = plan_explanations(model, options);
  EXPECT_EQ(plan.model["inference"], "optimised");
}

}  // namespace
}  // namespace xai
