// The method registry: one line per method. A CAM method is its channel weighting (one file,
// src/methods/cam_NAME.cpp) on the shared engine; other methods are a class of their own.
#include <algorithm>
#include <chrono>
#include <opencv2/imgproc.hpp>

#include "methods/method_adapters.hpp"
#include "xai/error.hpp"
#include "xai/methods.hpp"
#include "methods/superpixels.hpp"
#include "methods/cam.hpp"

namespace xai {

// One line per method, in the order --help lists them: XAI_METHOD(factory) declares the factory its own file
// defines (src/methods/) and registers what it makes.
#define XAI_METHOD(factory)                             \
  {                                                     \
    extern std::unique_ptr<ExplanationMethod> factory(); \
    methods.push_back(factory());                       \
  }

const std::vector<std::unique_ptr<ExplanationMethod>>& explanation_methods() {
  static const std::vector<std::unique_ptr<ExplanationMethod>> registered = [] {
    std::vector<std::unique_ptr<ExplanationMethod>> methods;
    XAI_METHOD(gradcam_method);
    XAI_METHOD(gradcam_plus_plus_method);
    XAI_METHOD(xgradcam_method);
    XAI_METHOD(hirescam_method);
    XAI_METHOD(layercam_method);
    XAI_METHOD(eigencam_method);
    XAI_METHOD(scorecam_method);
    XAI_METHOD(ablationcam_method);
    XAI_METHOD(lime_method);
    XAI_METHOD(kernel_shap_method);
    XAI_METHOD(partition_shap_method);
    XAI_METHOD(occlusion_method);
    XAI_METHOD(rise_method);
    XAI_METHOD(integrated_gradients_method);
    XAI_METHOD(smoothgrad_method);
    XAI_METHOD(inputxgradient_method);
    XAI_METHOD(gradientshap_method);
    XAI_METHOD(edges_method);
    return methods;
  }();
  return registered;
}

#undef XAI_METHOD

std::vector<std::string> method_names() {
  std::vector<std::string> names;
  for (const auto& method : explanation_methods()) names.push_back(method->name());
  return names;
}

std::string method_names_where(const std::function<bool(const ExplanationMethod&)>& holds) {
  std::string names;
  for (const auto& method : explanation_methods())
    if (holds(*method)) names += (names.empty() ? "" : ", ") + method->name();
  return names;
}

const ExplanationMethod& find_method(const std::string& name) {
  for (const auto& method : explanation_methods())
    if (method->name() == name) return *method;
  std::string available;
  for (const auto& n : method_names()) available += (available.empty() ? "" : ", ") + n;
  throw usage_error(setting_name("methods") + " " + name + ": unknown method (available: " + available + ")");
}

bool ExplanationMethod::reads(Setting s) const { return use_of(s).has_value(); }

std::optional<SettingUse> ExplanationMethod::use_of(Setting s) const {
  for (const SettingUse& use : settings())
    if (use.setting == s) return use;
  return std::nullopt;
}

std::string to_string(MethodFamily family) {
  switch (family) {
    case MethodFamily::gradient_cam: return "gradient CAM";
    case MethodFamily::probe_cam: return "probe CAM";
    case MethodFamily::perturbation: return "perturbation";
    case MethodFamily::gradient: return "input gradient";
    case MethodFamily::control: return "control (model-independent)";
  }
  return "";
}

std::string to_string(Setting setting) {
  switch (setting) {
    case Setting::layers: return "layers";
    case Setting::target: return "target";
    case Setting::all_classes: return "all classes";
    case Setting::probe_batch: return "probe batch";
    case Setting::samples: return "samples";
    case Setting::adaptive: return "adaptive sampling";
    case Setting::superpixels: return "superpixels";
    case Setting::hide: return "hide";
    case Setting::kernel_width: return "kernel width";
    case Setting::seed: return "seed";
    case Setting::repeats: return "repeats";
    case Setting::colormap: return "colormap";
    case Setting::window: return "window";
    case Setting::masks: return "masks";
    case Setting::steps: return "steps";
    case Setting::baseline: return "baseline";
    case Setting::noise: return "noise";
    case Setting::max_evals: return "max evals";
    case Setting::partition: return "partition";
    case Setting::precision: return "precision";
  }
  return "";
}

std::pair<double, double> value_range(const DenseMap& map) {
  if (!map.region_weights.empty()) {
    const auto [low, high] = std::minmax_element(map.region_weights.begin(), map.region_weights.end());
    return {*low, *high};
  }
  double low = 0, high = 0;
  if (!map.values.empty()) cv::minMaxLoc(map.values, &low, &high);
  return {low, high};
}

std::vector<DenseMap> dense_maps(const MethodResult& result, const cv::Size& size) {
  std::vector<DenseMap> maps;
  for (const DenseMap& m : result.maps) {
    DenseMap dense = m;
    if (!m.segments.empty()) {
      dense.segments = segments_at_size(m.segments, size);
      dense.values = segment_value_map(dense.segments, m.region_weights);
    } else {
      dense.values = upsample_map(m.values, size.width, size.height);
    }
    maps.push_back(std::move(dense));
  }
  return maps;
}

std::vector<std::string> resolve_layers(Model& model, const ExplainOptions& options) {
  const bool any_layered = std::any_of(options.methods.begin(), options.methods.end(),
                                       [](const std::string& m) { return find_method(m).reads(Setting::layers); });
  if (!any_layered) return {};
  if (!options.cam.layers.empty()) return options.cam.layers;
  return {model.default_layer()};
}

}  // namespace xai
