// Internal: what the registry's entries share. Every CAM method is one adapter around its channel
// weighting (cam_methods.hpp); the perturbation and gradient methods are a class each around their
// engine. Each file defines its factory, which src/methods/registry.cpp registers in one line.
#pragma once

#include <chrono>
#include <memory>

#include "xai/methods.hpp"
#include "methods/adaptive_sampling.hpp"

namespace xai {

// What every perturbation and gradient adapter shares: the prediction of the unperturbed image,
// its target classes, and the timing of a result.
struct ImageTargets {
  Prediction prediction;
  std::vector<int> classes;
};
ImageTargets image_targets(Model& model, const PreparedImage& image, const ExplainOptions& options,
                           bool all_classes_allowed);
// The same for a prediction the method already has (its unperturbed sample 0: no extra forward).
ImageTargets targets_of(const Prediction& prediction, size_t labels, const ExplainOptions& options,
                        bool all_classes_allowed);
// The report's target description (all classes, or the request).
nlohmann::ordered_json target_description(const ExplainOptions& options, bool all_classes_allowed);
// The regions' parameters (superpixels or the user's region map) and the fill's.
nlohmann::ordered_json region_parameters(const LimeOptions& lime, const ModelCard& card);
void add_fill_parameters(nlohmann::ordered_json& parameters, const FillSpec& fill);
// What every perturbation method's parameters end with: the fill, the probe batch and the target.
void add_perturbation_parameters(nlohmann::ordered_json& parameters, const ExplainOptions& options,
                                 bool all_classes_allowed);
// The samples a sampled surrogate asks for (a count, or auto with its tolerance and ceiling), and
// what it used: the report's "sampling" summary, and a warning when auto stopped unsettled.
nlohmann::ordered_json sampling_parameters(const LimeOptions& lime, nlohmann::ordered_json fixed);
void add_sampling_outcome(MethodResult& result, const SamplingOutcome& outcome, const AdaptiveSampling& adaptive);
// A fixed --probe-batch, or "measured" (the model's BatchTuner chooses).
nlohmann::ordered_json probe_batch_parameter(int batch_size);
double elapsed_ms(std::chrono::steady_clock::time_point start);

// One result per image, named and timed: `compute(image, result)` fills in the rest.
template <typename Compute>
std::vector<MethodResult> each_image(const std::string& method, const std::vector<const PreparedImage*>& images,
                                     Compute compute) {
  std::vector<MethodResult> results;
  for (const PreparedImage* image : images) {
    const auto start = std::chrono::steady_clock::now();
    MethodResult r;
    r.method = method;
    compute(*image, r);
    r.compute_ms = elapsed_ms(start);
    results.push_back(std::move(r));
  }
  return results;
}

}  // namespace xai
