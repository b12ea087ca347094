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
