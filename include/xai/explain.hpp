// One image in, explanation files and a JSON report out: the pipeline behind `xai explain`.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

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

// Explains prepared images with every requested method (CAM methods in one forward and backward
// for the whole batch) and writes each image's outputs. Throws on the first failure; callers that
// need per-image errors retry images one by one.
std::vector<ExplainOutcome> explain_batch(Model& model, const std::vector<PreparedImage>& images,
                                          const std::vector<Destination>& destinations, const ExplainOptions& options);

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
