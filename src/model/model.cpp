#include "xai/model.hpp"

#include <torch/cuda.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/jit/runtime/graph_executor.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <future>
#include <optional>

#include "model/graph_inspection.hpp"
#include "model/model_file.hpp"
#include "model/runtime.hpp"
#include "model/torch_model.hpp"
#include "xai/error.hpp"
#include "core/sha256.hpp"
#include "core/text.hpp"

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
BatchTuner& Model::gradient_batch_tuner() { return impl_->gradient_batch_tuner; }

Model Model::load(const std::string& path, const ModelOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  std::error_code ec;
  if (!fs::exists(path, ec)) throw model_error(path + ": no such model file");
  if (fs::is_directory(path, ec)) throw model_error(path + ": " + model_directory_reason(path));
  // Only regular files: torch::jit::load would wait forever on a FIFO.
  if (!fs::is_regular_file(path, ec)) throw model_error(path + ": is not a regular file (a FIFO or device?)");
  if (fs::file_size(path, ec) == 0) throw model_error(path + ": model file is empty");

  impl->device = parse_device(options.device);
  impl->device_name = options.device;
  if (impl->device.is_cuda()) use_ieee_float32_on_gpus();
  // A GPU's time per image keeps falling at batch sizes where a CPU's has long stopped: let the tuner
  // measure larger ones there (those that do not fit in its memory are dropped when they fail).
  if (impl->device.is_cuda()) {
    impl->batch_tuner = BatchTuner({8, 16, 32, 64, 128, 256});
    impl->gradient_batch_tuner = BatchTuner({16, 32, 64, 128, 256});
  }
  impl->inference_clone = options.inference_clone;
  impl->staged_capture_enabled = options.staged_capture;
  check_precision(options.precision);
  impl->requested_precision = options.precision;
  // The report's hash of the model file, read while LibTorch reads and builds the module (ViT-B/16:
  // 343 MB, 0.3 s with the CPU's SHA instructions, about as long as the load itself).
  std::future<std::string> file_hash = std::async(std::launch::async, [path] { return sha256_file_hex(path); });
  try {
    impl->module = torch::jit::load(path, impl->device);
  } catch (const c10::Error& e) {
    throw model_error(path + ": " + unloadable_model_reason(path, first_line(e.msg())));
  } catch (const std::exception& e) {
    throw model_error(path + ": cannot load TorchScript model (" + first_line(e.what()) + ")");
  }
  impl->module.eval();
  const RecordedInGraph recorded = recorded_in_graph(impl->module);
  refuse_training_behaviour(recorded, path);
  impl->forward_failure_hint = forward_failure_hint(recorded, impl->module, impl->device);
  // We never train: without requires_grad on parameters, autograd records only what runs
  // after a capture point, which is what makes Grad-CAM cost about one forward pass.
  for (auto parameter : impl->module.parameters()) parameter.requires_grad_(false);

  if (options.card_path) {
    impl->card = read_model_card(*options.card_path);
  } else if (auto card = card_path_for(path)) {
    impl->card = read_model_card(*card);
  }
  if (impl->card.name.empty()) impl->card.name = fs::path(path).stem().string();
  impl->sha256 = file_hash.get();
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

bool is_allocation_failure(const std::exception& e) {
  if (dynamic_cast<const c10::OutOfMemoryError*>(&e)) return true;
  const std::string what = e.what();
  for (const char* allocator : {"DefaultCPUAllocator: can't allocate memory", "DefaultCPUAllocator: not enough memory",
                                "CUDA out of memory", "OutOfMemoryError"})
    if (what.find(allocator) != std::string::npos) return true;
  return false;
}

std::string torch_error_message(const std::exception& e) {
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&e)) return first_line(c10_error->msg());
  const std::string what = e.what();
  const size_t cause = what.rfind("RuntimeError: ");  // the interpreter's traceback ends with the error
  return first_line(cause == std::string::npos ? what : what.substr(cause + 14));
}

