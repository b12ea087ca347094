#include "cam_methods.hpp"

namespace xai {

const std::vector<CamMethod>& all_cam_methods() {
  static const std::vector<CamMethod> methods = {
      {"gradcam", true, &gradcam_map},       {"gradcam++", true, &gradcam_plus_plus_map},
      {"xgradcam", true, &xgradcam_map},     {"hirescam", true, &hirescam_map},
      {"layercam", true, &layercam_map},     {"eigencam", false, &eigencam_map},
      {"scorecam", false, &scorecam_map},    {"ablationcam", false, &ablationcam_map},
  };
  return methods;
}

const CamMethod* find_cam_method(const std::string& name) {
  for (const auto& method : all_cam_methods())
    if (method.name == name) return &method;
  return nullptr;
}

torch::Tensor weighted_channel_sum(const torch::Tensor& activation, const torch::Tensor& weights) {
  return (weights.unsqueeze(-1).unsqueeze(-1) * activation).sum(1);
}

}  // namespace xai
