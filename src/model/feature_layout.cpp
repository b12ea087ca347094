#include "xai/feature_layout.hpp"

#include <algorithm>
#include <cmath>

namespace xai {
namespace {

// A grid of h × w positions over an input of height × width: both axes downsampled, and by about
// the same stride (a convolution or patch embedding does both alike; channels do not).
bool fits_input(int64_t h, int64_t w, int64_t height, int64_t width, double tolerance) {
  if (h < 1 || w < 1 || h > height || w > width) return false;
  const double stride_h = static_cast<double>(height) / h, stride_w = static_cast<double>(width) / w;
  return std::max(stride_h, stride_w) / std::min(stride_h, stride_w) <= tolerance;
}

std::string shape_text(const std::vector<int64_t>& dims) {
  std::string text = "[";
  for (size_t i = 0; i < dims.size(); ++i) text += (i ? ", " : "") + std::to_string(dims[i]);
  return text + "]";
}

// Prefix tokens to try: a class token, distillation token, and up to 4-7 register tokens.
constexpr int64_t kMaxPrefix = 8;

}  // namespace

std::string FeatureLayout::reshape() const {
  const std::string to = " -> " + shape_text({channels, height, width});
  switch (kind) {
    case Kind::none:
    case Kind::channels_first: return "";
    case Kind::channels_last: return "channels last " + shape_text({height, width, channels}) + to;
    case Kind::tokens:
      return "tokens " + shape_text({prefix + height * width, channels}) + to + " (" + std::to_string(prefix) +
             " prefix token" + (prefix == 1 ? "" : "s") + " dropped; grid " + (from_card ? "from the model card" : "inferred") +
             ")";
  }
  return "";
}

FeatureLayout infer_feature_layout(const std::vector<int64_t>& shape, int64_t input_height, int64_t input_width,
                                   const std::optional<TokenGrid>& card_grid) {
  FeatureLayout layout;
  if (shape.size() == 4) {
    const int64_t a = shape[1], b = shape[2], c = shape[3];
    // Channels first unless only channels last fits: a CNN's (N, C, H, W) always fits its input.
    const bool first = fits_input(b, c, input_height, input_width, 1.3);
    const bool last = fits_input(a, b, input_height, input_width, 1.3);
    if (!first && last) {
      layout.kind = FeatureLayout::Kind::channels_last;
      layout.height = a, layout.width = b, layout.channels = c;
    } else {
      layout.kind = FeatureLayout::Kind::channels_first;
      layout.channels = a, layout.height = b, layout.width = c;
    }
    return layout;
  }
  if (shape.size() != 3) return layout;
  const int64_t tokens = shape[1], channels = shape[2];
  if (card_grid) {
    const int64_t expected = card_grid->prefix + card_grid->height * card_grid->width;
    if (expected != tokens) {
      layout.problem = std::to_string(tokens) + " tokens, but the model card's \"tokens\" (grid " +
                       std::to_string(card_grid->height) + "x" + std::to_string(card_grid->width) + ", prefix " +
                       std::to_string(card_grid->prefix) + ") makes " + std::to_string(expected);
      return layout;
    }
    layout.kind = FeatureLayout::Kind::tokens;
    layout.prefix = card_grid->prefix;
    layout.height = card_grid->height, layout.width = card_grid->width, layout.channels = channels;
    layout.from_card = true;
    return layout;
  }
  // The fewest prefix tokens after which the rest is a grid of the input's aspect (a square for a
  // square input): 197 = 1 + 14×14 (ViT-B/16 at 224²), 201 = 5 + 14×14 (4 registers).
  for (int64_t prefix = 0; prefix <= kMaxPrefix && prefix < tokens; ++prefix) {
    const int64_t positions = tokens - prefix;
    const double h = std::sqrt(static_cast<double>(positions) * input_height / input_width);
    for (int64_t rows : {static_cast<int64_t>(std::floor(h)), static_cast<int64_t>(std::ceil(h))}) {
      if (rows < 2 || positions % rows != 0) continue;
      const int64_t cols = positions / rows;
      if (cols < 2 || !fits_input(rows, cols, input_height, input_width, 1.15)) continue;
      layout.kind = FeatureLayout::Kind::tokens;
      layout.prefix = prefix;
      layout.height = rows, layout.width = cols, layout.channels = channels;
      return layout;
    }
  }
  layout.problem = "tokens " + shape_text({tokens, channels}) + " whose grid cannot be inferred from the input size " +
                   std::to_string(input_height) + "x" + std::to_string(input_width) +
                   ": set \"tokens\": {\"grid\": [H, W], \"prefix\": P} in the model card";
  return layout;
}

}  // namespace xai
