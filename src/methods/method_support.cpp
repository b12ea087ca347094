// What the perturbation and gradient adapters share (method_adapters.hpp).
#include <numeric>

#include "methods/method_adapters.hpp"
#include "xai/target.hpp"

namespace xai {

ImageTargets image_targets(Model& model, const PreparedImage& image, const ExplainOptions& options,
                           bool all_classes_allowed) {
  return targets_of(model.predict({image.blob}).front(), model.labels().size(), options, all_classes_allowed);
}

ImageTargets targets_of(const Prediction& prediction, size_t labels, const ExplainOptions& options,
                        bool all_classes_allowed) {
  ImageTargets t;
  t.prediction = prediction;
  if (all_classes_allowed && options.lime.all_classes) {
    t.classes.resize(labels);
    std::iota(t.classes.begin(), t.classes.end(), 0);
  } else {
    t.classes = resolve_targets(options.cam.target, t.prediction, labels);
  }
  return t;
}

nlohmann::ordered_json target_description(const ExplainOptions& options, bool all_classes_allowed) {
  if (all_classes_allowed && options.lime.all_classes) return {{"kind", "all_classes"}};
  return target_parameters(options.cam.target);
}

nlohmann::ordered_json region_parameters(const LimeOptions& l, const ModelCard& card) {
  if (!l.regions_path.empty()) return {{"superpixels", "regions"}, {"regions", l.regions_path}};
  return {{"superpixels", to_string(l.superpixels.algorithm)},
          {"segments_requested", l.superpixels.segments},
          {"compactness", l.superpixels.compactness.value_or(default_compactness(card.channel_count()))}};
}

void add_fill_parameters(nlohmann::ordered_json& p, const FillSpec& fill) {
  p["hide"] = to_string(fill);
  if (fill.mode == HideMode::constant) p["hide_color"] = fill.color;
}

void add_perturbation_parameters(nlohmann::ordered_json& p, const ExplainOptions& options, bool all_classes_allowed) {
  add_fill_parameters(p, options.lime.hide);
  p["probe_batch"] = options.lime.batch_size;
  p["target"] = target_description(options, all_classes_allowed);
}

double elapsed_ms(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace xai
