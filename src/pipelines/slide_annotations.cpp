#include "pipelines/slide_annotations.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "analysis/metrics.hpp"
#include "core/text.hpp"
#include "output/figure.hpp"
#include "input/annotations.hpp"
#include "output/slide_outputs.hpp"
#include "pipelines/evaluate.hpp"
#include "pipelines/slide_run.hpp"
#include "xai/atomic_file.hpp"
#include "xai/error.hpp"

namespace xai {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

json optional_number(const std::optional<double>& value) { return value ? json(*value) : json(nullptr); }

// The highest sensitivity at a threshold that puts at most `rate` of the negatives above it: the
// threshold is the lowest score that keeps the false positives within the rate.
struct OperatingPoint {
  std::optional<double> sensitivity, false_positive_rate, threshold;
};

OperatingPoint sensitivity_at(const std::vector<double>& scores, const std::vector<bool>& positive, double rate) {
  std::vector<double> negatives, positives;
  for (size_t i = 0; i < scores.size(); ++i) (positive[i] ? positives : negatives).push_back(scores[i]);
  if (negatives.empty() || positives.empty()) return {};
  std::vector<double> thresholds = scores;
  std::sort(thresholds.begin(), thresholds.end(), std::greater<>());
  thresholds.erase(std::unique(thresholds.begin(), thresholds.end()), thresholds.end());
  OperatingPoint best;
  for (const double t : thresholds) {  // descending: the false positives only grow
    const auto at_or_above = [t](const std::vector<double>& v) {
      return static_cast<double>(std::count_if(v.begin(), v.end(), [t](double s) { return s >= t; })) / v.size();
    };
    const double fpr = at_or_above(negatives);
    if (fpr > rate) break;
    best = {at_or_above(positives), fpr, t};
  }
  if (!best.threshold) best = {0.0, 0.0, thresholds.front() + 1};  // even the top score takes too many negatives
  return best;
}

// Agreement of one map (NaN where no tile lies) with the truth, over the read tissue only; signed maps
// by their positive side (the evidence for the class).
MaskAgreement map_agreement(const cv::Mat& values, const cv::Mat& truth, double top_fraction) {
  std::vector<float> map_pixels;
  std::vector<uchar> truth_pixels;
  for (int y = 0; y < values.rows; ++y)
    for (int x = 0; x < values.cols; ++x)
      if (const float v = values.at<float>(y, x); v == v) {
        map_pixels.push_back(std::max(0.0f, v));
        truth_pixels.push_back(truth.at<uchar>(y, x));
      }
  if (map_pixels.empty()) {
    MaskAgreement none;
    none.mask_empty = none.map_constant = true;
    return none;
  }
  const cv::Mat map_row(1, static_cast<int>(map_pixels.size()), CV_32FC1, map_pixels.data());
  const cv::Mat truth_row(1, static_cast<int>(truth_pixels.size()), CV_8UC1, truth_pixels.data());
  return mask_agreement(map_row, truth_row, top_fraction);
}

json agreement_json(const MaskAgreement& a) {
  if (a.mask_empty) return {{"pointing", nullptr}, {"energy_inside", nullptr}, {"iou_top", nullptr},
                            {"why", "no annotated pixel lies on a read tile"}};
  return {{"pointing", a.map_constant ? json(nullptr) : json(a.pointing_hit ? 1.0 : 0.0)},
          {"energy_inside", a.energy_inside},
          {"iou_top", a.iou_top}};
}

MetricRow agreement_row(const std::string& name, const MaskAgreement& a) {
  MetricRow row{name, name, {}};
  const bool measured = !a.mask_empty;
  row.metrics.push_back({"pointing", measured && !a.map_constant ? std::optional<double>(a.pointing_hit ? 1.0 : 0.0)
                                                                   : std::nullopt});
  row.metrics.push_back({"energy_inside", measured ? std::optional<double>(a.energy_inside) : std::nullopt});
  row.metrics.push_back({"iou_top", measured ? std::optional<double>(a.iou_top) : std::nullopt});
  return row;
}

}  // namespace

std::vector<std::string> truth_classes(const SlideAnnotations& annotations, const std::vector<std::string>& given) {
  const std::vector<std::string> found = annotations.class_names();
  std::string listed;
  for (const auto& n : found) listed += (listed.empty() ? "'" : ", '") + n + "'";
  for (const auto& name : given)
    if (std::find(found.begin(), found.end(), name) == found.end())
      throw usage_error(setting_name("annotation_classes") + " " + name + ": no polygon of that class in " +
                        annotations.path + " (its classes: " + listed + ")");
  if (!given.empty()) return given;
  std::vector<std::string> truth;
  for (const auto& n : found)
    if (!is_exclusion_class(n)) truth.push_back(n);
  if (truth.empty()) throw input_error(annotations.path + ": every polygon is an exclusion (" + listed + ")");
  return truth;
}

const std::vector<std::string> kSlideAnnotationMetrics = {"tile_auc", "tile_sensitivity", "pointing", "energy_inside",
                                                          "iou_top"};

bool is_exclusion_class(const std::string& name) { return name == "_2" || lower(name) == "exclusion"; }

