// EigenCAM (Muhammad & Yeasin, 2020): the activation's first principal component, no gradient and
// no class. SVD leaves the sign open: we pick the one that agrees with the summed activation.
#include "methods/cam_methods.hpp"

namespace xai {

namespace {

torch::Tensor eigencam_map(const CamInputs& in) {
  const int64_t n = in.activation.size(0), c = in.activation.size(1), h = in.activation.size(2), w = in.activation.size(3);
  std::vector<torch::Tensor> maps;
  for (int64_t i = 0; i < n; ++i) {
    torch::Tensor x = in.activation[i].reshape({c, h * w}).t().to(torch::kDouble);  // positions × channels
    x = x - x.mean(0, /*keepdim=*/true);
    const torch::Tensor v = std::get<2>(torch::linalg_svd(x, /*full_matrices=*/false)).select(0, 0);  // Vᴴ row 0
    torch::Tensor projection = x.matmul(v);
    const torch::Tensor summed = in.activation[i].sum(0).reshape({h * w}).to(torch::kDouble);
    if ((projection * summed).sum().item<double>() < 0) projection = -projection;
    maps.push_back(projection.reshape({h, w}).to(in.activation.scalar_type()));
  }
  return torch::stack(maps);
}

}  // namespace

std::unique_ptr<ExplanationMethod> eigencam_method() { return cam_method({"eigencam", /*needs_gradient=*/false, &eigencam_map}); }

}  // namespace xai
