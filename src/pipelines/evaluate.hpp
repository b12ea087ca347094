// Measured localisation: do explanations point at the lesion? Runs a model and any registered
// explanation methods over a folder of images with ground-truth masks and aggregates mask agreement
// (pointing game, energy inside the mask, IoU of the map's top pixels) per method and layer.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "analysis/gate.hpp"
#include "xai/explain_options.hpp"
#include "xai/model.hpp"
#include "input/true_labels.hpp"

namespace xai {

struct EvalOptions {
  ExplainOptions explain;           // methods (any registered), layers, LIME settings; the target is the positive class
  std::string masks_dir;            // MASKS/STEM.png or MASKS/STEM.mask.png; empty: STEM.mask.png beside the image
  // "name,label" lines; empty: a folder named like a class names its images' class, else an image is
  // positive when its mask has pixels.
  std::string labels_csv;
  // The lesion classes (--positive-class, one or several); empty: label 1 of a binary model. One class is
  // explained as such; with several, each image's predicted class is explained (a lesion class when the
  // model is right).
  std::vector<std::string> positive_labels;
  double top_fraction = 0.2;
  int batch_size = 16;              // images per forward pass
  // --save-overlays DIR: every map over its image with the mask's outline, mirroring the inputs' tree
  // (DIR/STEM.METHOD[.layer-LAYER].png); empty: no images written.
  std::string overlays_dir;
};

struct EvalSummaryRow {
  std::string method;
  std::string layer;  // "superpixels"/"regions" style rows have the method's own name for it
  int count = 0;      // correctly classified positives with a non-empty mask
  // Means over `count` images; none when count is 0 (undefined, and 0 would read as "always wrong").
  std::optional<double> pointing_game, energy_inside, iou_top;
};

// Deletion/insertion areas (--faithfulness) of one method × layer, averaged over the images whose
// predicted class is the positive class (the maps then explain the model's own decision; no mask needed).
struct FaithfulnessRow {
  std::string method;
  std::string layer;
  int count = 0;
  std::optional<double> deletion_auc, insertion_auc, random_deletion_auc, random_insertion_auc;
  // Fraction of the images where the map beats its random order (lower deletion / higher insertion area).
  std::optional<double> deletion_better_than_random, insertion_better_than_random;
  // How much the map beats its random order: random − map for deletion, map − random for insertion.
  std::optional<double> deletion_gain, insertion_gain;
};

// How well the model classifies the images, named for what each number is. A 4-class model right on 4
// of 24 images has top-1 accuracy 0.167 even when it tells lesion from no lesion on 21 of them.
struct ClassificationScores {
  std::vector<std::string> positive_classes;
  // Top-1 accuracy over all classes (predicted class == true class). None unless every image's class is
  // known: from --labels-csv, a class-named folder, or a binary model's mask (lesion or the other class).
  std::optional<double> top1_accuracy;
  int known_classes = 0;  // images whose true class is known
  // Positive vs rest: an image counts as right when (predicted ∈ positive classes) == (truth ∈ them).
  int positive_vs_rest_correct = 0;
  double positive_vs_rest_accuracy = 0;
  std::optional<double> positive_vs_rest_roc_auc;  // score Σ p(positive class); none when one side is absent
  // One-vs-rest ROC AUC of each class (model label order; none for a class absent from the truth or when
  // not every image's class is known) and their mean over the defined ones (macro).
  std::vector<std::optional<double>> one_vs_rest_roc_auc;
  std::optional<double> macro_roc_auc;
};

struct EvalResult {
  std::string model_path, output_kind, inference;  // what ran: the model, softmax/sigmoid, its inference clone
  std::string gradient_passes;  // where the CAMs captured their layers (Model::gradient_passes), "" if no CAM
  std::vector<std::string> methods;
  nlohmann::ordered_json parameters;  // per method, as reported
  std::vector<EvalSummaryRow> rows;
  std::vector<FaithfulnessRow> faithfulness;  // with ExplainOptions::faithfulness only
  int images = 0;
  int positives = 0;              // images whose truth is one of the positive classes
  ClassificationScores classification;
  size_t skipped_outputs = 0;     // files under the inputs that are xai's outputs, not inputs
  size_t skipped_masks = 0;       // masks under the inputs (--masks, masks/ folders, STEM.mask.png): not inputs
  std::vector<std::string> warnings;  // "PATH: what" for each image and method warning
  nlohmann::ordered_json report;  // everything above plus per-image results
};

// `inputs`: image files or directories (searched recursively for image files).
EvalResult evaluate_localisation(Model& model, const std::vector<std::string>& inputs, const EvalOptions& options);

// The numbers a gate (--fail-if) can test, by name: the run's classification, then one row per
// method × layer with its localisation and, when measured, faithfulness numbers.
extern const std::vector<std::string> kLocalisationMetrics;  // accuracy, roc_auc, pointing, ...
extern const std::vector<std::string> kFaithfulnessMetrics;  // deletion_auc, ..., deletion_gain, insertion_gain
std::vector<MetricRow> evaluation_metric_rows(const EvalResult& result);

// Area under the ROC curve by the rank statistic (ties count half).
std::optional<double> roc_auc(const std::vector<double>& scores, const std::vector<bool>& positive);

}  // namespace xai
