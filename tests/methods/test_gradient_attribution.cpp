// Integrated Gradients and SmoothGrad against closed forms: a linear TorchScript model (logits =
// W x + b) whose W the test recovers by finite differences of forward passes alone, so that the
// gradient code is checked against something it did not compute.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <opencv2/imgcodecs.hpp>

#include "gradient_models.hpp"
#include "test_helpers.hpp"
#include "xai/error.hpp"
#include "methods/gradient_attribution.hpp"
#include "model/batch_tuner.hpp"
#include "xai/methods.hpp"
#include "xai/model.hpp"

namespace xai {
namespace {

TEST(GradientAttribution, TrapezoidWeights) {
  const std::vector<double> w = trapezoid_weights(5);
  EXPECT_DOUBLE_EQ(w[0], 0.125);
  EXPECT_DOUBLE_EQ(w[2], 0.25);
  EXPECT_NEAR(std::accumulate(w.begin(), w.end(), 0.0), 1.0, 1e-15);
  EXPECT_THROW(trapezoid_weights(1), Error);
  EXPECT_THROW(trapezoid_weights(0), Error);
}

// f(x) = Σ x_i² per image: ∇f = 2x.
ScoreGradients quadratic_gradients(const ImageBatch& b) {
  ScoreGradients g;
  const size_t n = static_cast<size_t>(b.channels) * b.height * b.width;
  for (int i = 0; i < b.count; ++i) {
    double s = 0;
    for (size_t k = 0; k < n; ++k) {
      const float v = b.values[i * n + k];
      s += double(v) * v;
      g.gradients.push_back(2 * v);
    }
    g.scores.push_back(s);
  }
  return g;
}

TEST(GradientAttribution, IntegratedGradientsOfAQuadraticIsExactWithTheTrapezoidRule) {
  // f(x) = Σ x_i² on 1 channel: ∇f = 2x, linear along the path, so the trapezoid rule is exact at
  // any step count and the attribution is x_i² − x'_i².
  const ScoreGradient quadratic{[](const ImageBatch& b, const std::vector<int>&) { return quadratic_gradients(b); }};
  InputBlob x{1, 2, 2, {0.5f, -1.0f, 2.0f, 0.0f}}, base{1, 2, 2, {0.1f, 0.1f, -0.5f, 0.3f}};
  GradientOptions o;
  o.steps = 3;
  o.batch_size = 2;
  const InputAttribution a = integrated_gradients(quadratic, x, base, 0, o);
  for (int i = 0; i < 4; ++i)
    EXPECT_NEAR(a.pixels.ptr<float>()[i], x.values[i] * x.values[i] - base.values[i] * base.values[i], 1e-6);
  EXPECT_NEAR(a.total, a.score - a.baseline_score, 1e-6);
  EXPECT_EQ(a.gradient_images, 3);
}

TEST(GradientAttribution, ATunersSizeThatDoesNotFitRunsItsImagesAgainSmaller) {
  // A device that holds 4 images per forward + backward: the tuner's 8 runs out of memory, is dropped,
  // and its path points are made and run again smaller, so the attribution is a fixed batch's, bit for
  // bit, every point counted once.
  std::vector<int> passes;
  BatchTuner tuner({2, 4, 8}, 1);
  const ScoreGradient holds_four{[&](const ImageBatch& b, const std::vector<int>&) {
                                   passes.push_back(b.count);
                                   if (b.count > 4) throw DeviceMemoryError("out of memory");
                                   return quadratic_gradients(b);
                                 },
                                 &tuner};
  const InputBlob x{1, 2, 2, {0.5f, -1.0f, 2.0f, 0.0f}}, base{1, 2, 2, {0.1f, 0.1f, -0.5f, 0.3f}};
  GradientOptions o;
  o.steps = 40;
  ASSERT_EQ(o.batch_size, 0) << "the default is measured";
  const InputAttribution tuned = integrated_gradients(holds_four, x, base, 0, o);
  o.batch_size = 3;
  const InputAttribution fixed =
      integrated_gradients(ScoreGradient{[](const ImageBatch& b, const std::vector<int>&) { return quadratic_gradients(b); }},
                           x, base, 0, o);
  EXPECT_EQ(tuned.gradient_images, 40);
  EXPECT_EQ(cv::norm(tuned.pixels, fixed.pixels, cv::NORM_INF), 0);
  EXPECT_EQ(tuned.total, fixed.total);
  EXPECT_NE(std::find(passes.begin(), passes.end(), 8), passes.end()) << "8 was tried";
  EXPECT_TRUE(tuner.chosen() == 2 || tuner.chosen() == 4) << tuner.chosen();
  // A size the caller gave is the caller's: the error is reported, not worked around.
  o.batch_size = 8;
  EXPECT_THROW(integrated_gradients(holds_four, x, base, 0, o), DeviceMemoryError);
}

class LinearModel : public ::testing::Test {
 protected:
  void SetUp() override {
    test::GradientCase c = test::gradient_case(dir_, model_, 1);
    image_ = c.image;
    options_ = c.options;
    w_ = test::weights_by_forward_passes(model_, 1);
  }
  cv::Mat channel_sum(const std::vector<double>& per_input) const { return test::channel_sum_8x8(per_input); }
  Model model_ = Model::load(test::data_path("linear-scripted.pt"));
  test::TempDir dir_;
  PreparedImage image_;
  ExplainOptions options_;
  std::vector<double> w_;
};

TEST_F(LinearModel, IntegratedGradientsIsWTimesTheDistanceToTheBaseline) {
  for (Baseline b : {Baseline::black, Baseline::mean, Baseline::blur}) {
    SCOPED_TRACE(to_string(b));
    options_.gradients.baseline = b;
    options_.gradients.steps = 4;
    const auto results = find_method("intgrad").compute(model_, {&image_}, options_, {});
    const InputBlob baseline = normalise(baseline_view(image_.view, b), model_.card());
    std::vector<double> expected(192);
    for (int i = 0; i < 192; ++i) expected[i] = w_[i] * (double(image_.blob.values[i]) - baseline.values[i]);
    const cv::Mat want = channel_sum(expected);
    const DenseMap& m = results.front().maps.front();
    ASSERT_EQ(m.values.size(), cv::Size(8, 8));
    for (int p = 0; p < 64; ++p) EXPECT_NEAR(m.values.ptr<float>()[p], want.ptr<double>()[p], 2e-5) << p;
    EXPECT_LT(m.details["completeness"]["relative_error"].get<double>(), 1e-5);
    EXPECT_EQ(results.front().gradient_images, 4);
  }
}

TEST_F(LinearModel, SmoothGradIsW) {
  options_.gradients.samples = 5;
  options_.gradients.noise = 0.5;
  const auto results = find_method("smoothgrad").compute(model_, {&image_}, options_, {});
  const cv::Mat want = channel_sum(w_);
  const DenseMap& m = results.front().maps.front();
  for (int p = 0; p < 64; ++p) EXPECT_NEAR(m.values.ptr<float>()[p], want.ptr<double>()[p], 2e-5) << p;
}

TEST_F(LinearModel, NoisyDrawsAreTheSameWhateverTheBatch) {
  // The draws of a batch are generated side by side (gradients_of): each must still depend on its
  // index alone, so every batch size, and so every split over threads, gives the same bits.
  options_.gradients.samples = 7;
  options_.gradients.noise = 0.3;
  for (const char* method : {"smoothgrad", "gradientshap"}) {
    SCOPED_TRACE(method);
    std::vector<cv::Mat> maps;
    for (int batch : {1, 3, 7}) {
      options_.gradients.batch_size = batch;
      maps.push_back(find_method(method).compute(model_, {&image_}, options_, {}).front().maps.front().values);
    }
    EXPECT_EQ(cv::norm(maps[0], maps[1], cv::NORM_INF), 0.0);
    EXPECT_EQ(cv::norm(maps[0], maps[2], cv::NORM_INF), 0.0);
    // and the noise is there: GradientSHAP's map is W ⊙ E[x̃ − b], which the draws move
    if (std::string(method) == "gradientshap") {
      options_.gradients.noise = 0.0;
      const cv::Mat quiet = find_method(method).compute(model_, {&image_}, options_, {}).front().maps.front().values;
      EXPECT_GT(cv::norm(maps[0], quiet, cv::NORM_INF), 0.0);
    }
  }
}

TEST_F(LinearModel, BadSettingsAreUsageErrors) {
  options_.gradients.steps = 1;
  EXPECT_THROW(find_method("intgrad").compute(model_, {&image_}, options_, {}), Error);
  options_.gradients.samples = 0;
  EXPECT_THROW(find_method("smoothgrad").compute(model_, {&image_}, options_, {}), Error);
}

}  // namespace
}  // namespace xai
