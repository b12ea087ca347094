// Internal: the one piece that distinguishes CAM methods. The shared engine (cam.cpp) does the
// capture, the forward and backward passes, the ReLU, normalisation and resizing; a method
// only says how much each channel of the activation counts.
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

namespace xai {

struct CamMethod {
  std::string name;
  // [N, C] weights from activation A and gradient dScore/dA, both [N, C, h, w].
  torch::Tensor (*channel_weights)(const torch::Tensor& activation, const torch::Tensor& gradient);
};

// The registry: one line per method (cam_methods.cpp); nullptr for an unknown name.
const CamMethod* find_cam_method(const std::string& name);
const std::vector<CamMethod>& all_cam_methods();

// Method pieces, each in its own file.
torch::Tensor gradcam_weights(const torch::Tensor& activation, const torch::Tensor& gradient);

}  // namespace xai
