// The method registry: one line per method. A CAM method is its channel weighting (one file,
// src/methods/cam_NAME.cpp) on the shared engine; other methods are a class of their own.
#include <algorithm>
#include <chrono>
#include <opencv2/imgproc.hpp>

#include "methods/cam_methods.hpp"
#include "methods/method_adapters.hpp"
#include "xai/error.hpp"
#include "xai/methods.hpp"

namespace xai {

const std::vector<std::unique_ptr<ExplanationMethod>>& explanation_methods() {
  static const std::vector<std::unique_ptr<ExplanationMethod>> methods = [] {
    std::vector<std::unique_ptr<ExplanationMethod>> m;
    m.push_back(cam_method({"gradcam", true, &gradcam_map}));
    m.push_back(cam_method({"gradcam++", true, &gradcam_plus_plus_map}));
    m.push_back(cam_method({"xgradcam", true, &xgradcam_map}));
    m.push_back(cam_method({"hirescam", true, &hirescam_map}));
    m.push_back(cam_method({"layercam", true, &layercam_map}));
    m.push_back(cam_method({"eigencam", false, &eigencam_map}));
    m.push_back(cam_method({"scorecam", false, &scorecam_map, /*probes=*/true, /*forward_only=*/true}));
    m.push_back(cam_method({"ablationcam", false, &ablationcam_map, /*probes=*/true}));
    m.push_back(lime_method());
    m.push_back(kernel_shap_method());
    m.push_back(partition_shap_method());
    m.push_back(occlusion_method());
    m.push_back(rise_method());
    m.push_back(integrated_gradients_method());
    m.push_back(smoothgrad_method());
    m.push_back(edges_method());
    return m;
  }();
  return methods;
}

std::vector<std::string> method_names() {
  std::vector<std::string> names;
  for (const auto& method : explanation_methods()) names.push_back(method->name());
  return names;
}

const ExplanationMethod& find_method(const std::string& name) {
  for (const auto& method : explanation_methods())
    if (method->name() == name) return *method;
  std::string available;
  for (const auto& n : method_names()) available += (available.empty() ? "" : ", ") + n;
  throw usage_error("--method " + name + ": unknown method (available: " + available + ")");
}

const CamMethod* find_cam_method(const std::string& name) {
  for (const auto& method : explanation_methods())
    if (method->name() == name)
      if (const CamMethod* cam = cam_weighting(*method)) return cam;
  return nullptr;
}

bool ExplanationMethod::reads(Setting s) const {
  const std::vector<Setting> all = settings();
  return std::find(all.begin(), all.end(), s) != all.end();
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

bool is_xai_output_name(const std::string& file_name) {
  // STEM.PART[.PART...].EXT: an output when a part after the stem names what xai writes.
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t dot = file_name.find('.'); dot != std::string::npos; dot = file_name.find('.', start)) {
    parts.push_back(file_name.substr(start, dot - start));
    start = dot + 1;
  }
  if (parts.size() < 2) return false;  // STEM.EXT: an input
  const std::vector<std::string> names = method_names();
  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string& part = parts[i];
    if (part == "thumb" || part == "compare" || part == "sanity" || part == "diff") return true;
    for (const auto& name : names)
      if (part == name || part.rfind(name + "-", 0) == 0) return true;
  }
  return false;
}

}  // namespace xai
