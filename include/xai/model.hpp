// A TorchScript image classifier with its card: loading, forward passes, layer listing.
// LibTorch stays behind the pimpl so that users of this header compile fast.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "xai/error.hpp"
#include "xai/model_card.hpp"

namespace xai {

class BatchTuner;

// One image in the model's layout: channel-major (CHW), RGB order, normalised.
struct InputBlob {
  int channels = 0;
  int height = 0;
  int width = 0;
  std::vector<float> values;  // channels * height * width
};

struct ModelOptions {
  std::string device = "cpu";          // "cpu", "cuda", "cuda:N"
  std::optional<std::string> card_path;  // overrides NAME.json beside the model
  // Forward-only passes (predictions, perturbed images, Score-CAM's masked inputs) on a frozen,
  // inference-optimised clone (torch::jit::freeze; on the CPU, convolutions with weights laid out once,
  // one clone for batches and one for single images; elsewhere optimize_for_inference); gradient and
  // capture methods keep the module as loaded.
  bool inference_clone = true;
  // Forward-only passes in a lower precision: "fp32" (the default), "bf16" or "fp16". The low-precision
  // copy is checked against fp32 on a probe when first used; if its probabilities differ by more than
  // kLowPrecisionTolerance (or it cannot run on the device), forward-only passes stay fp32 and
  // Model::precision_note() says why. Gradient and capture passes always run in fp32.
  std::string precision = "fp32";
  // Gradient and activation CAMs on a staged capture (model/staged_capture.hpp): the model cut at the
  // explained layer, the layers before it run once without gradients on the inference clone's kernels,
  // autograd only through the rest. Faster (ResNet50 Grad-CAM on 2 cores 33 -> 22 ms), but the maps are
  // another float32 computation: they differ from the model as loaded (and eager PyTorch) by its rounding
  // amplified through the later layers (README, Speed: the staged capture). Off: the module as loaded.
  bool staged_capture = false;
};

// The most a low-precision copy's class probabilities may differ from fp32's on the probe (absolute).
inline constexpr double kLowPrecisionTolerance = 0.01;
// "fp32", "bf16", "fp16"; anything else: usage_error naming the setting `name` (by default the library's
// setting_name, xai/error.hpp).
void check_precision(const std::string& precision, const std::string& name = setting_name("precision"));

// What the model said about one image.
struct Prediction {
  std::vector<float> logits;         // raw outputs
  std::vector<float> probabilities;  // one per label (a binary sigmoid model gets [1-p, p])
  int predicted = 0;                 // index into labels
};

struct LayerInfo {
  std::string path;
  std::string type;
  std::vector<int64_t> output_shape;  // empty when not run or not a tensor
  int calls = 0;                      // times the module ran in one forward pass
  int64_t completed_at = -1;          // order in which the module's (last) call finished
  std::string note;                   // "pass-through", "returns Tuple[...]", "not run"
  bool has_children = false;          // a container (a stage or block), not a single operation
  FeatureLayout layout;               // how its output becomes a feature map (transformers: tokens)
  // CAM methods can explain it: a feature map, channels first or a transformer's, with H, W > 1.
  bool spatial() const { return layout.explainable(); }
};

// What the checks a model passed measured: the numbers behind "accepted", each empty until its check ran.
struct ModelChecks {
  // Largest difference of an image's class probabilities alone and beside a second image (the probe
  // pair), at the model's first pass of two or more images; refused above the tolerance.
  std::optional<double> batch_independence_difference;
  double batch_independence_tolerance = 0;
  // Largest difference of class probabilities between the inference clone and the module as loaded on
  // the probe; above the tolerance the clone is not used.
  std::optional<double> inference_clone_difference;
  double inference_clone_tolerance = 0;
  // Every pass is watched for random draws: "" while none was seen, else what drew and why the model was
  // accepted (its scores did not change). A model whose scores changed is refused instead.
  std::string random_draws;
};

class Model {
 public:
  // Loads the model and its card (NAME.json beside it unless options.card_path is given;
  // without a card: defaults and a warning). Throws model_error / device_error.
  static Model load(const std::string& path, const ModelOptions& options = {});

  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  ~Model();

