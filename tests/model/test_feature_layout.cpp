// Which layer outputs are feature maps, and how transformers' outputs are laid out: worked out by hand
// for the shapes of torchvision's ResNet, ViT-B/16 (with and without registers, non-square inputs) and
// Swin-T.
#include <gtest/gtest.h>

#include "xai/feature_layout.hpp"

namespace xai {
namespace {

using Kind = FeatureLayout::Kind;

void expect_layout(const FeatureLayout& layout, Kind kind, int64_t c, int64_t h, int64_t w, int64_t prefix = 0) {
  EXPECT_EQ(layout.kind, kind);
  EXPECT_EQ(layout.channels, c);
  EXPECT_EQ(layout.height, h);
  EXPECT_EQ(layout.width, w);
  EXPECT_EQ(layout.prefix, prefix);
}

TEST(FeatureLayout, ConvolutionalOutputsAreChannelsFirst) {
  expect_layout(infer_feature_layout({1, 2048, 7, 7}, 224, 224), Kind::channels_first, 2048, 7, 7);
  expect_layout(infer_feature_layout({8, 64, 112, 112}, 224, 224), Kind::channels_first, 64, 112, 112);
  // Rounding on a non-square input (225x300 -> 8x10) is still a grid.
  expect_layout(infer_feature_layout({1, 512, 8, 10}, 225, 300), Kind::channels_first, 512, 8, 10);
  // Both readings fit (C equals the side): the convolutional one wins.
  expect_layout(infer_feature_layout({1, 56, 56, 56}, 224, 224), Kind::channels_first, 56, 56, 56);
  EXPECT_FALSE(infer_feature_layout({1, 2048, 1, 1}, 224, 224).explainable()) << "after global pooling";
  EXPECT_EQ(infer_feature_layout({1, 2048, 7, 7}, 224, 224).reshape(), "");
}

TEST(FeatureLayout, SwinOutputsAreChannelsLast) {
  const FeatureLayout last = infer_feature_layout({1, 7, 7, 768}, 224, 224);
  expect_layout(last, Kind::channels_last, 768, 7, 7);
  EXPECT_TRUE(last.explainable());
  EXPECT_EQ(last.reshape(), "channels last [7, 7, 768] -> [768, 7, 7]");
  expect_layout(infer_feature_layout({2, 56, 56, 96}, 224, 224), Kind::channels_last, 96, 56, 56);
  expect_layout(infer_feature_layout({1, 24, 32, 96}, 96, 128), Kind::channels_last, 96, 24, 32);
}

TEST(FeatureLayout, VitTokensAfterTheirPrefix) {
  const FeatureLayout vit = infer_feature_layout({1, 197, 768}, 224, 224);  // class token + 14x14
  expect_layout(vit, Kind::tokens, 768, 14, 14, 1);
  EXPECT_EQ(vit.reshape(), "tokens [197, 768] -> [768, 14, 14] (1 prefix token dropped; grid inferred)");
  expect_layout(infer_feature_layout({1, 201, 768}, 224, 224), Kind::tokens, 768, 14, 14, 5);  // + 4 registers
  expect_layout(infer_feature_layout({1, 196, 384}, 224, 224), Kind::tokens, 384, 14, 14, 0);  // no class token
  expect_layout(infer_feature_layout({1, 197, 3072}, 224, 224), Kind::tokens, 3072, 14, 14, 1);  // MLP hidden
  expect_layout(infer_feature_layout({1, 281, 768}, 224, 320), Kind::tokens, 768, 14, 20, 1);  // non-square
  expect_layout(infer_feature_layout({1, 65, 64}, 64, 64), Kind::tokens, 64, 8, 8, 1);
}

TEST(FeatureLayout, TheCardsGridDecidesAndAMismatchNamesIt) {
  // 50 tokens: inferred as 1 + 7x7; the card says 2 + 6x8.
  const FeatureLayout card = infer_feature_layout({1, 50, 192}, 224, 224, TokenGrid{6, 8, 2});
  expect_layout(card, Kind::tokens, 192, 6, 8, 2);
  EXPECT_TRUE(card.from_card);
  EXPECT_NE(card.reshape().find("grid from the model card"), std::string::npos);
  const FeatureLayout wrong = infer_feature_layout({1, 50, 192}, 224, 224, TokenGrid{5, 5, 0});
  EXPECT_EQ(wrong.kind, Kind::none);
  EXPECT_NE(wrong.problem.find("50 tokens"), std::string::npos) << wrong.problem;
  EXPECT_NE(wrong.problem.find("makes 25"), std::string::npos) << wrong.problem;
}

TEST(FeatureLayout, TokensWithoutAGridSayWhichCardFieldToSet) {
  const FeatureLayout unknown = infer_feature_layout({1, 3, 768}, 224, 224);
  EXPECT_EQ(unknown.kind, Kind::none);
  EXPECT_NE(unknown.problem.find("\"tokens\": {\"grid\": [H, W], \"prefix\": P}"), std::string::npos) << unknown.problem;
  // 222 = 1 + 13x17: no prefix of 0 to 8 leaves a near-square grid for a square input; not guessed.
  EXPECT_EQ(infer_feature_layout({1, 222, 768}, 224, 224).kind, Kind::none);
  const FeatureLayout vector = infer_feature_layout({1, 1000}, 224, 224);
  EXPECT_EQ(vector.kind, Kind::none);
  EXPECT_TRUE(vector.problem.empty());
}

}  // namespace
}  // namespace xai
