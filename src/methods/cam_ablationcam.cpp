// Ablation-CAM (Desai & Ramaswamy, 2020): a channel's weight is the relative drop of the class
// score when that channel is zeroed. The zeroed activations are substituted at the capture point:
// each pass runs the layers before it for one image and the layers after it for a batch of
// `batch_size` ablated copies, so the cost is (channels / batch_size) forward passes of one image
// plus the layers after the capture point for every channel: large batches pay off (README, Speed).
#include "methods/cam_methods.hpp"

namespace xai {

namespace {

torch::Tensor ablationcam_map(const CamInputs& in) {
  return probe_weighted_map(in, [&](int64_t i, int64_t first, int64_t count) {
    // Row 0 stays un-ablated: y - y_k is a small difference of two large scores, and the plain
    // forward pass computes y with other kernels (one image, not a batch) whose rounding differs
    // by ~1e-6 of y, a shift every weight would share. From the same pass, it cancels.
    torch::Tensor ablated = in.activation[i].unsqueeze(0).repeat({count + 1, 1, 1, 1});
    for (int64_t k = 0; k < count; ++k) ablated[k + 1][first + k].zero_();
    const torch::Tensor scores = in.probe.replaced_score(i, ablated);
    const torch::Tensor baseline = scores[0];
    // Divided where the scores are (no round trip to the host per probe batch); a zero score by 1e-7.
    const torch::Tensor divisor = torch::where(baseline == 0, torch::full_like(baseline, 1e-7), baseline);
    return (baseline - scores.narrow(0, 1, count)) / divisor;
  });
}

}  // namespace

std::unique_ptr<ExplanationMethod> ablationcam_method() { return cam_method({"ablationcam", /*needs_gradient=*/false, &ablationcam_map, /*probes=*/true}); }

}  // namespace xai
