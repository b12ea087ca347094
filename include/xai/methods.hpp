// The registry of explanation methods: the one place every command (explain, batch, compare, eval,
// bench) asks what a method is called, what it reads, what it needs, how it computes, what its result
// looks like as a dense map, and which parameters identify its result. Adding a method is one file in
// src/methods/ plus one line in src/methods/registry.cpp (README, Development): commands, --help and
// pipelines take everything from these declarations, never from a method's name.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "xai/explain_options.hpp"
#include "xai/model.hpp"
#include "xai/prepared_image.hpp"

namespace xai {

enum class MethodFamily {
  gradient_cam,  // a layer's activation weighed by the class score's gradient: one forward + a short backward
  probe_cam,     // a layer's activation weighed by extra forward passes (masked inputs, ablated channels)
  perturbation,  // the model as a black box on perturbed copies of the image
  gradient,      // the gradient of the class score with respect to the input pixels
  control,       // not an explanation: a model-independent map that sanity checks must flag
};
std::string to_string(MethodFamily family);

// What a method's maps are, declared by the method once: every consumer (slide stitching, figures,
// eval, batch, compare, diff, sanity) takes it from here or from the maps, which carry the same flags
// (tests/methods/test_registry.cpp checks every method's maps against its declaration).
struct MapKind {
  bool is_signed = false;        // evidence for and against the class: drawn diverging around 0
  bool display_min_max = false;  // unsigned on the method's own scale (RISE): stretched to [0,1] for display
};

// Settings a method may read. A command refuses a flag that none of the chosen methods reads,
// instead of silently ignoring it.
enum class Setting {
  layers,       // -l/--layer, --layers
  target,       // -t/--target-class, -k/--top-k
  all_classes,  // --all-classes
  probe_batch,  // --probe-batch: extra images per forward pass
  samples,
  adaptive,     // --tolerance, --max-samples (with --samples auto: LIME, Kernel SHAP)
  superpixels,  // --segments, --superpixels, --compactness, --regions
  hide,         // --hide, --hide-color
  kernel_width,
  seed,
  repeats,
  colormap,     // --colormap, --alpha: maps drawn as a colour-mapped overlay
  window,       // --window, --stride (occlusion)
  masks,        // --rise-masks, --grid, --keep (RISE)
  steps,        // --steps (Integrated Gradients)
  baseline,     // --baseline (Integrated Gradients)
  noise,        // --noise (SmoothGrad)
  max_evals,    // --max-evals (Partition SHAP)
  partition,    // --partition (Partition SHAP)
  precision,    // --precision: its forward-only passes (perturbed images, masked inputs) in bf16/fp16
};
std::string to_string(Setting setting);

// A setting as one method reads it: the flag's value when given, else the method's own default.
struct SettingUse {
  SettingUse(Setting s) : setting(s) {}  // NOLINT: a plain Setting reads with the flag's default
  SettingUse(Setting s, std::string default_text, int minimum = 0)
      : setting(s), default_text(std::move(default_text)), minimum(minimum) {}
  Setting setting;
  std::string default_text;  // what the method uses when the flag is not given ("1000"), shown in --help
  int minimum = 0;           // counts (--samples): the least the method accepts; 0: the flag's own check
  bool operator==(Setting s) const { return setting == s; }
};

// What a method needs from the model, declared once: pipelines and commands branch on these.
struct MethodNeeds {
  // A captured layer's activation (the CAMs): one map per layer, at the layer's resolution, each scaled
  // to [0,1] with its raw range kept in the map's details.
  bool layer = false;
  // Forward passes besides the one that captures the layer: the prediction of the unperturbed image,
  // probes, perturbed, noisy or interpolated copies. Their forward-only ones run on the inference clone.
  bool extra_passes = true;
};

// One explained map, at the image's resolution: a class (and, for CAMs, a layer).
struct DenseMap {
  int class_index = 0;
  std::string layer;        // empty for perturbation methods
  cv::Mat values;           // CV_32FC1: [0,1] for CAMs, signed weights for perturbation methods
  bool is_signed = false;   // positive and negative evidence (a diverging rendering)
  bool display_min_max = false;  // an unsigned map on its own scale (RISE): stretched to [0,1] for display only
  cv::Mat segments;         // CV_32SC1 region labels at the same size, when the map is per region
  std::vector<double> region_weights;  // one per segment label, when the map is per region
  nlohmann::ordered_json details = nlohmann::ordered_json::object();  // method-specific report fields
};

// A map's smallest and largest value: of its region weights for a region map, else of its values
// ({0, 0} for an empty map). Equal ends: a constant map, which shows nothing.
std::pair<double, double> value_range(const DenseMap& map);

// One method's result for one image.
struct MethodResult {
  std::string method;
  Prediction prediction;
  std::vector<DenseMap> maps;  // at the model's input resolution or the layer's; see dense_maps()
  std::vector<std::string> warnings;
  nlohmann::ordered_json summary = nlohmann::ordered_json::object();  // per-result report fields (e.g. stability)
  double compute_ms = 0;
  double model_ms = 0;       // of which spent in forward passes, where the method knows
  long long model_images = 0;  // images pushed through the whole model (0: not a whole-image method)
  long long gradient_images = 0;  // of which forward + backward to the input (gradient methods)
};

class ExplanationMethod {
 public:
  virtual ~ExplanationMethod() = default;
  virtual std::string name() const = 0;
  virtual MethodFamily family() const = 0;
  virtual MapKind map_kind() const = 0;
  virtual MethodNeeds needs() const = 0;
  virtual std::vector<SettingUse> settings() const = 0;
  bool reads(Setting s) const;
  // The method's use of `s` (nothing when it does not read it).
  std::optional<SettingUse> use_of(Setting s) const;
  // Why a setting the method reads changes nothing under `options` (Partition SHAP's superpixels when it
  // splits along the axes); empty when it is used. A flag that no chosen method uses is refused with it.
  virtual std::string unused_because(Setting s, const ExplainOptions& options) const { return {}; }

