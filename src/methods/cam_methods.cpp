#include "methods/cam_methods.hpp"

namespace xai {

torch::Tensor weighted_channel_sum(const torch::Tensor& activation, const torch::Tensor& weights) {
  return (weights.unsqueeze(-1).unsqueeze(-1) * activation).sum(1);
}

}  // namespace xai
