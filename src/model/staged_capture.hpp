// Internal: a forward pass that captures one layer, run in two stages cut at that layer.
//
// Gradient methods need autograd only from the captured layer on; the layers before it need none.
// Run on the capture clone (layer_capture.hpp), those layers use the module as loaded: unfolded batch
// norms and, on the CPU, convolutions that re-order their weights on every pass. Here the model is
// frozen once with the layer marked and its graph cut at the mark: the prefix (input → the layer's
// output, plus whatever later layers read from before the cut) runs without gradients on the
// inference clone's kernels (inference_clone.hpp); the suffix (the layer's output → the model's
// output) is a frozen, differentiable graph that autograd runs through.
#pragma once

#include <torch/script.h>

#include <memory>
#include <string>
#include <vector>

#include "model/inference_clone.hpp"

namespace xai {

class StagedCapture {
 public:
  // Cuts `module` (as loaded, never run on by this) at the output of submodule `layer`. `example` is
  // one input image [1, C, H, W] on the module's device. Throws std::runtime_error saying why when the
  // graph cannot be cut there (the layer runs inside a loop or branch, or not at all).
  StagedCapture(const torch::jit::Module& module, const std::string& layer, const torch::Tensor& example,
                CloneBatch batch);
  ~StagedCapture();

  struct Prefix {
    torch::Tensor activation;           // the layer's output (its last call's)
    std::vector<c10::IValue> carried;   // values from before the cut that the suffix reads
  };
  // The layers up to the cut. Run under NoGradGuard, not InferenceMode: the suffix saves these for backward.
  Prefix run_prefix(const torch::Tensor& input);
  // The rest of the model from `activation` (which gradients may be taken against) to its output.
  c10::IValue run_suffix(const torch::Tensor& activation, const std::vector<c10::IValue>& carried);

  int calls() const { return calls_; }  // how many times the layer runs in one pass
  size_t carried_values() const { return carried_count_; }
  int laid_out_convolutions() const;    // in the prefix

 private:
  torch::jit::Module prefix_;
  torch::jit::Module suffix_owner_;  // the frozen module whose object the suffix graph takes as `self`
  std::unique_ptr<torch::jit::Function> suffix_;
  int calls_ = 0;
  size_t carried_count_ = 0;
};

}  // namespace xai
