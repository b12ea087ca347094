// LayerCAM (Jiang et al., 2021): positive gradients as per-position weights; works at shallow
// layers, where Grad-CAM's channel averages wash out.
#include "methods/cam_methods.hpp"

namespace xai {

torch::Tensor layercam_map(const CamInputs& in) { return (torch::relu(in.gradient) * in.activation).sum(1); }

}  // namespace xai
