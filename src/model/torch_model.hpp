// Internal: the LibTorch side of xai::Model, shared by the engines that need tensors.
#pragma once

#include <torch/script.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/layer_capture.hpp"
#include "model/staged_capture.hpp"
#include "model/batch_tuner.hpp"
#include "xai/error.hpp"
#include "xai/model.hpp"

namespace xai {

// Whether LibTorch's error is an allocation that failed: CUDA's out of memory, or the CPU allocator's
// (which LibTorch reports as a plain enforce failure, and the TorchScript interpreter rethrows as text).
bool is_allocation_failure(const std::exception& e);
// A LibTorch error's message: its first line, without LibTorch's backtrace or the interpreter's traceback.
std::string torch_error_message(const std::exception& e);

struct Model::Impl {
  std::string path;
  std::string sha256;
  std::string device_name;
  torch::Device device{torch::kCPU};
  torch::jit::Module module;  // the user's model, never instrumented
  ModelCard card;
  bool outputs_checked = false;
  // Appended to a failed forward pass's error: what the model's graphs or weights suggest (model.cpp),
  // and the input's size and channels where xai assumed them.
  std::string forward_failure_hint;
  std::string assumed_input_hint() const;
  // Every pass is watched for random numbers drawn (dropout left on in scripted code, noise, noise only
  // for some inputs or after some calls): a copy of the generators' states before and after, microseconds.
  // At the first pass that drew, runs of one textured image and of that pass's own input must agree,
  // else the model is refused (refuse_random_scores); where they agree the draws never reach the scores,
  // the model's warnings say so, and the watch ends.
  bool watching_random_draws = true;
  void refuse_random_scores(const torch::Tensor& pass_input);
  // Instrumented clones, one per set of layers: a clone's graphs can only be edited before
  // its first run (the executor caches an optimised graph), so each set gets its own.
  std::map<std::vector<std::string>, std::unique_ptr<CaptureModel>> capture_models;

