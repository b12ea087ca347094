// --samples auto: its building blocks against their definitions (the Spearman–Brown estimate against
// a Monte Carlo of noisy estimates whose limit is known, the refit schedule), then LIME and Kernel
// SHAP with it on a real model.
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>

#include "test_helpers.hpp"
#include "methods/adaptive_sampling.hpp"
#include "xai/methods.hpp"
#include "analysis/metrics.hpp"
#include "core/statistics.hpp"
#include "xai/model.hpp"

namespace {

using namespace xai;

// Estimates with a known limit: w (50 regions) plus noise of variance σ²/n. Two independent halves
// (noise 2σ²/n each) give the half agreement; their mean is the n-sample estimate, compared with w.
TEST(AdaptiveSampling, SettledAgreementPredictsTheAgreementWithTheLimit) {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> normal(0, 1);
  for (double noise : {0.2, 0.5, 1.0}) {
    double predicted = 0, actual = 0;
    const int trials = 2000;
    for (int t = 0; t < trials; ++t) {
      std::vector<double> limit(50), a(50), b(50), full(50);
      for (int j = 0; j < 50; ++j) {
        limit[j] = normal(rng);
        a[j] = limit[j] + noise * std::sqrt(2.0) * normal(rng);
        b[j] = limit[j] + noise * std::sqrt(2.0) * normal(rng);
        full[j] = (a[j] + b[j]) / 2;
      }
      predicted += settled_agreement(half_agreement(a, b)) / trials;
      actual += spearman(full, limit) / trials;
    }
    // Spearman–Brown holds exactly for Pearson's r; for Spearman's ρ on Gaussian data within ~0.01.
    EXPECT_NEAR(predicted, actual, 0.02) << "noise " << noise;
  }
}

TEST(AdaptiveSampling, SettledAgreementEnds) {
  EXPECT_DOUBLE_EQ(settled_agreement(1.0), 1.0);
  EXPECT_DOUBLE_EQ(settled_agreement(0.0), 0.0);
  EXPECT_DOUBLE_EQ(settled_agreement(-0.3), 0.0);
  EXPECT_NEAR(settled_agreement(0.8), std::sqrt(1.6 / 1.8), 1e-12);
}

TEST(AdaptiveSampling, HalfAgreementOfConstantWeights) {
  EXPECT_EQ(half_agreement({0, 0, 0}, {0, 0, 0}), 1.0) << "a model that ignores every region is settled";
  EXPECT_EQ(half_agreement({0, 0, 0}, {0, 1, 0}), 0.0);
  EXPECT_NEAR(half_agreement({1, 2, 3}, {3, 2, 1}), -1.0, 1e-12);
}

TEST(AdaptiveSampling, CheckPointsGrowByAQuarterInWholeBatches) {
  const std::vector<int> points = check_points(100, 1000, 64);
  ASSERT_FALSE(points.empty());
  EXPECT_EQ(points.front(), 128);
  EXPECT_EQ(points.back(), 1000);
  for (size_t i = 1; i < points.size(); ++i) {
    EXPECT_GT(points[i], points[i - 1]);
    if (points[i] != 1000) {
      EXPECT_EQ(points[i] % 64, 0);
      EXPECT_GE(points[i], 1.25 * points[i - 1] - 1e-9);
      EXPECT_LT(points[i], 1.25 * points[i - 1] + 64);
    }
  }
  EXPECT_EQ(check_points(100, 50, 64), std::vector<int>{50}) << "max below the first check";
  EXPECT_EQ(check_points(10, 13, 1), (std::vector<int>{10, 13}));
}

}  // namespace

