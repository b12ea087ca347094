#include "xai/model.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include <torch/cuda.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <sstream>

#include "model/inference_clone.hpp"
#include "model/torch_model.hpp"
#include "xai/error.hpp"
#include "core/sha256.hpp"

namespace xai {
namespace {

namespace fs = std::filesystem;

torch::Device parse_device(const std::string& name) {
  if (name == "cpu") return torch::Device(torch::kCPU);
  if (name == "cuda" || name.rfind("cuda:", 0) == 0) {
    if (!torch::cuda::is_available())
      throw device_error(setting_name("device") + " " + name +
                         ": CUDA is not available (this LibTorch build is CPU-only or no GPU is visible); "
                         "use " + setting_name("device") + " cpu");
    try {
      torch::Device device(name);
      if (device.has_index() && device.index() >= static_cast<int>(torch::cuda::device_count()))
        throw device_error(setting_name("device") + " " + name + ": only " +
                           std::to_string(torch::cuda::device_count()) + " CUDA device(s) visible");
      return device;
    } catch (const c10::Error& e) {
      throw device_error(setting_name("device") + " " + name + ": " + first_line(e.msg()));
    }
  }
  throw usage_error(setting_name("device") + " " + name + ": expected cpu, cuda or cuda:N");
}

}  // namespace

torch::Tensor class_probabilities(const torch::Tensor& logits, OutputKind kind) {
  if (kind == OutputKind::softmax) return torch::softmax(logits, 1);
  torch::Tensor p = torch::sigmoid(logits);
  if (logits.size(1) == 1) return torch::cat({1 - p, p}, 1);  // binary: [negative, positive]
  return p;
}

Prediction make_prediction(const std::vector<float>& logits, OutputKind kind) {
  Prediction p;
  p.logits = logits;
  if (logits.empty()) return p;
  // In double, so a probability near 1 keeps its digits; the same formula as every batch.
  const torch::Tensor row = torch::tensor(std::vector<double>(logits.begin(), logits.end()), torch::kDouble).unsqueeze(0);
  const torch::Tensor probabilities = class_probabilities(row, kind).squeeze(0).contiguous();
  for (int64_t i = 0; i < probabilities.size(0); ++i)
    p.probabilities.push_back(static_cast<float>(probabilities[i].item<double>()));
  if (kind == OutputKind::sigmoid && logits.size() == 1) {
    p.predicted = logits[0] >= 0.0f ? 1 : 0;  // p = 0.5 exactly counts as positive
    return p;
  }
  p.predicted = static_cast<int>(std::max_element(p.probabilities.begin(), p.probabilities.end()) -
                                 p.probabilities.begin());
  return p;
}

namespace {

torch::ScalarType precision_dtype(const std::string& precision) {
  if (precision == "bf16") return torch::kBFloat16;
  if (precision == "fp16") return torch::kHalf;
  return torch::kFloat;
}

std::string decimal(double value, int digits) {
  std::ostringstream out;
  out.precision(digits);
  out << value;
  return out.str();
}

}  // namespace

void check_precision(const std::string& precision, const std::string& name) {
  if (precision != "fp32" && precision != "bf16" && precision != "fp16")
    throw usage_error(name + " " + precision + ": expected fp32, bf16 or fp16");
}

const torch::Tensor& Model::Impl::probe() {
  if (!probe_input.defined()) {
    c10::InferenceMode inference_mode;
    const long long counted = forward_passes;  // the checks are not the run's work
    // A seeded probe of its own: the decision must not depend on what used the global generator before.
    auto generator = at::make_generator<at::CPUGeneratorImpl>(20221201);
    probe_input = (torch::rand({2, card.channel_count(), card.input_height, card.input_width}, generator,
                               torch::TensorOptions().dtype(torch::kFloat)) * 2 - 1).to(device);
    probe_expected = class_probabilities(run(module, probe_input), card.output);
    forward_passes = counted;
  }
  return probe_input;
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
      precision_note = asked + " refused: its probabilities differed from fp32's by " + decimal(difference, 3) +
                       " on a probe (more than " + decimal(kLowPrecisionTolerance, 3) + "); fp32 used";
      return;
    }
    inference_module = std::move(candidate);
    forward_dtype = dtype;
    precision = asked;
    precision_note = "probabilities within " + decimal(difference, 3) + " of fp32 on a probe";
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
    try {
      auto clone = make_inference_clone(module, probe().narrow(0, 0, 1), CloneBatch::single_image);
      if (probe_difference(*clone, torch::kFloat, 1) <= kInferenceCloneTolerance) single_image_module = std::move(clone);
    } catch (const Error&) {
      throw;
    } catch (const std::exception&) {
      // the module as loaded then
    }
  }
  // Not the batched clone: its weights' layout costs a single image a re-order per convolution.
  return single_image_module ? *single_image_module : module;
}