void Model::Impl::out_of_memory(const torch::Tensor& input, const std::string& cause) const {
  // The device's memory, not the model, is what failed: say what to lower instead of a crash or a model error.
  throw DeviceMemoryError(path + ": out of memory on " + device_name + " running " + std::to_string(input.size(0)) +
                          " image(s) of " + std::to_string(input.size(2)) + "x" + std::to_string(input.size(3)) +
                          " at once: lower " + setting_name("probe_batch") + " (or " + setting_name("batch_size") +
                          "), or free " + (device.is_cuda() ? "the GPU" : "memory") + " (" + first_line(cause) + ")");
}

torch::Tensor Model::Impl::run(torch::jit::Module& m, const torch::Tensor& input, int64_t expected_batch) {
  return run_pass([&] { return m.forward({input}); }, input, expected_batch);
}

torch::Tensor Model::Impl::run_pass(const std::function<c10::IValue()>& pass, const torch::Tensor& input,
                                    int64_t expected_batch) {
  if (expected_batch < 0) expected_batch = input.size(0);
  ++forward_passes;
  std::optional<GeneratorStates> generators_before;
  if (watching_random_draws) generators_before.emplace(device);
  c10::IValue output;
  try {
    // On the CPU every graph runs on the interpreter as it is: the profiling executor's first two calls
    // of each fresh graph (the module, each capture clone) profile and then optimise it, 0.3-0.4 s each
    // for DenseNet121 or ViT-B/16, for no gain in later calls (Python, 2 cores: forward and backward
    // equal within noise). The ops then run as in eager PyTorch. On a GPU the executor may fuse: kept.
    const torch::jit::GraphOptimizerEnabledGuard optimiser(!device.is_cpu());
    output = pass();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {  // c10::Error, or the TorchScript interpreter's runtime_error that rethrows one
    if (is_allocation_failure(e)) out_of_memory(input, torch_error_message(e));
    throw model_error(path + ": forward pass failed on input of shape " + c10::str(input.sizes()) + " (" +
                      torch_error_message(e) + ")" + forward_failure_hint + assumed_input_hint());
  }
  output = class_scores_element(output);
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
  if (generators_before && generators_before->changed()) {
    watching_random_draws = false;  // the check's own runs draw
    refuse_random_scores(input);
  }
  if (input.size(0) > 1 && !batch_independence_checked) {
    batch_independence_checked = true;
    // Where this pass is the probe's own, probe() checks when its expected scores are in.
    if (probe_expected.defined()) refuse_batch_dependent_scores();
    else if (!probe_input.defined()) probe();
  }
  return logits;
}

// A model whose scores change from run to run (scripted F.dropout(x, p, training=True), Monte Carlo
// dropout, noise added in forward, noise for some inputs only) makes every explanation noise: each
// perturbed image's score, each gradient, is one draw. eval() cannot turn it off. At the first pass that
// drew random numbers, one textured image (a blank one hides dropout on the input) and then the pass's
// own images (which may be what made it draw) run up to 8 times each on the module as loaded: scores
// that differ refuse the model, scores that agree (a draw that never reaches them) do not. Eight, as
// dropout on a binary model's two logits repeats a mask 1 run in 4.
void Model::Impl::refuse_random_scores(const torch::Tensor& pass_input) {
  constexpr int kRuns = 8;
  const long long counted = forward_passes;  // the check is not the run's work
  c10::InferenceMode inference;
  const RandomOperations called;
  const auto images_text = [](int64_t n) { return n == 1 ? std::string("image") : std::to_string(n) + " images"; };
  // A low-precision pass (--precision) ran a copy of the model: the module as loaded takes float32.
  for (const torch::Tensor& images : {textured_image(), pass_input.detach().to(torch::kFloat)}) {
    const torch::Tensor first = run(module, images).to(torch::kDouble);
    // The CPU's kernels give the same bits for the same input; a GPU's may add in another order from run
    // to run, so differences at float32's rounding there are not draws.
    const double rounding = device.is_cpu() ? 0.0 : 1e-5 * std::max(1.0, first.abs().max().item<double>());
    double difference = 0;
    for (int run_index = 1; run_index < kRuns && difference <= rounding; ++run_index)
      difference = (first - run(module, images).to(torch::kDouble)).abs().max().item<double>();
    if (difference <= rounding) continue;
    const std::string operations = called.listed();
    throw model_error(path + ": gives different scores on two runs of the same " + images_text(images.size(0)) +
                      " (largest difference " + significant_digits(difference, 3) +
                      "): its forward() draws random numbers" + (operations.empty() ? "" : " (" + operations + ")") +
                      " whatever eval() says, so every explanation would be noise; export it with dropout following "
                      "self.training (nn.Dropout, or F.dropout(x, p, self.training)) and no random noise in eval()");
  }
  forward_passes = counted;
  const std::string operations = called.listed();
  checks.random_draws = "forward() draws random numbers" + (operations.empty() ? "" : " (" + operations + ")") +
                        " that did not change its scores over " + std::to_string(kRuns) +
                        " runs each of a textured image and of the " + images_text(pass_input.size(0)) +
                        " of the pass that drew: explained as a deterministic model, and no longer watched";
  output_warnings.push_back(path + ": " + checks.random_draws);
}

c10::IValue Model::Impl::class_scores_element(const c10::IValue& output) {
  // Every pass comes here: the messages are built only where one is given.
  const std::string& element = card.output_element;
  const auto chosen = [&] { return setting_name("output_element") + " " + element; };
  if (output.isTuple() || output.isList()) {
    const c10::ArrayRef<c10::IValue> elements = output.isTuple() ? output.toTupleRef().elements() : output.toListRef();
    const auto returns = [&] { return path + ": the model returns " + std::to_string(elements.size()) + " values"; };
    if (elements.empty()) throw model_error(returns() + ", expected a tensor of class scores");
    if (element.empty()) {
      // torchvision's scripted GoogLeNet and Inception return (logits, aux...); say so, as the first
      // element of another model's tuple may be its features.
      if (elements.size() > 1 && !outputs_checked)
        output_warnings.push_back(returns() + "; xai explains the first as the class scores and ignores the others (" +
                                  setting_name("output_element") + " N chooses another)");
      return elements[0];
    }
    const std::optional<int> index = card.output_element_index();
    if (!index || static_cast<size_t>(*index) >= elements.size())
      throw model_error(returns() + ": " + chosen() + " is not one of its indices (0.." +
                        std::to_string(elements.size() - 1) + ")");
    return elements[*index];
  }
  if (output.isGenericDict()) {
    std::string keys;
    for (const auto& entry : output.toGenericDict()) {
      if (entry.key().isString() && entry.key().toStringRef() == element && !element.empty()) return entry.value();
      keys += (keys.empty() ? "" : ", ") + (entry.key().isString() ? entry.key().toStringRef() : entry.key().tagKind());
    }
    if (!element.empty()) throw model_error(path + ": " + chosen() + ": the model's dictionary has no such key (keys: " + keys + ")");
    throw model_error(path + ": model returns a dictionary (keys: " + keys + "), expected a tensor of class scores: "
                      "choose its entry with " + setting_name("output_element") + " KEY, or return the logits from forward()");
  }
  // Never silently unused: a single value has no element to choose.
  if (!element.empty())
    throw model_error(path + ": " + chosen() + " chooses one of several values forward() returns, but the model returns "
                      "one (" + output.tagKind() + "): leave it out");
  return output;
}

std::string Model::Impl::assumed_input_hint() const {
  std::string assumed, flags;
  const auto add = [&](const std::string& key, const std::string& flag, const std::string& value) {
    if (card.given.count(key)) return;
    assumed += (assumed.empty() ? "" : ", ") + value;
    flags += (flags.empty() ? "" : " and ") + flag;
  };
  add("input_size", setting_name("input_size"),
      "size " + std::to_string(card.input_height) + "x" + std::to_string(card.input_width));
  add("channels", setting_name("channels"), "channels " + to_string(card.channels));
  if (assumed.empty()) return {};
  return "; the input's " + assumed + " were assumed, as no card or option gave them: give " + flags +
         ", or write the model's card (xai card)";
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
