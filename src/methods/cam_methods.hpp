// Internal: the one piece that distinguishes CAM methods. The shared engine (cam.cpp) does the
// capture, the forward and backward passes, the ReLU, normalisation and resizing; a method only
// says how the activation's channels (or positions) are weighed into one map.
#pragma once

#include <torch/types.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/batch_tuner.hpp"
#include "xai/methods.hpp"

namespace xai {

// Extra forward passes for methods that probe the model (Score-CAM, Ablation-CAM). The engine
// provides them; they are batched by `batch_size`, or with a `tuner` by the size it measures.
struct CamProbe {
  int batch_size = 32;
  // Whole-image probes without a given size: the model's forward-only passes, so the model's own
  // measurement of them (Model::batch_tuner) sizes them, and a size that runs out of memory is dropped.
  BatchTuner* tuner = nullptr;
  int64_t input_height = 0, input_width = 0;
  // Target-class probability for image `image` multiplied by each mask: masks [B,1,H,W] → [B].
  std::function<torch::Tensor(int64_t image, const torch::Tensor& masks)> masked_probability;
  // Target score (the explained logit) of image `image` when the layer's activation is replaced by
  // each of `activations` [B,C,h,w] → [B]. Layers before the capture point run once per call.
  std::function<torch::Tensor(int64_t image, const torch::Tensor& activations)> replaced_score;
  // The unmodified target score per image, [N].
  torch::Tensor scores;
};

struct CamInputs {
  const torch::Tensor& activation;  // [N,C,h,w]
  const torch::Tensor& gradient;    // [N,C,h,w]; undefined for methods without needs_gradient
  const CamProbe& probe;
};

struct CamMethod {
  std::string name;
  bool needs_gradient;
  torch::Tensor (*map)(const CamInputs&);  // [N,h,w], before the ReLU
  bool probes = false;                     // runs extra forward passes (CamProbe)
  bool forward_only = false;               // those passes are forward-only (--precision applies to them)
};

// A CAM method of the registry (src/methods/registry.cpp) by name; nullptr for another name.
const CamMethod* find_cam_method(const std::string& name);

// Σ_c w_c A_c for channel weights [N,C].
torch::Tensor weighted_channel_sum(const torch::Tensor& activation, const torch::Tensor& weights);

// A probing CAM's map: each image's channels are weighed a probe batch at a time by
// weigh(image, first, count) → the weights of channels [first, first + count), computed where the
// model runs, and the map is Σ_k weight_k · A_k. With the probe's tuner each batch is the size it
// asks for; a batch that runs out of memory is weighed again at a smaller size.
template <typename Weigh>
torch::Tensor probe_weighted_map(const CamInputs& in, Weigh weigh) {
  const torch::Tensor& a = in.activation;
  const int64_t n = a.size(0), c = a.size(1);
  torch::Tensor weights = torch::empty({n, c}, a.options());
  BatchTuner* tuner = in.probe.tuner;
  double model_ms = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t first = 0; first < c;) {
      const int64_t count = std::min<int64_t>(std::max(1, tuner ? tuner->next() : in.probe.batch_size), c - first);
      const bool measuring = tuner && tuner->chosen() == 0;
      const bool weighed = run_timed_pass(tuner, static_cast<int>(count), model_ms, [&] {
        weights[i].narrow(0, first, count).copy_(weigh(i, first, count));
        // A GPU runs the pass asynchronously: its time is only known once it has finished.
        if (measuring && !a.is_cpu()) (void)weights[i][first + count - 1].item<float>();
      });
      if (weighed) first += count;
    }
  return weighted_channel_sum(a, weights);
}

// The registry entry of a CAM method (one file each, src/methods/cam_NAME.cpp, defines its weighting and
// its factory: `std::unique_ptr<ExplanationMethod> NAME_method() { return cam_method({...}); }`).
std::unique_ptr<ExplanationMethod> cam_method(const CamMethod& weighting);

}  // namespace xai
