// What explaining one image wrote: where, which maps (with their statistics and files) and the report.
#pragma once

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <string>
#include <utility>
#include <vector>

#include "xai/map_stats.hpp"
#include "xai/model.hpp"

namespace xai {

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

}  // namespace xai
