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
  // Stage k of each model side by side (--layers stages): each model's own stage outputs (`xai layers`'
  // auto-all), matched by depth; with different numbers of stages, the fewest set the count and the
  // others' are taken at the same fractions of their depth (always ending at the last stage).
  bool matched_stages = false;
};

// Agreement over many images (compare on a folder): compare.agreement.csv (one row per image, model
// pair, method and layer), compare.agreement.json (per pair, method and layer: each metric's mean,
// standard deviation, min and max over the images) and compare.agreement.{png,svg,pdf} (the means as a
// coloured table, "mean ± sd" in each cell).
struct ImageAgreement {
  std::string image;
  nlohmann::ordered_json agreement;  // CompareOutcome.report["agreement"]
};
struct AgreementSummary {
  nlohmann::ordered_json summary;
  std::string csv_path, json_path, figure_path;
};
AgreementSummary summarise_agreement(const std::vector<ImageAgreement>& images, const std::vector<std::string>& failed,
                                     const std::string& dir, const CompareOptions& options);

// The layers each model explains for matched_stages: stage_lists[m] is model m's stage outputs in order.
std::vector<std::vector<std::string>> matched_stage_layers(const std::vector<std::vector<std::string>>& stage_lists);

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
