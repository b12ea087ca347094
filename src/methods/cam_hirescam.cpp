// HiResCAM (Draelos & Carin, 2020): gradient times activation element-wise, without Grad-CAM's
// spatial averaging, so the map shows where the model actually looked.
#include "methods/cam_methods.hpp"

namespace xai {

torch::Tensor hirescam_map(const CamInputs& in) { return (in.gradient * in.activation).sum(1); }

}  // namespace xai
