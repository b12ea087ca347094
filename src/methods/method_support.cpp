// What the perturbation and gradient adapters share (method_adapters.hpp).
#include <numeric>

#include "methods/method_adapters.hpp"
#include "methods/target.hpp"
#include "methods/adaptive_sampling.hpp"
#include "methods/superpixels.hpp"
#include "methods/perturbation.hpp"
#include "xai/error.hpp"

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
  p["probe_batch"] = probe_batch_parameter(options.lime.batch_size);
  p["target"] = target_description(options, all_classes_allowed);
}

nlohmann::ordered_json sampling_parameters(const LimeOptions& lime, nlohmann::ordered_json fixed) {
  if (!lime.adaptive.enabled) return fixed;
  return {{"mode", "auto"}, {"tolerance", lime.adaptive.tolerance}, {"max_samples", lime.adaptive.max_samples}};
}

void add_sampling_outcome(MethodResult& r, const SamplingOutcome& outcome, const AdaptiveSampling& adaptive) {
  nlohmann::ordered_json s = {{"mode", outcome.automatic ? "auto" : "fixed"}, {"samples", outcome.samples}};
  if (outcome.automatic) {
    s["checks"] = outcome.checks;
    s["half_agreement"] = outcome.half_agreement;
    s["estimated_agreement"] = outcome.agreement;
    s["tolerance"] = adaptive.tolerance;
    s["settled"] = outcome.settled;
    if (!outcome.settled)
      r.warnings.push_back(r.method + ": not settled after " + std::to_string(outcome.samples) +
                           " samples (estimated agreement with the converged explanation " +
                           std::to_string(outcome.agreement) + ", asked for " + std::to_string(1 - adaptive.tolerance) +
                           "): raise " + setting_name("max_samples") + " or " + setting_name("tolerance"));
  }
  r.summary["sampling"] = s;
}

nlohmann::ordered_json probe_batch_parameter(int batch_size) {
  return batch_size > 0 ? nlohmann::ordered_json(batch_size) : nlohmann::ordered_json("measured");
}

double elapsed_ms(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace xai
