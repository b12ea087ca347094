// Internal: a captured layer output as the (N, C, H, W) feature map the CAM methods weigh, and back
// (xai/feature_layout.hpp says which layouts there are and how one is recognised).
#pragma once

#include <torch/script.h>

#include "xai/feature_layout.hpp"

namespace xai {

// Token and channels-last outputs viewed as channels first, the prefix tokens dropped. Activations and
// gradients go through the same view, so a gradient stays the gradient of what it sits beside.
torch::Tensor to_feature_map(const torch::Tensor& output, const FeatureLayout& layout);

// The inverse for substituted activations (Ablation-CAM): feature maps back into the layer's own layout,
// with the prefix tokens of image `i`'s original `output` in front.
torch::Tensor from_feature_map(const torch::Tensor& maps, const FeatureLayout& layout, const torch::Tensor& output,
                               int64_t i);

}  // namespace xai