SlideAnnotationScore score_slide_run(const std::string& run_dir, const SlideAnnotationSettings& settings) {
  json slide_report;
  const std::vector<Record> tiles = slide_run_tiles(run_dir, &slide_report);
  const SlideLayout layout = SlideLayout::from_json(slide_report.at("layout"));
  const SlideMaps maps = SlideMaps::from_json(slide_report.at("maps"));
  const SlideAnnotations annotations = read_slide_annotations(settings.path);
  const std::vector<std::string> classes = truth_classes(annotations, settings.classes);
  std::vector<std::string> excluded;
  for (const auto& n : annotations.class_names())
    if (is_exclusion_class(n) && std::find(classes.begin(), classes.end(), n) == classes.end()) excluded.push_back(n);
  const cv::Mat truth = rasterize_annotations(annotations, {layout.canvas_width, layout.canvas_height},
                                              layout.canvas_downsample, classes, excluded);

  // Tiles: each one's annotated fraction makes it positive or negative; its score is P(target). The
  // fraction is read at kCoverSamples x kCoverSamples pixels per tile (the canvas may have only a few).
  constexpr int kCoverSamples = 16;
  const double cover_downsample = layout.footprint() / kCoverSamples;
  const cv::Size cover_size(static_cast<int>(std::ceil(layout.width / cover_downsample)),
                            static_cast<int>(std::ceil(layout.height / cover_downsample)));
  const cv::Mat cover_truth = rasterize_annotations(annotations, cover_size, cover_downsample, classes, excluded);
  const std::string& label = maps.labels[maps.target];
  std::vector<double> scores;
  std::vector<bool> positive;
  size_t positives = 0;
  for (const auto& t : tiles) {
    const cv::Rect rect = cv::Rect(static_cast<int>(std::lround(t.at("x").get<int64_t>() / cover_downsample)),
                                   static_cast<int>(std::lround(t.at("y").get<int64_t>() / cover_downsample)),
                                   kCoverSamples, kCoverSamples) &
                          cv::Rect(0, 0, cover_size.width, cover_size.height);
    const double cover = rect.area() > 0 ? cv::mean(cover_truth(rect))[0] / 255.0 : 0.0;
    const bool is_positive = settings.min_cover ? cover >= *settings.min_cover : cover > 0;
    scores.push_back(t.at("probabilities").value(label, 0.0));
    positive.push_back(is_positive);
    positives += is_positive;
  }
  const std::optional<double> auc = roc_auc(scores, positive);
  const OperatingPoint point = sensitivity_at(scores, positive, settings.false_positive_rate);

  SlideAnnotationScore score;
  score.rows.push_back({"tiles", "", {{"tile_auc", auc}, {"tile_sensitivity", point.sensitivity}}});
  json localisation = json::object();
  const std::string probability_name = "P(" + label + ")";
  MaskAgreement by_probability = map_agreement(probability_canvas(layout, tiles, label), truth, settings.top_fraction);
  // A probability map is flat over each tile: its maximum is a whole tile, and the first pixel of it (its
  // top-left corner) says nothing. The pointing game asks whether the most probable tile is a positive one.
  if (!by_probability.mask_empty && !scores.empty()) {
    const size_t top = static_cast<size_t>(std::max_element(scores.begin(), scores.end()) - scores.begin());
    by_probability.pointing_hit = positive[top];
  }
  localisation[probability_name] = agreement_json(by_probability);
  localisation[probability_name]["pointing_by"] = "the most probable tile: positive or not";
  score.rows.push_back(agreement_row(probability_name, by_probability));
  for (size_t m = 0; m < maps.methods.size(); ++m) {
    const MaskAgreement a = map_agreement(stitched_map(layout, tiles, maps.methods[m]), truth, settings.top_fraction);
    localisation[maps.methods[m]] = agreement_json(a);
    if (maps.is_signed[m]) localisation[maps.methods[m]]["scored"] = "the positive side (evidence for the class)";
    score.rows.push_back(agreement_row(maps.methods[m], a));
  }

  const std::string cover_rule = settings.min_cover ? "at least " + short_number(*settings.min_cover) + " of the tile annotated"
                                                    : "any part of the tile annotated";
  score.report = {
      {"annotations", {{"file", fs::absolute(settings.path).string()}, {"format", annotations.format},
                       {"polygons", annotations.polygons.size()}, {"classes", annotations.class_names()},
                       {"truth_classes", classes}, {"excluded_classes", excluded}}},
      {"class", label},
      {"tiles", {{"scored", tiles.size()},
                 {"positive", positives},
                 {"negative", tiles.size() - positives},
                 {"positive_rule", cover_rule},
                 {"score", "P(" + label + ")"},
                 {"roc_auc", optional_number(auc)},
                 {"sensitivity", {{"value", optional_number(point.sensitivity)},
                                  {"at_false_positive_rate", settings.false_positive_rate},
                                  {"false_positive_rate", optional_number(point.false_positive_rate)},
                                  {"threshold", optional_number(point.threshold)}}}}},
      {"localisation", {{"over", "the read tiles' pixels of each map on the stitched canvas"},
                        {"top_fraction", settings.top_fraction},
                        {"maps", localisation}}}};
  if (!auc) score.report["tiles"]["why_no_auc"] = positives == 0 ? "no tile is positive" : "no tile is negative";
  write_file_atomic((fs::path(run_dir) / "annotations.json").string(), score.report.dump(2) + "\n");
  return score;
}

}  // namespace xai
