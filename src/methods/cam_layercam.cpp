// LayerCAM (Jiang et al., 2021): positive gradients as per-position weights; works at shallow
// layers, where Grad-CAM's channel averages wash out.
#include "methods/cam_methods.hpp"

namespace xai {

namespace {

torch::Tensor layercam_map(const CamInputs& in) { return (torch::relu(in.gradient) * in.activation).sum(1); }

}  // namespace

std::unique_ptr<ExplanationMethod> layercam_method() { return cam_method({"layercam", /*needs_gradient=*/true, &layercam_map}); }

}  // namespace xai
