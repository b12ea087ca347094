// Which module forward-only passes run on: the inference clones (model/inference_clone.hpp), checked
// against the module as loaded on a probe, and the low precision (--precision) where it stays within
// tolerance.
#include <ATen/CPUGeneratorImpl.h>


#include "core/text.hpp"
#include "model/inference_clone.hpp"
#include "model/torch_model.hpp"
#include "xai/error.hpp"
#include "xai/model.hpp"

namespace xai {

namespace {

torch::ScalarType precision_dtype(const std::string& precision) {
  if (precision == "bf16") return torch::kBFloat16;
  if (precision == "fp16") return torch::kHalf;
  return torch::kFloat;
}

}  // namespace

void check_precision(const std::string& precision, const std::string& name) {
  if (precision != "fp32" && precision != "bf16" && precision != "fp16")
    throw usage_error(name + " " + precision + ": expected fp32, bf16 or fp16");
}

torch::Tensor Model::Impl::textured_image() const {
  // A generator of its own: the image must not depend on what used the global generator before.
  auto generator = at::make_generator<at::CPUGeneratorImpl>(20221201);
  return (torch::rand({1, card.channel_count(), card.input_height, card.input_width}, generator,
                      torch::TensorOptions().dtype(torch::kFloat)) * 2 - 1).to(device);
}

const torch::Tensor& Model::Impl::probe() {
  if (!probe_input.defined()) {
    c10::InferenceMode inference_mode;
    const long long counted = forward_passes;  // the checks are not the run's work
    // The second image is the first at a fifth of its contrast, brighter: batch statistics of the pair
    // are far from either image's own, which a model that normalises across its batch shows.
    const torch::Tensor image = textured_image();
    probe_input = torch::cat({image, image * 0.2 + 0.8});
    probe_expected = class_probabilities(run(module, probe_input), card.output);
    forward_passes = counted;
    if (batch_independence_checked) refuse_batch_dependent_scores();
  }
  return probe_input;
}

// A model that normalises across its batch (batch norms with the batch's statistics: traced in
// training mode, track_running_stats=False, F.batch_norm(..., training=True) in scripted code) gives an
// image scores that depend on the images beside it, and xai runs perturbed images, probes and slide
// tiles in batches: each score would be its batch's. The probe pair's first image, alone and beside
// the second, must score alike.
void Model::Impl::refuse_batch_dependent_scores() {
  c10::InferenceMode inference_mode;
  const long long counted = forward_passes;
  const torch::Tensor alone = class_probabilities(run(module, probe_input.narrow(0, 0, 1)), card.output);
  forward_passes = counted;
  const double difference = (alone - probe_expected.narrow(0, 0, 1)).abs().max().item<double>();
  // A GPU's kernels for one image and for two may be other algorithms, rounding differently (unmeasured).
  const double tolerance = device.is_cpu() ? kInferenceCloneTolerance : 1e-3;
  checks.batch_independence_difference = difference;
  checks.batch_independence_tolerance = tolerance;
  if (difference <= tolerance) return;
  throw model_error(path + ": an image's scores depend on the other images in its batch (its probabilities move by " +
                    significant_digits(difference, 3) + " when a second image joins it): the model normalises "
                    "across its batch (batch norms using the batch's statistics: traced in training mode, "
                    "track_running_stats=False, or F.batch_norm(..., training=True)), and xai runs images in "
                    "batches, so every score would be its batch's; export it with running statistics after model.eval()");
}

double Model::Impl::probe_difference(torch::jit::Module& candidate, torch::ScalarType dtype, int64_t images) {
  c10::InferenceMode inference_mode;
  const long long counted = forward_passes;
  const torch::Tensor input = probe().narrow(0, 0, images), expected = probe_expected.narrow(0, 0, images);
  const torch::Tensor got = class_probabilities(run(candidate, input.to(dtype)).to(torch::kFloat), card.output);
  forward_passes = counted;
  return (expected - got).abs().max().item<double>();
}

torch::jit::Module& Model::Impl::forward_only_module() {
  if (!inference.empty()) return inference_module ? *inference_module : module;
  inference = "plain";
  if (inference_clone) {
    try {
      // Trust, then verify: the clone must give the module's probabilities on a textured input.
      auto clone = make_inference_clone(module, probe().narrow(0, 0, 1), CloneBatch::batched);
      const double difference = probe_difference(*clone, torch::kFloat);
      checks.inference_clone_difference = difference;
      checks.inference_clone_tolerance = kInferenceCloneTolerance;
      if (difference <= kInferenceCloneTolerance) {
        inference_module = std::move(clone);
        inference = "optimised";
      } else {
        inference = "plain (the optimised clone's probabilities differed by " + std::to_string(difference) + ")";
      }
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      inference = "plain (cannot freeze: " + first_line(e.what()) + ")";
    }
  }
  if (requested_precision != "fp32") choose_low_precision();
  return inference_module ? *inference_module : module;
}

void Model::Impl::choose_low_precision() {
  const std::string& asked = requested_precision;
  const torch::ScalarType dtype = precision_dtype(asked);
  try {
    // The parameters are converted before freezing: a frozen module's weights are graph constants,
    // which Module::to no longer reaches.
    torch::jit::Module low = module.clone();
    low.to(dtype);
    std::unique_ptr<torch::jit::Module> candidate;
    double difference = 0;
    if (inference_clone) {
      try {
        candidate = make_inference_clone(low, probe().narrow(0, 0, 1).to(dtype), CloneBatch::batched);
        difference = probe_difference(*candidate, dtype);
      } catch (const Error&) {
        throw;
      } catch (const std::exception&) {
        candidate.reset();  // some optimisations have no low-precision kernels: the plain copy then
      }
    }
    if (!candidate) {
      candidate = std::make_unique<torch::jit::Module>(std::move(low));
      difference = probe_difference(*candidate, dtype);
    }
    if (!(difference <= kLowPrecisionTolerance)) {
      precision_note = asked + " refused: its probabilities differed from fp32's by " +
                       significant_digits(difference, 3) + " on a probe (more than " +
                       significant_digits(kLowPrecisionTolerance, 3) + "); fp32 used";
      return;
    }
    inference_module = std::move(candidate);
    forward_dtype = dtype;
    precision = asked;
    precision_note = "probabilities within " + significant_digits(difference, 3) + " of fp32 on a probe";
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    precision_note = asked + " cannot run on " + device_name + " (" + first_line(e.what()) + "); fp32 used";
  }
}

torch::jit::Module& Model::Impl::forward_only_module(int64_t images) {
  torch::jit::Module& chosen = forward_only_module();
  // Only a float32 CPU clone lays out its weights for a batch size (model/inference_clone.hpp).
  if (images != 1 || !inference_module || forward_dtype != torch::kFloat || !device.is_cpu()) return chosen;
  if (!single_image_decided) {
    single_image_decided = true;
    // A clone of its own pays where re-ordering the laid-out weights is most of a single image's pass
    // (ResNet50: 45 ms on its own clone, 111-116 ms on the batched one, for 100-120 MB more memory). Where
    // they are a small share (ViT-B/16: its patch embedding, 0.4 % of the weights) the batched clone is as
    // fast (183-197 ms against 189-196) and a second copy would cost 410-480 MB.
    single_images_on_batched_clone = laid_out_weight_share(*inference_module) < kSingleImageCloneWeightShare;
    if (!single_images_on_batched_clone) {
      try {
        auto clone = make_inference_clone(module, probe().narrow(0, 0, 1), CloneBatch::single_image);
        if (probe_difference(*clone, torch::kFloat, 1) <= kInferenceCloneTolerance) single_image_module = std::move(clone);
      } catch (const Error&) {
        throw;
      } catch (const std::exception&) {
        // the module as loaded then
      }
    }
  }
  if (single_images_on_batched_clone) return chosen;
  // Not the batched clone: its weights' layout costs a single image a re-order per convolution.
  return single_image_module ? *single_image_module : module;
}

torch::Tensor Model::Impl::forward_only(const torch::Tensor& input) {
  torch::jit::Module& m = forward_only_module(input.size(0));
  if (forward_dtype == torch::kFloat) return run(m, input);
  return run(m, input.to(forward_dtype)).to(torch::kFloat);
}

const std::string& Model::inference() const { return impl_->inference; }
const ModelChecks& Model::checks() const { return impl_->checks; }
const std::string& Model::precision() const { return impl_->precision; }
const std::string& Model::requested_precision() const { return impl_->requested_precision; }
const std::string& Model::precision_note() const { return impl_->precision_note; }
void Model::prepare_inference() { impl_->forward_only_module(); }

}  // namespace xai