torch::Tensor Model::Impl::forward_only(const torch::Tensor& input) {
  torch::jit::Module& m = forward_only_module(input.size(0));
  if (forward_dtype == torch::kFloat) return run(m, input);
  return run(m, input.to(forward_dtype)).to(torch::kFloat);
}

const std::string& Model::inference() const { return impl_->inference; }
const std::string& Model::precision() const { return impl_->precision; }
const std::string& Model::requested_precision() const { return impl_->requested_precision; }
const std::string& Model::precision_note() const { return impl_->precision_note; }
void Model::prepare_inference() { impl_->forward_only_module(); }

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

const std::string& Model::path() const { return impl_->path; }
const std::string& Model::sha256() const { return impl_->sha256; }
const std::string& Model::device() const { return impl_->device_name; }
const ModelCard& Model::card() const { return impl_->card; }
ModelCard& Model::mutable_card() { return impl_->card; }
std::vector<std::string> Model::warnings(bool missing_card) const {
  const ModelCard& card = impl_->card;
  std::vector<std::string> warnings = card.warnings;
  warnings.insert(warnings.end(), impl_->output_warnings.begin(), impl_->output_warnings.end());
  if (!card.source.empty() && (!card.given.count("mean") || !card.given.count("std")))
    warnings.push_back(card.source + ": no mean/std: using the defaults for " + to_string(card.channels) + " images (" +
                       (card.channels == ChannelMode::rgb ? "ImageNet" : "0.5/0.5") + ")");
  if (card.source.empty() && missing_card) {
    std::string assumed;
    for (const auto& d : card.defaulted()) assumed += (assumed.empty() ? "" : ", ") + d;
    warnings.push_back("no model card (" + fs::path(impl_->path).replace_extension(".json").string() + ")" +
                       (assumed.empty() ? "" : ": assuming " + assumed) +
                       (card.given.count("labels") ? "" : ", labels class_0..") +
                       (card.target_layer.empty() ? ", automatic layer" : ""));
  }
  return warnings;
}
Model::Impl& Model::impl() { return *impl_; }
Model Model::from_impl(std::unique_ptr<Impl> impl) { return Model(std::move(impl)); }
long long Model::forward_passes() const { return impl_->forward_passes; }

BatchTuner& Model::batch_tuner() { return impl_->batch_tuner; }

Model Model::load(const std::string& path, const ModelOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  std::error_code ec;
  if (!fs::exists(path, ec)) throw model_error(path + ": no such model file");
  if (fs::is_directory(path, ec)) throw model_error(path + ": is a directory, not a model file");
  // Only regular files: torch::jit::load would wait forever on a FIFO.
  if (!fs::is_regular_file(path, ec)) throw model_error(path + ": is not a regular file (a FIFO or device?)");
  if (fs::file_size(path, ec) == 0) throw model_error(path + ": model file is empty");

  impl->device = parse_device(options.device);
  impl->device_name = options.device;
  // A GPU's time per image keeps falling at batch sizes where a CPU's has long stopped: let the tuner
  // measure larger ones there (those that do not fit in its memory are dropped when they fail).
  if (impl->device.is_cuda()) impl->batch_tuner = BatchTuner({8, 16, 32, 64, 128, 256});
  impl->inference_clone = options.inference_clone;
  check_precision(options.precision);
  impl->requested_precision = options.precision;
  try {
    impl->module = torch::jit::load(path, impl->device);
  } catch (const c10::Error& e) {
    throw model_error(path + ": not a TorchScript model (" + first_line(e.msg()) + ")");
  } catch (const std::exception& e) {
    throw model_error(path + ": cannot load TorchScript model (" + first_line(e.what()) + ")");
  }
  impl->module.eval();
  // We never train: without requires_grad on parameters, autograd records only what runs
  // after a capture point, which is what makes Grad-CAM cost about one forward pass.
  for (auto parameter : impl->module.parameters()) parameter.requires_grad_(false);

  if (options.card_path) {
    impl->card = read_model_card(*options.card_path);
  } else if (auto card = card_path_for(path)) {
    impl->card = read_model_card(*card);
  }
  if (impl->card.name.empty()) impl->card.name = fs::path(path).stem().string();
  impl->sha256 = sha256_file_hex(path);
  return Model(std::move(impl));
}

