// One image in, explanation files and a JSON report out: the pipeline behind `xai explain`.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "xai/atomic_file.hpp"
#include "xai/cam.hpp"
#include "xai/image.hpp"
#include "xai/lime.hpp"
#include "xai/model.hpp"
#include "xai/render.hpp"

namespace xai {

struct ExplainOptions {
  std::vector<std::string> methods = {"gradcam"};  // CAM methods and/or "lime"
  CamRequest cam;                 // layers and target (the method field is set per CAM method)
  LimeOptions lime;               // LIME settings (its target is taken from `cam.target`)
  std::string output_dir;         // empty: "xai-out" beside the image
  Colormap colormap = Colormap::jet;
  double alpha = 0.5;             // overlay opacity of the heatmap
  ImageLimits limits;
};

struct ExplainOutcome {
  nlohmann::ordered_json report;
  std::string report_path;
  std::vector<std::string> files;  // every file written, report last
};

// An image decoded and preprocessed for one model: the part of the work that needs no model, so
// batch runs do it on worker threads while the model runs.
struct PreparedImage {
  std::string path;
  Image image;
  InputBlob blob;
  double load_ms = 0;
  double preprocess_ms = 0;
};

PreparedImage prepare_image(const std::string& path, const ModelCard& card, const ImageLimits& limits);

// Where one image's outputs go: DIR/STEM.*
struct Destination {
  std::string dir;
  std::string stem;
};

// What the model produced for one image, for every requested method, before anything is rendered
// or written. Rendering and writing need nothing else from the model, so a batch run does them on
// another thread while the model works on the next batch.
struct ComputedExplanation {
  struct Method {
    std::string name;
    std::optional<CamExplanation> cam;    // CAM methods
    std::optional<LimeExplanation> lime;  // "lime"
  };
  std::vector<Method> methods;                // in request order
  std::vector<std::string> layers;            // as resolved for the CAM methods
  std::vector<std::string> labels;
  nlohmann::ordered_json model;               // the report's "model" section
  nlohmann::ordered_json preprocessing;       // the report's "preprocessing" section
  nlohmann::ordered_json lime_parameters;     // as reported with each LIME explanation
  std::vector<std::string> warnings;          // the model's, the image's and the methods'
  nlohmann::ordered_json timings = nlohmann::ordered_json::object();
};

// Runs every requested method on prepared images: CAM methods in one forward and backward for the
// whole batch, LIME image by image. Throws on the first failure; callers that need per-image
// errors retry images one by one.
std::vector<ComputedExplanation> compute_explanations(Model& model, const std::vector<PreparedImage>& images,
                                                      const ExplainOptions& options);

// Renders one image's explanations (overlays at the original resolution, maps, grids) and writes
// them with the JSON report into DIR/STEM.*: nothing is written until everything is rendered, each
// file is written atomically, the report last. Needs no model; safe to call from another thread.
ExplainOutcome write_explanation(const PreparedImage& image, const ComputedExplanation& computed,
                                 const Destination& destination, const ExplainOptions& options,
                                 Durability durability = Durability::immediate);

// Loads, preprocesses, explains with every requested method and writes STEM.METHOD[.LABEL].png/.npy
// (LIME adds STEM.lime-top[.LABEL].png and STEM.lime-segments.png) and STEM.json into the output
// directory. Nothing is written until every method has succeeded; each file is written atomically;
// the report is written last.
ExplainOutcome explain_image(Model& model, const std::string& image_path, const ExplainOptions& options);

// Where explain_image writes for this image.
std::string output_dir_for(const std::string& image_path, const std::string& requested_dir);

// Every method name `explain_image` accepts.
std::vector<std::string> explanation_method_names();

// A label made safe for file names ("Grade 3/4" → "Grade_3_4").
std::string file_safe(const std::string& label);

}  // namespace xai