  // Stacks preprocessed images into one NCHW tensor on the model's device.
  torch::Tensor to_tensor(const std::vector<InputBlob>& batch) const;
  // Runs `module.forward` and returns the [N, K] output (first element of a tuple output).
  // `expected_batch` (default: the input's) may differ when a capture point substitutes a batch.
  torch::Tensor run(torch::jit::Module& m, const torch::Tensor& input, int64_t expected_batch = -1);
  // The same for any `pass` that returns the model's output for `input` (a staged capture's two stages).
  torch::Tensor run_pass(const std::function<c10::IValue()>& pass, const torch::Tensor& input,
                         int64_t expected_batch = -1);
  // Throws DeviceMemoryError: the device could not hold `input`'s batch; says what to lower. `cause`: the
  // allocator's message.
  [[noreturn]] void out_of_memory(const torch::Tensor& input, const std::string& cause) const;
  // Runs `work` (a pass of `input`'s batch, or its backward); an allocation that fails in it, on a GPU
  // or on the CPU, becomes that DeviceMemoryError instead of a model or an internal error.
  template <class Work>
  auto within_memory(const torch::Tensor& input, Work&& work) const -> decltype(work()) {
    try {
      return work();
    } catch (const Error&) {  // xai's own, a memory error from a pass inside `work` included
      throw;
    } catch (const std::bad_alloc&) {
      out_of_memory(input, "std::bad_alloc");
    } catch (const std::exception& e) {
      if (!is_allocation_failure(e)) throw;
      out_of_memory(input, torch_error_message(e));
    }
  }
  // The class scores among what forward() returned: the value itself, or the tuple's, list's or
  // dictionary's element the card's output_element names (a tuple's first without one, with a warning).
  c10::IValue class_scores_element(const c10::IValue& output);
  // Checks the output width against the card's labels; names labels when the card had none.
  void check_outputs(const torch::Tensor& logits);
  // Refuses a score that autograd cannot differentiate (a model that runs under no_grad or detaches
  // its output): gradient methods need it.
  void require_gradient(const torch::Tensor& scores) const;
  std::vector<std::string> output_warnings;  // found by check_outputs (Model::warnings)
  CaptureModel& capture_model(const std::vector<std::string>& layers);
  // Where a pass that captures one layer runs (model/staged_capture.hpp): the staged capture cut at
  // `layer` for passes of `images` images when it can be built and agrees with the capture clone (the
  // probabilities, the layer's output and its gradient, on a probe), else nullptr: the capture clone.
  StagedCapture* staged_capture(const std::string& layer, int64_t images);
  bool staged_capture_enabled = false;  // ModelOptions::staged_capture
  struct StagedSlot {
    std::unique_ptr<StagedCapture> capture;
    std::string note;  // why not, when not
    bool decided = false;
  };
  std::map<std::pair<std::string, CloneBatch>, StagedSlot> staged_captures;
  // One pass through both stages: the model's output and the layer's output (a leaf that gradients can
  // be taken against when `needs_gradient`, recorded apart from what the later layers may modify in place).
  struct StagedPass {
    torch::Tensor logits, activation;
  };
  StagedPass run_staged(StagedCapture& staged, const torch::Tensor& input, bool needs_gradient);
  long long forward_passes = 0;  // every run() (tests count them)
  bool inference_clone = true;
  std::unique_ptr<torch::jit::Module> inference_module;  // frozen + optimised, built on first use
  std::string inference;  // what forward_only_module() decided (Model::inference())
  ModelChecks checks;     // what the checks measured (Model::checks())
  // The module for passes without gradients: the frozen, optimised clone when it can be built and
  // agrees with the module as loaded (probabilities within kInferenceCloneTolerance on a probe), else the module.
  torch::jit::Module& forward_only_module();
  // The same for a pass of `images` images: a single image runs on a clone of its own where the batched
  // clone's weights are laid out for batches (model/inference_clone.hpp), built at the first such pass;
  // where those weights are a small share of the model's (a transformer's patch embedding, a model
  // without convolutions) on the batched clone.
  torch::jit::Module& forward_only_module(int64_t images);
  std::unique_ptr<torch::jit::Module> single_image_module;
  bool single_image_decided = false;
  bool single_images_on_batched_clone = false;
  // A forward-only pass: the forward-only module in its precision, the input cast to it and the output
  // back to float32.
  torch::Tensor forward_only(const torch::Tensor& input);
  std::string requested_precision = "fp32";
  std::string precision = "fp32";  // what forward-only passes use, once decided
  std::string precision_note;
  torch::ScalarType forward_dtype = torch::kFloat;
  // The largest difference of class probabilities between the module as loaded and `candidate` (its
  // parameters in `dtype`) on the first `images` of a seeded, textured probe input.
  double probe_difference(torch::jit::Module& candidate, torch::ScalarType dtype, int64_t images = 2);
  // A seeded image of uniform noise in [-1, 1) at the card's size, on the device: texture for every unit
  // of a model to respond to, the same in every run.
  torch::Tensor textured_image() const;
  const torch::Tensor& probe();  // two probe images on the device, and the module's probabilities for them
  // A model's first pass of two or more images checks that an image scores alike alone and in a batch,
  // on the probe pair (refuse_batch_dependent_scores); at the end of probe() where the probe is not made yet.
  bool batch_independence_checked = false;
  void refuse_batch_dependent_scores();
  torch::Tensor probe_input, probe_expected;  // the probe and the module's probabilities on it, made once
  void choose_low_precision();
  std::string default_layer;  // cached: finding it needs a dry run of the instrumented model
  // Model::layers(), cached for the input size it was measured at (the card may change before use).
  std::vector<LayerInfo> layer_infos;
  std::pair<int, int> layer_infos_size{0, 0};
  BatchTuner batch_tuner;     // perturbed images per forward-only pass, measured (Model::batch_tuner)
  // Images per forward + backward to the input. On a CPU no larger than the fixed 16 this replaced, so
  // a measurement never needs more memory than before (a CPU's allocation failure may be the OOM killer).
  BatchTuner gradient_batch_tuner{{4, 8, 16}};
};

// How far an inference clone's probabilities may be from the module's on the probe.
constexpr double kInferenceCloneTolerance = 1e-4;

// Logits [N, outputs] → probabilities [N, labels]: softmax, or sigmoid per output (a single-logit
// binary model gives [1 − p, p]). The one place logits become probabilities.
torch::Tensor class_probabilities(const torch::Tensor& logits, OutputKind kind);

}  // namespace xai
