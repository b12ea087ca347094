// One image in, explanation files and a JSON report out: the pipeline every command shares.
// Data flows one way: plan (methods, layers, parameters: once per run) → prepare (per image, no
// model) → compute (typed results) → render and name files (output/explanation_files.cpp) → build
// the report (output/report.cpp) → write. Front ends get typed outcomes and never read the JSON back.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "xai/atomic_file.hpp"
#include "xai/explain_options.hpp"
#include "xai/inputs.hpp"
#include "xai/map_stats.hpp"
#include "xai/methods.hpp"
#include "xai/model.hpp"
#include "xai/prepared_image.hpp"

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

// Checks the methods and resolves layers, labels and parameters. Throws usage/model/layer errors.
ExplainPlan plan_explanations(Model& model, const ExplainOptions& options);

// What determines method `method`'s result besides the image: the model, its preprocessing, the method
// and its parameters. Hashed into resume keys (batch adds how maps are drawn, slide the tile layout):
// only the preprocessing a run actually uses, so keys of earlier runs with the defaults still match.
nlohmann::ordered_json result_identity(const ExplainPlan& plan, size_t method, const std::string& model_sha);

// What to say about explicitly chosen layers (a transformer's patch embedding): printed once by the
// front end (MethodFlags::to_options) and kept in every report's warnings (plan_explanations).
std::vector<std::string> layer_warnings(Model& model, const std::vector<std::string>& layers);

// What the model produced for one image, before anything is rendered or written.
struct ComputedExplanation {
  std::vector<MethodResult> results;  // in plan order, for the methods computed for this image
  std::vector<std::string> warnings;  // the image's and its methods'
  nlohmann::ordered_json timings = nlohmann::ordered_json::object();
};

// Runs the plan's methods on prepared images: each method once for the whole batch (CAM methods in
// one forward and backward). `methods_for[i]` lists the plan's method indices to compute for image i
// (empty: all). Throws on the first failure; callers that need per-image errors retry one by one.
std::vector<ComputedExplanation> compute_explanations(Model& model, const ExplainPlan& plan,
                                                      const std::vector<const PreparedImage*>& images,
                                                      const std::vector<std::vector<size_t>>& methods_for = {});

// Where one image's outputs go: DIR/STEM.*
struct Destination {
  std::string dir;
  std::string stem;
};

// One written map: a method's explanation of a class (at a layer).
struct ExplainedMap {
  std::string method;
  int class_index = 0;
  std::string label;
  double probability = 0;
  std::string layer;  // empty for perturbation methods
  MapStats stats;
  std::vector<std::pair<std::string, std::string>> files;  // role ("overlay", "map", ...) → path
  cv::Size stored_size;  // of the .npy map: the image's, or smaller under ExplainOptions::map_size
  // --faithfulness: deletion/insertion areas and gains (no curves; those are in the report); null otherwise.
  nlohmann::ordered_json faithfulness;
  // Figures: the file, where its colour bar is and what scale it shows; null otherwise.
  nlohmann::ordered_json figure;
};

struct ExplainOutcome {
  Prediction prediction;
  std::string label;                  // the predicted class
  std::vector<ExplainedMap> maps;     // in plan order
  std::vector<std::string> warnings;  // the image's and its methods' (the model's are in plan.model_warnings)
  std::vector<std::string> files;     // every file written, the report last
  std::string report_path;
  std::string thumbnail_path;         // empty unless asked for
  nlohmann::ordered_json report;      // as written (for `--json -`)
};

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

// Where explain_image writes for this image.
std::string output_dir_for(const std::string& image_path, const std::string& requested_dir);


}  // namespace xai
