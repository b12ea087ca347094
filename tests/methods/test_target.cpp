#include <gtest/gtest.h>

#include <cmath>

#include "xai/error.hpp"
#include "methods/target.hpp"

namespace xai {
namespace {

const std::vector<std::string> kLabels = {"benign", "Malignant", "other"};

TEST(Target, ParsesLabelsAndIndices) {
  EXPECT_EQ(parse_class("benign", kLabels), 0);
  EXPECT_EQ(parse_class("malignant", kLabels), 1);  // case-insensitive fallback
  EXPECT_EQ(parse_class("2", kLabels), 2);
  EXPECT_THROW(parse_class("3", kLabels), Error);
  EXPECT_THROW(parse_class("tumour", kLabels), Error);
  EXPECT_THROW(parse_class("-1", kLabels), Error);
}

TEST(Target, TopKIsProbabilityOrder) {
  Prediction p = make_prediction({0.1f, 2.0f, 1.0f}, OutputKind::softmax);
  TargetSpec spec;
  spec.kind = TargetSpec::Kind::top_k;
  spec.k = 3;
  EXPECT_EQ(resolve_targets(spec, p, 3), (std::vector<int>{1, 2, 0}));
  spec.k = 4;
  EXPECT_THROW(resolve_targets(spec, p, 3), Error);
}

// A multi-label model's findings: every class at or above the threshold, most probable first; when
// none reaches it, the most probable, and a warning says so.
TEST(Target, AboveAThresholdIsEveryFindingThatReachesIt) {
  Prediction p;
  p.probabilities = {0.2f, 0.9f, 0.5f, 0.7f};
  p.predicted = 1;
  TargetSpec spec;
  spec.kind = TargetSpec::Kind::above;
  spec.threshold = 0.5;
  EXPECT_EQ(resolve_targets(spec, p, 4), (std::vector<int>{1, 3, 2}));  // 0.5 reaches 0.5
  EXPECT_TRUE(target_warning(spec, p, {"a", "b", "c", "d"}).empty());
  spec.threshold = 0.95;
  EXPECT_EQ(resolve_targets(spec, p, 4), (std::vector<int>{1}));
  const std::string warning = target_warning(spec, p, {"a", "b", "c", "d"});
  EXPECT_NE(warning.find("no class reaches probability 0.95"), std::string::npos) << warning;
  EXPECT_NE(warning.find("b (p=0.900)"), std::string::npos) << warning;
  spec.kind = TargetSpec::Kind::top_k;  // only `above` warns
  spec.k = 1;
  EXPECT_TRUE(target_warning(spec, p, {"a", "b", "c", "d"}).empty());
}

TEST(Target, PredictionsFromLogits) {
  const Prediction softmax = make_prediction({1.0f, 3.0f}, OutputKind::softmax);
  EXPECT_EQ(softmax.predicted, 1);
  EXPECT_NEAR(softmax.probabilities[1], 1.0 / (1.0 + std::exp(-2.0)), 1e-6);
  const Prediction binary = make_prediction({-0.5f}, OutputKind::sigmoid);
  EXPECT_EQ(binary.predicted, 0);
  EXPECT_NEAR(binary.probabilities[0] + binary.probabilities[1], 1.0, 1e-6);
  const Prediction multilabel = make_prediction({-1.0f, 2.0f, 0.0f}, OutputKind::sigmoid);
  EXPECT_EQ(multilabel.probabilities.size(), 3u);
  EXPECT_EQ(multilabel.predicted, 1);
}

}  // namespace
}  // namespace xai
