// How a layer's output becomes the (C, H, W) feature map that the CAM methods weigh. Convolutional
// layers give one already (N, C, H, W). Vision transformers give tokens: ViT (N, P + H·W, C) with P
// class and register tokens before the patch grid; Swin (N, H, W, C), channels last. Both are turned
// into (N, C, H, W) for every CAM method — the prefix tokens dropped — when the grid is evident from the
// shape and the input size, or given by the model card's "tokens".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace xai {

// The model card's "tokens": {"grid": [H, W], "prefix": P}, for token outputs whose grid the shape
// does not reveal (a non-square grid, more than 8 prefix tokens).
struct TokenGrid {
  int64_t height = 0, width = 0;
  int64_t prefix = 0;
};

struct FeatureLayout {
  enum class Kind {
    none,            // not a feature map (a vector, a tuple, tokens without an evident grid)
    channels_first,  // (N, C, H, W): convolutional layers
    channels_last,   // (N, H, W, C): Swin's stages and blocks
    tokens,          // (N, P + H·W, C): ViT's encoder blocks, P prefix tokens first
  };
  Kind kind = Kind::none;
  int64_t channels = 0, height = 0, width = 0;
  int64_t prefix = 0;      // tokens: class and register tokens before the grid, dropped
  bool from_card = false;  // tokens: the grid is the card's
  std::string problem;     // Kind::none: why, for error messages ("" for plain non-feature outputs)

  // A map can be made here: a feature map with more than one position on each axis.
  bool explainable() const { return kind != Kind::none && height > 1 && width > 1; }
  bool is_transformer() const { return kind == Kind::channels_last || kind == Kind::tokens; }
  // What the report says: "" for (N, C, H, W); e.g. "tokens [197, 768] -> [768, 14, 14] (1 prefix
  // token dropped; grid inferred)", "channels last [7, 7, 768] -> [768, 7, 7]".
  std::string reshape() const;
};

// `shape`: the output's shape, batch first; `input_height`, `input_width`: the model's input size,
// which tells a grid from channels (a grid's two strides agree). A 4-D output is channels first unless
// only channels last fits the input; a 3-D output is tokens when, after 0 to 8 prefix tokens, the rest
// forms a grid of the input's aspect (or matches the card's grid exactly).
FeatureLayout infer_feature_layout(const std::vector<int64_t>& shape, int64_t input_height, int64_t input_width,
                                   const std::optional<TokenGrid>& card_grid = std::nullopt);

}  // namespace xai
