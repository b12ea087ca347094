// XGrad-CAM (Fu et al., 2020): gradients weighted by the normalised activation, the weighting that
// satisfies the sensitivity and conservation axioms.
#include "methods/cam_methods.hpp"

namespace xai {

namespace {

torch::Tensor xgradcam_map(const CamInputs& in) {
  const torch::Tensor sums = in.activation.sum({2, 3}, /*keepdim=*/true);
  return weighted_channel_sum(in.activation, (in.gradient * in.activation / (sums + 1e-7)).sum({2, 3}));
}

}  // namespace

std::unique_ptr<ExplanationMethod> xgradcam_method() { return cam_method({"xgradcam", /*needs_gradient=*/true, &xgradcam_map}); }

}  // namespace xai