torch::Tensor Model::Impl::to_tensor(const std::vector<InputBlob>& batch) const {
  if (batch.empty()) throw usage_error("empty batch");
  const auto& first = batch.front();
  const int64_t per_image = static_cast<int64_t>(first.values.size());
  // For a GPU the batch is staged in pinned (page-locked) host memory, so the copy runs asynchronously on
  // the GPU's stream: the kernels after it wait for it, the CPU does not.
  const bool gpu = device.is_cuda();
  torch::Tensor input = torch::empty({static_cast<int64_t>(batch.size()), first.channels, first.height, first.width},
                                     torch::TensorOptions().dtype(torch::kFloat).pinned_memory(gpu));
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].values.size() != first.values.size()) throw usage_error("images in one batch differ in size");
    std::copy(batch[i].values.begin(), batch[i].values.end(), input.data_ptr<float>() + i * per_image);
  }
  return input.to(device, /*non_blocking=*/gpu);
}

void Model::Impl::out_of_memory(const torch::Tensor& input, const c10::OutOfMemoryError& e) const {
  // The GPU's memory, not the model, is what failed: say what to lower instead of a crash or a model error.
  throw DeviceMemoryError(path + ": out of memory on " + device_name + " running " + std::to_string(input.size(0)) +
                          " image(s) of " + std::to_string(input.size(2)) + "x" + std::to_string(input.size(3)) +
                          " at once: lower " + setting_name("probe_batch") + " (or " + setting_name("batch_size") +
                          "), or free the GPU (" + first_line(e.msg()) + ")");
}

