// One image in, explanation files and a JSON report out: the pipeline every command shares.
// Data flows one way: plan (methods, layers, parameters: once per run) → prepare (per image, no
// model) → compute (typed results) → render and name files (output/explanation_files.cpp) → build
// the report (output/report.cpp) → write. Front ends get typed outcomes and never read the JSON back.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "xai/atomic_file.hpp"
#include "xai/explain_plan.hpp"
#include "xai/explanation_outcome.hpp"
#include "xai/inputs.hpp"
#include "xai/model.hpp"
#include "xai/prepared_image.hpp"

namespace xai {

// Checks the methods and resolves layers, labels and parameters. Throws usage/model/layer errors.
ExplainPlan plan_explanations(Model& model, const ExplainOptions& options);

// What determines method `method`'s result besides the image: the model, its preprocessing, the method
// and its parameters. Hashed into resume keys (batch adds how maps are drawn, slide the tile layout):
// only the preprocessing a run actually uses, so keys of earlier runs with the defaults still match.
nlohmann::ordered_json result_identity(const ExplainPlan& plan, size_t method, const std::string& model_sha);

// What to say about explicitly chosen layers (a transformer's patch embedding): printed once by the
// front end (MethodFlags::to_options) and kept in every report's warnings (plan_explanations).
std::vector<std::string> layer_warnings(Model& model, const std::vector<std::string>& layers);

// Runs the plan's methods on prepared images: each method once for the whole batch (CAM methods in
// one forward and backward). `methods_for[i]` lists the plan's method indices to compute for image i
// (empty: all). Throws on the first failure; callers that need per-image errors retry one by one.
std::vector<ComputedExplanation> compute_explanations(Model& model, const ExplainPlan& plan,
                                                      const std::vector<const PreparedImage*>& images,
                                                      const std::vector<std::vector<size_t>>& methods_for = {});

// Renders one image's explanations and writes them with the JSON report into DIR/STEM.*: nothing is
// written until everything is rendered, each file atomically, the report last. Needs no model; safe
// to call from another thread.
// `carried`: report entries of methods an earlier run finished for this image (batch resume), kept
// in the new report so it still lists every method.
ExplainOutcome write_explanation(const PreparedImage& image, const ComputedExplanation& computed,
                                 const ExplainPlan& plan, const Destination& destination,
                                 Durability durability = Durability::immediate, bool thumbnail = false,
                                 const nlohmann::ordered_json& carried = nlohmann::ordered_json::array());

// prepare + compute + write for one image file; with a frame (--frames all), that frame of a
// multi-frame DICOM file, written as STEM.fNNN.*.
ExplainOutcome explain_image(Model& model, const ExplainPlan& plan, const std::string& image_path);
ExplainOutcome explain_image(Model& model, const ExplainPlan& plan, const InputFile& input);

// The inputs of a run: find_inputs (inputs.hpp) with xai's own output names skipped.
std::vector<InputFile> discover_inputs(const std::vector<std::string>& specs, const InputSelection& selection = {},
                                       DiscoveryCounts* counts = nullptr);

// Where explain_image writes for this image.
std::string output_dir_for(const std::string& image_path, const std::string& requested_dir);


}  // namespace xai
