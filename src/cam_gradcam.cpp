// Grad-CAM (Selvaraju et al., 2017): a channel counts as much as the spatial mean of the
// score's gradient over it.
#include "cam_methods.hpp"

namespace xai {

torch::Tensor gradcam_weights(const torch::Tensor& /*activation*/, const torch::Tensor& gradient) {
  return gradient.mean({2, 3});
}

}  // namespace xai
