// Grad-CAM (Selvaraju et al., 2017): a channel counts as much as the spatial mean of the
// score's gradient over it.
#include "methods/cam_methods.hpp"

namespace xai {

namespace {

torch::Tensor gradcam_map(const CamInputs& in) { return weighted_channel_sum(in.activation, in.gradient.mean({2, 3})); }

}  // namespace

std::unique_ptr<ExplanationMethod> gradcam_method() { return cam_method({"gradcam", /*needs_gradient=*/true, &gradcam_map}); }

}  // namespace xai
