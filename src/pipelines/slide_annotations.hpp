// A slide run scored against a pathologist's annotations (QuPath GeoJSON, ASAP XML): does the model
// find the annotated tiles (tile ROC AUC, sensitivity at a stated false-positive rate), and do the
// stitched maps point at the annotated regions (pointing game, energy inside, IoU of the top fraction)?
// Read from the run's outputs (slide.json, tiles.jsonl), so a merged run of shards scores as one run.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "analysis/gate.hpp"
#include "input/annotations.hpp"

namespace xai {

struct SlideAnnotationSettings {
  std::string path;                   // the annotations (GeoJSON or ASAP XML)
  std::vector<std::string> classes;   // the classes that are the truth; empty: every class but exclusions
  std::optional<double> min_cover;    // a tile is positive when at least this fraction of it is annotated;
                                      // none: any annotated pixel makes it positive
  double false_positive_rate = 0.05;  // tile sensitivity is reported where at most this fraction of the
                                      // negative tiles is above the threshold
  double top_fraction = 0.2;          // of the tissue's map pixels, for iou_top
};

// Classes whose polygons are holes in the truth rather than truth: Camelyon16's "_2" group (normal
// tissue inside a tumour outline) and any class named "Exclusion" (any letter case).
bool is_exclusion_class(const std::string& name);

// The classes that are the truth: the given ones (each must be in the file: usage_error naming its
// classes), else every class but exclusions (input_error when nothing else is left).
std::vector<std::string> truth_classes(const SlideAnnotations& annotations, const std::vector<std::string>& given);

struct SlideAnnotationScore {
  nlohmann::ordered_json report;  // annotations.json
  std::vector<MetricRow> rows;    // "tiles" (tile_auc, tile_sensitivity) and one per map
};

// The metrics a --fail-if condition may name.
extern const std::vector<std::string> kSlideAnnotationMetrics;

// Scores the run in `run_dir` and writes RUN_DIR/annotations.json. Throws input_error (annotations or
// run unreadable), usage_error (a class that is not in the annotations).
SlideAnnotationScore score_slide_run(const std::string& run_dir, const SlideAnnotationSettings& settings);

}  // namespace xai
