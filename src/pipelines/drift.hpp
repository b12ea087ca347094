// Explanation drift between two versions of a model: the same images through both, the same class
// explained by both, and per image how far the prediction and the maps moved. A retrained model
// that predicts as well but for other reasons shows up here before it reaches a clinic.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "xai/explain_options.hpp"
#include "xai/model.hpp"

namespace xai {

struct DiffOptions {
  ExplainOptions explain;     // methods, layers (each model's default when none), target, settings, rendering
  double top_fraction = 0.2;  // for the IoU of the maps' top pixels
  int batch_size = 16;        // images per pass
  std::string output_dir;     // diff.json, diff.csv, index.html, STEM.diff.png (.svg, .pdf: explain.figure_format)
  std::string labels_csv;     // true labels (name,label); also class-named folders: each model's top-1 accuracy
};

// One map of one image: the old model's against the new model's, compared in the image's frame.
struct MapDrift {
  std::string method;
  std::string old_layer, new_layer;  // empty for methods without layers
  double spearman = 0, ssim = 0, iou_top = 0;
  double drift = 0;  // 1 − Spearman ρ: 0 for the same ranking, 1 for none, up to 2 for a reversed one
};

struct ImageDrift {
  std::string path;
  std::string figure;  // relative to the output folder
  int target = 0;      // the class both maps explain: the old model's prediction, or -t
  std::string old_label, new_label;            // each model's predicted class
  double old_probability = 0, new_probability = 0;  // each model's probability of the explained class (target)
  double old_predicted_probability = 0, new_predicted_probability = 0;  // each model's of its own predicted class
  std::optional<std::string> true_label;       // --labels-csv or a class-named folder
  bool prediction_changed = false;
  std::vector<MapDrift> maps;
  double drift = 0;  // the largest of its maps'
};

// One method × layer pair over the images.
struct DriftRow {
  std::string method, old_layer, new_layer;
  int count = 0;
  double spearman_mean = 0, iou_top_mean = 0, drift_mean = 0, drift_p50 = 0, drift_p90 = 0, drift_max = 0;
};

struct DiffResult {
  std::vector<ImageDrift> images;  // largest drift first
  std::vector<DriftRow> rows;
  int prediction_changes = 0;
  double prediction_change_rate = 0;
  int images_with_true_label = 0;
  // Top-1 accuracy of each model over the images whose true label is known; none without any.
  std::optional<double> old_top1_accuracy, new_top1_accuracy;
  size_t skipped_outputs = 0;
  size_t skipped_masks = 0;  // ground-truth masks under the inputs, not inputs
  std::vector<std::string> warnings;  // "PATH: what"
  std::string report_path, csv_path, gallery_path;
  nlohmann::ordered_json report;
};

// Both models must have the same labels (their maps must explain the same classes). Throws usage_error.
DiffResult diff_models(Model& old_model, Model& new_model, const std::vector<std::string>& inputs,
                       const DiffOptions& options);

}  // namespace xai
