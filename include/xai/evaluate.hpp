// Measured localisation: do explanations point at the lesion? Runs a model and an explanation
// method over a folder of images with ground-truth masks and aggregates mask agreement
// (pointing game, energy inside the mask, IoU of the map's top pixels) per method and layer.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "xai/lime.hpp"
#include "xai/model.hpp"

namespace xai {

struct EvalOptions {
  std::string method = "gradcam";   // any CAM method, or "lime"
  LimeOptions lime;                 // for method "lime"
  std::vector<std::string> layers;  // empty: the model's default layer
  std::string masks_dir;            // MASKS/STEM.png or MASKS/STEM.mask.png; empty: STEM.mask.png beside the image
  std::string labels_csv;           // "name,label" lines; empty: an image is positive when its mask has pixels
  std::string positive_label;       // empty: label 1 (binary models)
  double top_fraction = 0.2;
  int batch_size = 16;
};

struct EvalSummaryRow {
  std::string method;
  std::string layer;
  int count = 0;  // correctly classified positives with a non-empty mask
  double pointing_game = 0;
  double energy_inside = 0;
  double iou_top = 0;
};

struct EvalResult {
  std::vector<EvalSummaryRow> rows;
  int images = 0;
  int positives = 0;
  int correct = 0;                // all images whose truth is known
  double accuracy = 0;
  std::optional<double> roc_auc;  // of the positive class probability; none when one class is absent
  nlohmann::ordered_json report;  // everything above plus per-image results
};

// `inputs`: image files or directories (searched recursively for image files).
EvalResult evaluate_localisation(Model& model, const std::vector<std::string>& inputs, const EvalOptions& options);

// "name,label" lines (a header line is skipped), keyed by the name's stem. Throws usage_error.
std::map<std::string, std::string> read_labels_csv(const std::string& path);

// Area under the ROC curve by the rank statistic (ties count half).
std::optional<double> roc_auc(const std::vector<double>& scores, const std::vector<bool>& positive);

}  // namespace xai
