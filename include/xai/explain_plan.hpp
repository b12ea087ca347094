// What a run explains (the plan, resolved once) and what the model produced for one image (computed,
// before anything is drawn): the types the pipeline's stages pass along (explain.hpp), at the methods'
// level so that rendering and reports (output/) can take them without depending on the pipeline.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "xai/explain_options.hpp"
#include "xai/methods.hpp"
#include "xai/model_card.hpp"

namespace xai {

// What a run explains, resolved once before any image: the methods, the layers, each method's
// parameters (the same record in every report and in batch's resume key), the model's labels.
struct ExplainPlan {
  ExplainOptions options;
  std::vector<const ExplanationMethod*> methods;    // in request order
  std::vector<std::string> layers;                  // for the CAM methods (empty when none is chosen)
  std::vector<nlohmann::ordered_json> parameters;   // one per method
  std::vector<std::string> labels;
  ModelCard card;                                   // after command-line overrides
  nlohmann::ordered_json model;                     // the report's "model" section
  std::vector<std::string> model_warnings;          // reported once per run, and in each report
};

// What the model produced for one image, before anything is rendered or written.
struct ComputedExplanation {
  std::vector<MethodResult> results;  // in plan order, for the methods computed for this image
  std::vector<std::string> warnings;  // the image's and its methods'
  nlohmann::ordered_json timings = nlohmann::ordered_json::object();
  // The model's checks once this image's passes ran (report's model.checks; null: as at planning). A
  // check may first run at a later pass than the plan's (a batch's first gradient pass).
  nlohmann::ordered_json model_checks;
};

}  // namespace xai