torch::Tensor Model::Impl::run(torch::jit::Module& m, const torch::Tensor& input, int64_t expected_batch) {
  if (expected_batch < 0) expected_batch = input.size(0);
  ++forward_passes;
  c10::IValue output;
  try {
    output = m.forward({input});
  } catch (const c10::OutOfMemoryError& e) {
    out_of_memory(input, e);
  } catch (const c10::Error& e) {
    throw model_error(path + ": forward pass failed on input of shape " + c10::str(input.sizes()) + " (" +
                      first_line(e.msg()) + ")");
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {  // the TorchScript interpreter rethrows some errors as plain runtime_errors
    const std::string what = e.what();
    const size_t cause = what.rfind("RuntimeError: ");
    throw model_error(path + ": forward pass failed on input of shape " + c10::str(input.sizes()) + " (" +
                      first_line(cause == std::string::npos ? what : what.substr(cause + 14)) + ")");
  }
  if (output.isTuple() && !output.toTupleRef().elements().empty()) output = output.toTupleRef().elements()[0];
  if (!output.isTensor())
    throw model_error(path + ": model returns " + output.tagKind() + ", expected a tensor of class scores");
  torch::Tensor logits = output.toTensor();
  const auto type = logits.scalar_type();
  // A low-precision copy (--precision) returns its own dtype; forward_only() casts it back.
  if (type != torch::kFloat && type != torch::kDouble && type != input.scalar_type())
    throw model_error(path + ": model returns " + std::string(c10::toString(type)) +
                      " values, expected float32 class scores (logits)" +
                      (type == torch::kHalf || type == torch::kBFloat16 ? "; add .float() at the end of forward()" : ""));
  if (logits.dim() == 1) logits = logits.unsqueeze(1);  // [N] single logit per image
  if (logits.dim() != 2 || logits.size(0) != expected_batch)
    throw model_error(path + ": model output has shape " + c10::str(logits.sizes()) +
                      ", expected [batch, classes]");
  check_outputs(logits);
  // A NaN score becomes "benign (nan)" with null probabilities and a fit with R² 1: never explain it.
  if (!torch::isfinite(logits.detach()).all().item<bool>()) {
    const torch::Tensor bad = (~torch::isfinite(logits.detach())).any(1).nonzero();
    throw model_error(path + ": model output has NaN or infinite values (for image " +
                      std::to_string(bad[0].item<int64_t>()) + " of a batch of " + std::to_string(logits.size(0)) +
                      " on input of shape " + c10::str(input.sizes()) + ")");
  }
  return logits;
}

void Model::Impl::require_gradient(const torch::Tensor& scores) const {
  if (!scores.requires_grad())
    throw model_error(path + ": the model's output carries no gradient (forward() runs under torch.no_grad() or "
                             "detaches its output): gradient methods cannot run on it; perturbation methods can "
                             "(" + setting_name("methods") + " lime, occlusion, rise, kernelshap)");
}

void Model::Impl::check_outputs(const torch::Tensor& logits) {
  if (outputs_checked) return;
  const int outputs = static_cast<int>(logits.size(1));
  if (card.labels.empty()) {
    if (outputs == 1) {
      card.output = OutputKind::sigmoid;  // a single logit can only be a binary sigmoid model
      card.labels = {"negative", "positive"};
    } else {
      for (int i = 0; i < outputs; ++i) card.labels.push_back("class_" + std::to_string(i));
    }
  } else if (!card.fits_outputs(outputs)) {
    throw model_error((card.source.empty() ? path : card.source) + ": " + std::to_string(card.labels.size()) +
                      " labels for a " + to_string(card.output) + " model, but the model has " +
                      std::to_string(outputs) + " output(s)" +
                      (outputs == 1 ? " (a single-logit binary model needs output \"sigmoid\" and 2 labels)" : ""));
  }
  if (outputs == 1 && card.output == OutputKind::softmax)
    throw model_error(path + ": a single-output model cannot be softmax; set \"output\": \"sigmoid\" in its card");
  // Outputs that are already probabilities (the model ends in softmax) would be softmaxed again:
  // probabilities near 1/K whatever the image. Every row non-negative and summing to 1 cannot be chance.
  if (card.output == OutputKind::softmax && outputs >= 2) {
    const torch::Tensor values = logits.detach().to(torch::kCPU, torch::kDouble);
    const bool probabilities = (values >= 0).all().item<bool>() && (values <= 1).all().item<bool>() &&
                               ((values.sum(1) - 1).abs() < 1e-4).all().item<bool>();
    if (probabilities)
      output_warnings.push_back(path + ": the model's outputs are already probabilities (non-negative, summing to 1), "
                                       "and xai applies softmax to them again, which flattens them towards 1/" +
                                std::to_string(outputs) + "; export the model without its final softmax");
  }
  outputs_checked = true;
}

CaptureModel& Model::Impl::capture_model(const std::vector<std::string>& layers) {
  auto& slot = capture_models[layers];
  if (!slot) {
    const std::string name = path;
    for (const auto& layer : layers) require_layer_exists(module, layer, name);
    slot = std::make_unique<CaptureModel>(module, layers);
    slot->require_capturable(name);
  }
  return *slot;
}

std::vector<Prediction> Model::predict(const std::vector<InputBlob>& batch) {
  torch::Tensor logits;
  {
    c10::InferenceMode inference;
    logits = impl_->forward_only(impl_->to_tensor(batch)).to(torch::kCPU, torch::kFloat).contiguous();
  }
  std::vector<Prediction> predictions;
  for (int64_t i = 0; i < logits.size(0); ++i) {
    const float* row = logits.data_ptr<float>() + i * logits.size(1);
    predictions.push_back(make_prediction(std::vector<float>(row, row + logits.size(1)), impl_->card.output));
  }
  return predictions;
}

const std::vector<std::string>& Model::labels() {
  if (!impl_->outputs_checked) {
    // On the module as loaded: checking the labels must not build the inference clone.
    InputBlob zero{impl_->card.channel_count(), impl_->card.input_height, impl_->card.input_width, {}};
    zero.values.assign(static_cast<size_t>(zero.channels) * zero.height * zero.width, 0.0f);
    c10::InferenceMode inference;
    impl_->run(impl_->module, impl_->to_tensor({zero}));
  }
  return impl_->card.labels;
}

std::vector<LayerInfo> Model::layers() {
  const std::pair<int, int> size{impl_->card.input_height, impl_->card.input_width};
  if (!impl_->layer_infos.empty() && impl_->layer_infos_size == size) return impl_->layer_infos;
  const std::vector<std::string> paths = submodule_paths(impl_->module);
  std::vector<LayerInfo> result;
  if (paths.empty()) return result;
  CaptureModel all(impl_->module, paths);
  CaptureSession session = all.make_session(CaptureSession::Mode::observe);
  InputBlob zero{impl_->card.channel_count(), impl_->card.input_height, impl_->card.input_width, {}};
  zero.values.assign(static_cast<size_t>(zero.channels) * zero.height * zero.width, 0.0f);
  {
    c10::InferenceMode inference;
    ActiveCapture active(session);
    impl_->run(all.module(), impl_->to_tensor({zero}));
  }
  for (size_t i = 0; i < paths.size(); ++i) {
    const InstrumentedLayer& layer = all.layers()[i];
    LayerInfo info;
    info.path = layer.path;
    info.type = layer.type_name;
    info.calls = session.call_count[i];
    info.completed_at = session.completed_at[i];
    if (session.activations[i].defined()) {
      auto sizes = session.activations[i].sizes();
      info.output_shape.assign(sizes.begin(), sizes.end());
      info.layout = infer_feature_layout(info.output_shape, size.first, size.second, impl_->card.tokens);
    }
    info.has_children = i + 1 < paths.size() && paths[i + 1].rfind(layer.path + ".", 0) == 0;
    if (layer.pass_through)
      info.note = "pass-through (traced call returns nothing)";
    else if (!layer.unsupported_output.empty())
      info.note = "returns " + layer.unsupported_output;
    else if (info.calls == 0)
      info.note = "not run";
    result.push_back(std::move(info));
  }
  impl_->layer_infos = result;
  impl_->layer_infos_size = size;
  return result;
}

}  // namespace xai
