// HiResCAM (Draelos & Carin, 2020): gradient times activation element-wise, without Grad-CAM's
// spatial averaging, so the map shows where the model actually looked.
#include "methods/cam_methods.hpp"

namespace xai {

namespace {

torch::Tensor hirescam_map(const CamInputs& in) { return (in.gradient * in.activation).sum(1); }

}  // namespace

std::unique_ptr<ExplanationMethod> hirescam_method() { return cam_method({"hirescam", /*needs_gradient=*/true, &hirescam_map}); }

}  // namespace xai
