// Score-CAM (Wang et al., 2020): each channel, upsampled and scaled to [0,1], masks the input; the
// class probability of the masked input is the channel's weight. No gradient; C forward passes.
#include <torch/nn/functional.h>

#include "methods/cam_methods.hpp"

namespace xai {

namespace {

torch::Tensor scorecam_map(const CamInputs& in) {
  namespace F = torch::nn::functional;
  return probe_weighted_map(in, [&](int64_t i, int64_t first, int64_t count) {
    torch::Tensor masks = in.activation[i].narrow(0, first, count).unsqueeze(1);  // [B,1,h,w]
    masks = F::interpolate(masks, F::InterpolateFuncOptions()
                                      .size(std::vector<int64_t>{in.probe.input_height, in.probe.input_width})
                                      .mode(torch::kBilinear)
                                      .align_corners(false));
    const torch::Tensor lo = masks.amin({2, 3}, true), hi = masks.amax({2, 3}, true);
    const torch::Tensor range = hi - lo;
    masks = torch::where(range > 0, (masks - lo) / torch::where(range > 0, range, torch::ones_like(range)),
                         torch::zeros_like(masks));
    return in.probe.masked_probability(i, masks);
  });
}

}  // namespace

std::unique_ptr<ExplanationMethod> scorecam_method() { return cam_method({"scorecam", /*needs_gradient=*/false, &scorecam_map, /*probes=*/true, /*forward_only=*/true}); }

}  // namespace xai