  // Everything that determines the result besides the model, the image and its preprocessing:
  // written in the report and hashed into batch's resume key, so the two never disagree.
  // `layers` are the resolved layers (CAM families).
  virtual nlohmann::ordered_json parameters(const ExplainOptions& options, const std::vector<std::string>& layers,
                                            const ModelCard& card) const = 0;

  // Computes on a batch of prepared images; `layers` resolved. Throws xai::Error.
  virtual std::vector<MethodResult> compute(Model& model, const std::vector<const PreparedImage*>& images,
                                            const ExplainOptions& options,
                                            const std::vector<std::string>& layers) const = 0;
};

// A CAM computed from the one pass that captures its layer (Grad-CAM and its kin, Eigen-CAM).
inline bool single_pass_cam(const ExplanationMethod& method) {
  const MethodNeeds needs = method.needs();
  return needs.layer && !needs.extra_passes;
}

// Every method, in the order `--help` lists them.
const std::vector<std::unique_ptr<ExplanationMethod>>& explanation_methods();
std::vector<std::string> method_names();
// The names of the methods for which `holds` is true, comma-separated (for messages and --help).
std::string method_names_where(const std::function<bool(const ExplanationMethod&)>& holds);
// Throws usage_error naming the available methods.
const ExplanationMethod& find_method(const std::string& name);

// The result's maps resized to `size` (the original image's, or a mask's): one per class × layer.
// CAM maps are resized bilinearly with half-pixel centres and not renormalised afterwards; region
// maps are expanded from their segments (nearest neighbour), so they stay exact per region.
std::vector<DenseMap> dense_maps(const MethodResult& result, const cv::Size& size);

// The layers the CAM methods among `options.methods` explain: the given ones, or the model's default
// (resolved once per run; empty when no chosen method reads layers).
std::vector<std::string> resolve_layers(Model& model, const ExplainOptions& options);

// The report's description of a target request: {"kind": "predicted"}, a class, or the top k.
nlohmann::ordered_json target_parameters(const TargetSpec& target);

}  // namespace xai
