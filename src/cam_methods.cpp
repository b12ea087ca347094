#include "cam_methods.hpp"

namespace xai {

const std::vector<CamMethod>& all_cam_methods() {
  static const std::vector<CamMethod> methods = {
      {"gradcam", &gradcam_weights},
  };
  return methods;
}

const CamMethod* find_cam_method(const std::string& name) {
  for (const auto& method : all_cam_methods())
    if (method.name == name) return &method;
  return nullptr;
}

}  // namespace xai
