// Models whose input gradients are known without the code under test: the committed linear model
// (logits = W x + b; W recovered by finite differences of forward passes alone) and a quadratic one
// (score Σ x², gradient 2x), with an 8×8 RGB image prepared for each. For the gradient methods' tests.
#pragma once

#include <torch/script.h>

#include <fstream>
#include <string>
#include <vector>

#include "test_helpers.hpp"
#include "xai/explain_options.hpp"
#include "xai/model.hpp"
#include "xai/prepared_image.hpp"

namespace xai::test {

// Row `cls` of a linear model's W, by finite differences of forward passes (exact for a linear
// model up to float rounding).
inline std::vector<double> weights_by_forward_passes(Model& model, int cls) {
  const int n = model.card().channel_count() * model.card().input_height * model.card().input_width;
  InputBlob zero{model.card().channel_count(), model.card().input_height, model.card().input_width,
                 std::vector<float>(n, 0.0f)};
  std::vector<InputBlob> batch = {zero};
  for (int i = 0; i < n; ++i) {
    InputBlob e = zero;
    e.values[i] = 1.0f;
    batch.push_back(e);
  }
  const std::vector<Prediction> p = model.predict(batch);
  std::vector<double> w(n);
  for (int i = 0; i < n; ++i) w[i] = double(p[i + 1].logits[cls]) - p[0].logits[cls];
  return w;
}

// Σ over the 3 channels of an 8×8 CHW vector → an 8×8 map.
inline cv::Mat channel_sum_8x8(const std::vector<double>& chw) {
  cv::Mat m = cv::Mat::zeros(8, 8, CV_64FC1);
  for (int c = 0; c < 3; ++c)
    for (int p = 0; p < 64; ++p) m.ptr<double>()[p] += chw[c * 64 + p];
  return m;
}

// A parameter-free TorchScript model on 8×8 RGB: logits [Σ x², −Σ x²] (class 0's gradient is 2x),
// with a card beside it; returns the model's path.
inline std::string quadratic_model(const TempDir& dir) {
  torch::jit::Module m("Quadratic");
  m.define(R"(
def forward(self, x):
    score = (x * x).sum(dim=[1, 2, 3])
    return torch.stack([score, -score], dim=1)
)");
  const std::string path = dir.file("quadratic.pt");
  m.save(path);
  std::ofstream(dir.file("quadratic.json"))
      << R"({"schema": "xai.model-card/1", "name": "quadratic", "labels": ["benign", "malignant"],
            "input_size": [8, 8], "channels": "rgb", "mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.3],
            "output": "softmax"})";
  return path;
}

// A random 8×8 picture written into `dir` and prepared for `model`; options explaining `cls`.
struct GradientCase {
  PreparedImage image;
  ExplainOptions options;
};
inline GradientCase gradient_case(const TempDir& dir, Model& model, int cls) {
  cv::Mat picture(8, 8, CV_8UC3);
  cv::randu(picture, 0, 255);
  cv::imwrite(dir.file("x.png"), picture);
  GradientCase c;
  c.image = prepare_image(dir.file("x.png"), model.card(), {});
  c.options.cam.target.kind = TargetSpec::Kind::given;
  c.options.cam.target.class_index = cls;
  return c;
}

}  // namespace xai::test