  const std::string& path() const;
  const std::string& sha256() const;
  const std::string& device() const;
  const ModelCard& card() const;
  ModelCard& mutable_card();  // CLI overrides; call validate() after editing
  // The card's warnings, and what is assumed without a card (from the card as it is now, after
  // command-line overrides). `missing_card`: false where a card is being written (xai card), so the
  // run does not warn of the very card it writes.
  std::vector<std::string> warnings(bool missing_card = true) const;

  // Plain forward pass without gradients, one prediction per image.
  std::vector<Prediction> predict(const std::vector<InputBlob>& batch);

  // Every submodule with its output shape from one dry run on a zero image.
  std::vector<LayerInfo> layers();
  // The layer explained when none is given: the card's; for a ViT (token outputs) the last encoder
  // block's first norm, where patch tokens still reach the class token; for a Swin (channels-last
  // outputs) the last stage; else the last module to finish whose output is still spatial (H,W > 1).
  // Never a transformer's patch embedding. Throws layer_error if there is none.
  std::string default_layer();
  // A transformer's patch embedding (a convolution whose output becomes the tokens): explainable,
  // but its map shows the patches' content, not what the blocks use. Warned about when chosen.
  bool is_patch_embedding(const std::string& layer);

  // The stage outputs for layer-by-layer maps (`--layers auto-all`): the top-level containers with
  // spatial outputs (ResNet's layer1-4); where there is only one (DenseNet's and EfficientNet's
  // `features`), the containers inside it (denseblocks and transitions; feature stages); where there
  // are fewer than 4 (Xception's entry, middle and exit flows), the blocks inside those.
  std::vector<std::string> stage_layers();

  // Number of outputs (classes) and labels; checks the card against the model on first use.
  const std::vector<std::string>& labels();

  // Forward passes run so far (of any clone): what a run costs, counted.
  long long forward_passes() const;

  // How forward-only passes run: "optimised" (the frozen clone), "plain" (turned off), or "plain (why
  // the clone could not be used)". Decided by prepare_inference() or the first forward-only pass; ""
  // before that.
  const std::string& inference() const;
  // The checks' measurements so far (ModelChecks).
  const ModelChecks& checks() const;
  // The precision of forward-only passes once decided (prepare_inference): "fp32", "bf16" or "fp16";
  // what was asked for; and the probe's verdict ("probabilities within 0.0021 of fp32 on a probe", or why
  // fp32 was kept).
  const std::string& precision() const;
  const std::string& requested_precision() const;
  const std::string& precision_note() const;
  // How passes that capture one layer ran, per layer and kind of pass (single images, batches): "staged"
  // (cut at the layer, the layers before it without gradients on the inference clone's kernels) or the
  // module as loaded, and why; "" before any such pass, and always without ModelOptions::staged_capture.
  std::string gradient_passes() const;
  bool staged_capture() const;  // ModelOptions::staged_capture
  // Builds (or declines) the inference clone now, so that a report can say which ran.
  void prepare_inference();
  // How many perturbed images a forward-only pass takes when no --probe-batch is given: measured
  // on the first passes of this process (batch_tuner.hpp).
  BatchTuner& batch_tuner();
  // The same for the gradient methods' forward + backward passes (their own sizes: a backward holds
  // a batch's activations, so they cost more memory per image than a forward-only pass).
  BatchTuner& gradient_batch_tuner();

  struct Impl;
  Impl& impl();
  // Internal (src/model): wraps a filled-in Impl, e.g. a randomised copy (randomisation.hpp).
  static Model from_impl(std::unique_ptr<Impl> impl);

 private:
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Softmax or sigmoid probabilities, one per label, from raw outputs.
Prediction make_prediction(const std::vector<float>& logits, OutputKind kind);

}  // namespace xai
