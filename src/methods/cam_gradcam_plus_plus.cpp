// Grad-CAM++ (Chattopadhay et al., 2018): positive gradients weighted per position by
// α = G² / (2G² + Σ_hw A · G³), which credits several instances of a class, not only the largest.
#include "methods/cam_methods.hpp"

namespace xai {

namespace {

torch::Tensor gradcam_plus_plus_map(const CamInputs& in) {
  const torch::Tensor& g = in.gradient;
  const torch::Tensor g2 = g * g, g3 = g2 * g;
  const torch::Tensor activation_sums = in.activation.sum({2, 3}, /*keepdim=*/true);
  torch::Tensor alpha = g2 / (2 * g2 + activation_sums * g3 + 1e-7);
  alpha = torch::where(g != 0, alpha, torch::zeros_like(alpha));
  return weighted_channel_sum(in.activation, (torch::relu(g) * alpha).sum({2, 3}));
}

}  // namespace

std::unique_ptr<ExplanationMethod> gradcam_plus_plus_method() { return cam_method({"gradcam++", /*needs_gradient=*/true, &gradcam_plus_plus_map}); }

}  // namespace xai
