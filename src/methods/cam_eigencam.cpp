// EigenCAM (Muhammad & Yeasin, 2020): the activation's first principal component, no gradient and
// no class. SVD leaves the sign open: we pick the one that agrees with the summed activation.
#include "methods/cam_methods.hpp"

namespace xai {

namespace {

torch::Tensor eigencam_map(const CamInputs& in) {
  const int64_t n = in.activation.size(0), c = in.activation.size(1), h = in.activation.size(2), w = in.activation.size(3);
  // Every image at once, where the activations are: positions × channels per image, centred per channel.
  torch::Tensor x = in.activation.reshape({n, c, h * w}).transpose(1, 2).to(torch::kDouble);
  x = x - x.mean(1, /*keepdim=*/true);
  const torch::Tensor v = std::get<2>(torch::linalg_svd(x, /*full_matrices=*/false)).select(1, 0);  // Vᴴ row 0: [n, c]
  torch::Tensor projection = x.matmul(v.unsqueeze(2)).squeeze(2);                                  // [n, h·w]
  // The first singular vector's sign is arbitrary: turn each map towards the channel sum.
  const torch::Tensor summed = in.activation.sum(1).reshape({n, h * w}).to(torch::kDouble);
  const torch::Tensor sign = torch::where((projection * summed).sum(1, /*keepdim=*/true) < 0, -1.0, 1.0);
  projection = projection * sign;
  return projection.reshape({n, h, w}).to(in.activation.scalar_type());
}

}  // namespace

std::unique_ptr<ExplanationMethod> eigencam_method() { return cam_method({"eigencam", /*needs_gradient=*/false, &eigencam_map}); }

}  // namespace xai
