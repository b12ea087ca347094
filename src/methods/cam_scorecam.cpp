// Score-CAM (Wang et al., 2020): each channel, upsampled and scaled to [0,1], masks the input; the
// class probability of the masked input is the channel's weight. No gradient; C forward passes.
#include <torch/nn/functional.h>

#include "methods/cam_methods.hpp"

namespace xai {

namespace {

torch::Tensor scorecam_map(const CamInputs& in) {
  namespace F = torch::nn::functional;
  const torch::Tensor& a = in.activation;
  const int64_t n = a.size(0), c = a.size(1);
  torch::Tensor weights = torch::empty({n, c}, a.options());
  const int batch = std::max(1, in.probe.batch_size);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t first = 0; first < c; first += batch) {
      const int64_t count = std::min<int64_t>(batch, c - first);
      torch::Tensor masks = a[i].narrow(0, first, count).unsqueeze(1);  // [B,1,h,w]
      masks = F::interpolate(masks, F::InterpolateFuncOptions()
                                        .size(std::vector<int64_t>{in.probe.input_height, in.probe.input_width})
                                        .mode(torch::kBilinear)
                                        .align_corners(false));
      const torch::Tensor lo = masks.amin({2, 3}, true), hi = masks.amax({2, 3}, true);
      const torch::Tensor range = hi - lo;
      masks = torch::where(range > 0, (masks - lo) / torch::where(range > 0, range, torch::ones_like(range)),
                           torch::zeros_like(masks));
      weights[i].narrow(0, first, count).copy_(in.probe.masked_probability(i, masks));
    }
  }
  return weighted_channel_sum(a, weights);
}

}  // namespace

std::unique_ptr<ExplanationMethod> scorecam_method() { return cam_method({"scorecam", /*needs_gradient=*/false, &scorecam_map, /*probes=*/true, /*forward_only=*/true}); }

}  // namespace xai
