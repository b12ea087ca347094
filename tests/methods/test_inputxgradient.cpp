// Input × Gradient against its definition: x ⊙ W on a linear model (W recovered from forward passes
// alone) and 2x² on a quadratic one, where the gradient depends on the input.
#include <gtest/gtest.h>

#include "gradient_models.hpp"
#include "xai/methods.hpp"

namespace xai {
namespace {

TEST(InputXGradient, IsTheInputTimesWOnALinearModel) {
  test::TempDir dir;
  Model model = Model::load(test::data_path("linear-scripted.pt"));
  test::GradientCase c = test::gradient_case(dir, model, 1);
  const std::vector<double> w = test::weights_by_forward_passes(model, 1);
  std::vector<double> expected(w.size());
  for (size_t i = 0; i < w.size(); ++i) expected[i] = w[i] * c.image.blob.values[i];
  const cv::Mat want = test::channel_sum_8x8(expected);
  const auto results = find_method("inputxgradient").compute(model, {&c.image}, c.options, {});
  const DenseMap& m = results.front().maps.front();
  ASSERT_EQ(m.values.size(), cv::Size(8, 8));
  EXPECT_TRUE(m.is_signed);
  for (int p = 0; p < 64; ++p) EXPECT_NEAR(m.values.ptr<float>()[p], want.ptr<double>()[p], 2e-5) << p;
  EXPECT_EQ(results.front().gradient_images, 1);
}

TEST(InputXGradient, IsTwiceTheSquareOnAQuadraticModel) {
  test::TempDir dir;
  Model model = Model::load(test::quadratic_model(dir));
  test::GradientCase c = test::gradient_case(dir, model, 0);
  std::vector<double> expected(c.image.blob.values.size());
  for (size_t i = 0; i < expected.size(); ++i) expected[i] = 2.0 * c.image.blob.values[i] * c.image.blob.values[i];
  const cv::Mat want = test::channel_sum_8x8(expected);
  const auto results = find_method("inputxgradient").compute(model, {&c.image}, c.options, {});
  const DenseMap& m = results.front().maps.front();
  for (int p = 0; p < 64; ++p) EXPECT_NEAR(m.values.ptr<float>()[p], want.ptr<double>()[p], 1e-4 * (1 + std::abs(want.ptr<double>()[p]))) << p;
}

}  // namespace
}  // namespace xai
