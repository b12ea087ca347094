// Model-versus-model comparison on the same images: a grid (rows = models, columns = the original
// and one overlay per method) and a report with every model's prediction, map statistics and the
// pairwise agreement of their maps.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "xai/explain.hpp"
#include "xai/model.hpp"

namespace xai {

struct CompareOptions {
  ExplainOptions explain;  // methods, layers (default: each model's own), target, LIME settings, rendering,
                           // output_dir (empty: xai-out beside the image)
  std::string true_label;  // shown in captions and the report when known
};

struct CompareOutcome {
  nlohmann::ordered_json report;
  std::string grid_path;
  std::string report_path;
  std::vector<std::string> warnings;  // e.g. the models explain different classes
};

// Models may differ in input size, channels and preprocessing: each uses its own card. Writes
// STEM.compare.png and STEM.compare.json atomically.
CompareOutcome compare_models(const std::vector<Model*>& models, const std::string& image_path,
                              const CompareOptions& options);

}  // namespace xai