// --samples auto through the registry on a real model (the tiny CNN: every region matters a little).
namespace {

using namespace xai;

class AutoSamples : public ::testing::Test {
 protected:
  void SetUp() override {
    cv::Mat noise(64, 64, CV_8UC3);
    cv::theRNG().state = 5;
    cv::randu(noise, 0, 255);
    cv::GaussianBlur(noise, noise, cv::Size(9, 9), 3);  // some structure for SLIC to follow
    cv::imwrite(dir_.file("patch.png"), noise);
    image_ = prepare_image(dir_.file("patch.png"), model_.card(), {});
    options_.cam.target.kind = TargetSpec::Kind::given;
    options_.cam.target.class_index = 1;
    options_.lime.superpixels.segments = 20;
    options_.lime.batch_size = 16;
    options_.lime.adaptive.enabled = true;
    options_.lime.adaptive.max_samples = 4000;
  }
  MethodResult run(const char* method, const ExplainOptions& options) {
    return find_method(method).compute(model_, {&image_}, options, {}).front();
  }
  Model model_ = Model::load(test::model_path("tiny-scripted.pt"));
  test::TempDir dir_;
  PreparedImage image_;
  ExplainOptions options_;
};

// Auto stops at n samples once settled, and its weights are those of a fixed --samples n: the
// rounds extend one sample sequence. A tighter tolerance takes more samples.
TEST_F(AutoSamples, StopsWhenSettledWithTheWeightsOfThatFixedCount) {
  for (const char* method : {"lime", "kernelshap"}) {
    SCOPED_TRACE(method);
    const MethodResult automatic = run(method, options_);
    const auto& sampling = automatic.summary["sampling"];
    ASSERT_EQ(sampling["mode"], "auto");
    EXPECT_TRUE(sampling["settled"].get<bool>());
    EXPECT_GE(sampling["estimated_agreement"].get<double>(), 0.97);
    const int used = sampling["samples"].get<int>();
    std::cout << method << ": " << sampling.dump() << ", " << automatic.maps.front().region_weights.size() << " regions\n";
    EXPECT_LT(used, 4000);
    EXPECT_TRUE(automatic.warnings.empty());

    ExplainOptions fixed = options_;
    fixed.lime.adaptive.enabled = false;
    fixed.lime.paired = true;  // auto's LIME draws complementary pairs
    fixed.lime.samples = fixed.shap.samples = used;
    const MethodResult same = run(method, fixed);
    EXPECT_EQ(same.summary["sampling"]["mode"], "fixed");
    const auto &a = automatic.maps.front().region_weights, &b = same.maps.front().region_weights;
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-6) << "region " << i;

    ExplainOptions tighter = options_;
    tighter.lime.adaptive.tolerance = 0.002;
    EXPECT_GT(run(method, tighter).summary["sampling"]["samples"].get<int>(), used);
  }
}

// The estimate is honest: the auto weights agree with a 20 000-sample explanation (another seed,
// close to the limit) about as well as auto said they would.
TEST_F(AutoSamples, EstimatedAgreementMatchesAgreementWithAManySampleReference) {
  options_.lime.adaptive.tolerance = 0.03;
  const MethodResult automatic = run("lime", options_);
  ExplainOptions reference = options_;
  reference.lime.adaptive.enabled = false;
  reference.lime.samples = 20000;
  reference.lime.seed = 99;
  reference.lime.batch_size = 256;
  const MethodResult limit = run("lime", reference);
  const double actual = spearman(automatic.maps.front().region_weights, limit.maps.front().region_weights);
  const double estimated = automatic.summary["sampling"]["estimated_agreement"].get<double>();
  std::cout << "estimated " << estimated << ", against 20000 samples " << actual << " ("
            << automatic.summary["sampling"]["samples"] << " samples)\n";
  EXPECT_NEAR(actual, estimated, 0.04);
}

// Unsettled at the ceiling: the result says so and a warning tells what to do.
TEST_F(AutoSamples, UnsettledAtTheCeilingWarns) {
  options_.lime.adaptive.max_samples = 40;
  options_.lime.adaptive.tolerance = 0.001;
  const MethodResult r = run("lime", options_);
  EXPECT_FALSE(r.summary["sampling"]["settled"].get<bool>());
  EXPECT_EQ(r.summary["sampling"]["samples"], 40);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings.front().find("not settled after 40 samples"), std::string::npos) << r.warnings.front();
  EXPECT_EQ(r.model_images, 40);
}

}  // namespace
