// GradientSHAP against its definition, mean over draws of ∇f(b + α(x̃ − b)) ⊙ (x̃ − b), on models whose
// gradients are known without the code under test: on the linear model it is W ⊙ (x − blur(x)) exactly
// without noise and within the noise's standard error with it; on the quadratic model (∇f = 2z) without
// noise it is 2b ⊙ d + 2ᾱ d² (d = x − b) for ONE mean ᾱ shared by every pixel, which must lie where a
// mean of uniform draws lies.
#include <gtest/gtest.h>

#include <cmath>

#include "gradient_models.hpp"
#include "methods/gradient_attribution.hpp"
#include "xai/methods.hpp"

namespace xai {
namespace {

std::vector<double> blurred(const PreparedImage& image, const ModelCard& card) {
  const InputBlob b = normalise(baseline_view(image.view, Baseline::blur), card);
  return std::vector<double>(b.values.begin(), b.values.end());
}

TEST(GradientShap, IsWTimesTheDistanceToTheBlurredImageOnALinearModel) {
  test::TempDir dir;
  Model model = Model::load(test::data_path("linear-scripted.pt"));
  test::GradientCase c = test::gradient_case(dir, model, 1);
  const std::vector<double> w = test::weights_by_forward_passes(model, 1);
  const std::vector<double> b = blurred(c.image, model.card());
  std::vector<double> expected(w.size());
  for (size_t i = 0; i < w.size(); ++i) expected[i] = w[i] * (c.image.blob.values[i] - b[i]);
  const cv::Mat want = test::channel_sum_8x8(expected);

  c.options.gradients.noise = 0;
  c.options.gradients.samples = 3;
  c.options.gradients.batch_size = 2;
  auto results = find_method("gradientshap").compute(model, {&c.image}, c.options, {});
  const DenseMap& exact = results.front().maps.front();
  EXPECT_TRUE(exact.is_signed);
  for (int p = 0; p < 64; ++p) EXPECT_NEAR(exact.values.ptr<float>()[p], want.ptr<double>()[p], 2e-5) << p;
  EXPECT_EQ(results.front().gradient_images, 3);

  // With noise on the input and on the baseline: the mean of n draws of W ⊙ (x − b + ε − η) has, per pixel,
  // the standard error σ √(2/n) √(Σ_c W_c²).
  const int n = 200;
  c.options.gradients.noise = 0.1;
  c.options.gradients.samples = n;
  c.options.gradients.batch_size = 64;
  results = find_method("gradientshap").compute(model, {&c.image}, c.options, {});
  const DenseMap& noisy = results.front().maps.front();
  const auto [lo, hi] = std::minmax_element(c.image.blob.values.begin(), c.image.blob.values.end());
  const double sigma = 0.1 * (*hi - *lo);
  double moved = 0;
  for (int p = 0; p < 64; ++p) {
    double w2 = 0;
    for (int ch = 0; ch < 3; ++ch) w2 += w[ch * 64 + p] * w[ch * 64 + p];
    const double standard_error = sigma * std::sqrt(2.0 / n) * std::sqrt(w2);
    const double error = noisy.values.ptr<float>()[p] - want.ptr<double>()[p];
    EXPECT_LT(std::abs(error), 5 * standard_error + 2e-5) << p;
    moved += std::abs(error);
  }
  EXPECT_GT(moved, 0) << "the noise was not applied";
  // Same seed, same map; another seed, another.
  const auto again = find_method("gradientshap").compute(model, {&c.image}, c.options, {});
  EXPECT_EQ(cv::norm(again.front().maps.front().values, noisy.values, cv::NORM_INF), 0);
  c.options.lime.seed += 1;
  const auto other = find_method("gradientshap").compute(model, {&c.image}, c.options, {});
  EXPECT_GT(cv::norm(other.front().maps.front().values, noisy.values, cv::NORM_INF), 0);
}

TEST(GradientShap, InterpolatesAtUniformRandomPointsOnAQuadraticModel) {
  test::TempDir dir;
  Model model = Model::load(test::quadratic_model(dir));
  test::GradientCase c = test::gradient_case(dir, model, 0);
  const int n = 300;
  c.options.gradients.noise = 0;
  c.options.gradients.samples = n;
  c.options.gradients.batch_size = 32;
  const auto results = find_method("gradientshap").compute(model, {&c.image}, c.options, {});
  const DenseMap& m = results.front().maps.front();
  const std::vector<double> b = blurred(c.image, model.card());
  // Per pixel: a = Σ_c 2 b_c d_c + 2ᾱ Σ_c d_c², solved for ᾱ.
  std::vector<double> alphas;
  for (int p = 0; p < 64; ++p) {
    double linear = 0, square = 0;
    for (int ch = 0; ch < 3; ++ch) {
      const double d = c.image.blob.values[ch * 64 + p] - b[ch * 64 + p];
      linear += 2 * b[ch * 64 + p] * d;
      square += 2 * d * d;
    }
    if (square > 1e-2) alphas.push_back((m.values.ptr<float>()[p] - linear) / square);
  }
  ASSERT_GT(alphas.size(), 32u);
  for (double alpha : alphas) EXPECT_NEAR(alpha, alphas.front(), 1e-3) << "every pixel shares the draws' mean alpha";
  // The mean of n uniform draws: mean 1/2, standard deviation 1/√(12 n).
  EXPECT_NEAR(alphas.front(), 0.5, 5 / std::sqrt(12.0 * n));
  EXPECT_GT(std::abs(alphas.front() - 0.5), 0) << "alpha was not drawn";
}

}  // namespace
}  // namespace xai
