#include "pipelines/evaluate.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "xai/atomic_file.hpp"
#include "xai/error.hpp"
#include "output/explanation_files.hpp"
#include "output/render.hpp"
#include "core/text.hpp"
#include "xai/explain.hpp"
#include "xai/image.hpp"
#include "xai/inputs.hpp"
#include "analysis/metrics.hpp"
#include "methods/target.hpp"

namespace xai {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

std::string find_mask(const std::string& image_path, const std::string& masks_dir) {
  const fs::path image(image_path);
  const std::string stem = input_stem(image);
  std::vector<fs::path> candidates;
  if (!masks_dir.empty()) {
    candidates = {fs::path(masks_dir) / (stem + ".png"), fs::path(masks_dir) / (stem + ".mask.png")};
  } else {
    candidates = {image.parent_path() / (stem + ".mask.png")};
  }
  std::error_code ec;
  for (const auto& c : candidates)
    if (fs::is_regular_file(c, ec)) return c.string();
  return "";
}

cv::Mat read_mask(const std::string& path, const cv::Size& size) {
  // As cv::imread(IMREAD_GRAYSCALE) would read it, but through xai's checked image front.
  static const ImageLimits limits;  // a named object: a temporary's strings made GCC 12 warn falsely
  const cv::Mat raw = decode_pixels(read_image_bytes(path, limits), path, limits).pixels;
  cv::Mat gray, mask;
  if (raw.channels() == 1) gray = raw;
  else cv::cvtColor(raw, gray, raw.channels() == 4 ? cv::COLOR_BGRA2GRAY : cv::COLOR_BGR2GRAY);
  if (gray.depth() == CV_8U) mask = gray;
  else gray.convertTo(mask, CV_8U, gray.depth() == CV_16U ? 1.0 / 256.0 : 255.0);
  if (mask.size() != size)
    throw input_error(path + ": mask is " + std::to_string(mask.cols) + "x" + std::to_string(mask.rows) +
                      ", image is " + std::to_string(size.width) + "x" + std::to_string(size.height));
  return mask;
}

}  // namespace

std::optional<double> roc_auc(const std::vector<double>& scores, const std::vector<bool>& positive) {
  double positives = 0, negatives = 0, wins = 0;
  for (size_t i = 0; i < scores.size(); ++i) (positive[i] ? positives : negatives) += 1;
  if (positives == 0 || negatives == 0) return std::nullopt;  // undefined, and 0 would read as "always wrong"
  for (size_t i = 0; i < scores.size(); ++i) {
    if (!positive[i]) continue;
    for (size_t j = 0; j < scores.size(); ++j) {
      if (positive[j]) continue;
      wins += scores[i] > scores[j] ? 1.0 : scores[i] == scores[j] ? 0.5 : 0.0;
    }
  }
  return wins / (positives * negatives);
}

namespace {

// Running sums of mask agreement for one method × layer.
struct RowSums {
  std::string method, layer;
  int count = 0;
  double pointing = 0, energy = 0, iou = 0;
};

json optional_json(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

struct FaithfulnessSums {
  std::string method, layer;
  int count = 0;
  double deletion = 0, insertion = 0, random_deletion = 0, random_insertion = 0, deletion_wins = 0, insertion_wins = 0;
};

std::string layer_name(const DenseMap& map) {
  return map.layer.empty() ? (map.segments.empty() ? "pixels" : "superpixels") : map.layer;
}

// What is known of an image's truth: whether it is a lesion (one of the positive classes), and its class
// when that is known too.
struct Truth {
  bool positive = false;
  std::optional<int> class_index;
};

class Evaluation {
 public:
  Evaluation(Model& model, const EvalOptions& options)
      : model_(model), options_(options), true_labels_(model.labels(), options.labels_csv) {
    const std::vector<std::string>& labels = model.labels();
    for (const auto& label : options.positive_labels) {
      int c = 0;
      try {
        c = parse_class(label, labels);
      } catch (const Error& e) {
        throw Error(e.code(), setting_name("positive_classes") + " " + std::string(e.what()));
      }
      if (!is_positive(c)) positives_.push_back(c);
    }
    if (positives_.empty() && labels.size() == 2) positives_ = {1};
    if (positives_.empty())
      throw usage_error(setting_name("positive_classes") + " is required for a model with more than 2 classes");
    if (positives_.size() == labels.size())
      throw usage_error(setting_name("positive_classes") +
                        ": every class is positive; leave at least one class out (the rest)");
    ExplainOptions explain = options.explain;
    if (positives_.size() == 1) {
      explain.cam.target.kind = TargetSpec::Kind::given;  // the lesion class, whatever was predicted
      explain.cam.target.class_index = positives_.front();
    } else {
      explain.cam.target.kind = TargetSpec::Kind::predicted;  // scored where it is the (right) lesion class
    }
    plan_ = plan_explanations(model, explain);
  }

  void add_batch(const std::vector<std::string>& paths, const std::vector<std::string>& relatives);
  EvalResult finish(const DiscoveryCounts& counts);

 private:
  bool is_positive(int c) const { return std::find(positives_.begin(), positives_.end(), c) != positives_.end(); }
  Truth truth_of(const std::string& path, const cv::Mat& mask) const;
  json score_maps(const ComputedExplanation& computed, const cv::Mat& mask);
  json add_faithfulness(const ComputedExplanation& computed);
  ClassificationScores classification() const;
  json save_overlays(const PreparedImage& image, const ComputedExplanation& computed, const cv::Mat& mask,
                     const std::string& relative) const;

  Model& model_;
  const EvalOptions& options_;
  TrueLabels true_labels_;
  std::vector<int> positives_;
  ExplainPlan plan_;
  std::vector<RowSums> rows_;
  std::vector<FaithfulnessSums> faithfulness_;
  std::vector<std::vector<double>> probabilities_;  // per image
  std::vector<Truth> truths_;
  std::vector<int> predicted_;
  EvalResult result_;
  json per_image_ = json::array();
};

Truth Evaluation::truth_of(const std::string& path, const cv::Mat& mask) const {
  // With --labels-csv every image must be listed there (a folder's name does not stand in for it).
  const auto label = true_labels_.of(path);
  if (!options_.labels_csv.empty() && (!label || label->source != "labels-csv"))
    throw usage_error(options_.labels_csv + ": no label for " + input_stem(path));
  if (label) {
    const int c = parse_class(label->label, plan_.labels);
    return {is_positive(c), c};
  }
  Truth truth;
  truth.positive = !mask.empty() && cv::countNonZero(mask) > 0;
  // A mask tells lesion or not; the class too when only one class is on that side.
  if (truth.positive && positives_.size() == 1) truth.class_index = positives_.front();
  if (!truth.positive && positives_.size() + 1 == plan_.labels.size())
    for (int c = 0; c < static_cast<int>(plan_.labels.size()); ++c)
      if (!is_positive(c)) truth.class_index = c;
  return truth;
}

// Mask agreement of every map (method × layer) of one image; adds to the rows.
json Evaluation::score_maps(const ComputedExplanation& computed, const cv::Mat& mask) {
  json agreement = json::array();
  for (const auto& result : computed.results)
    for (const DenseMap& dense : dense_maps(result, mask.size())) {
      // Signed maps: the positive part is the evidence *for* the class, comparable with a CAM.
      const cv::Mat map = dense.is_signed ? cv::Mat(cv::max(dense.values, 0.0)) : dense.values;
      const std::string layer = layer_name(dense);
      auto row = std::find_if(rows_.begin(), rows_.end(),
                              [&](const RowSums& r) { return r.method == result.method && r.layer == layer; });
      if (row == rows_.end()) row = rows_.insert(rows_.end(), RowSums{result.method, layer});
      const MaskAgreement a = mask_agreement(map, mask, options_.top_fraction);
      row->count += 1;
      row->pointing += a.pointing_hit ? 1 : 0;
      row->energy += a.energy_inside;
      row->iou += a.iou_top;
      agreement.push_back({{"method", result.method}, {"layer", layer}, {"pointing_hit", a.pointing_hit},
                           {"energy_inside", a.energy_inside}, {"iou_top", a.iou_top},
                           {"map_constant", a.map_constant}});
    }
  return agreement;
}

// The faithfulness areas of every map of one image (computed with the maps); adds to the sums.
json Evaluation::add_faithfulness(const ComputedExplanation& computed) {
  json entries = json::array();
  for (const auto& result : computed.results)
    for (const DenseMap& map : result.maps) {
      if (!map.details.contains("faithfulness")) continue;
      const json& f = map.details["faithfulness"];
      const std::string layer = layer_name(map);
      auto sums = std::find_if(faithfulness_.begin(), faithfulness_.end(),
                               [&](const FaithfulnessSums& s) { return s.method == result.method && s.layer == layer; });
      if (sums == faithfulness_.end()) sums = faithfulness_.insert(faithfulness_.end(), FaithfulnessSums{result.method, layer});
      const double deletion = f["deletion_auc"], insertion = f["insertion_auc"];
      const double random_deletion = f["random_deletion_auc"], random_insertion = f["random_insertion_auc"];
      sums->count += 1;
      sums->deletion += deletion;
      sums->insertion += insertion;
      sums->random_deletion += random_deletion;
      sums->random_insertion += random_insertion;
      sums->deletion_wins += deletion < random_deletion ? 1 : 0;
      sums->insertion_wins += insertion > random_insertion ? 1 : 0;
      entries.push_back({{"method", result.method}, {"layer", layer}, {"deletion_auc", deletion},
                         {"insertion_auc", insertion}, {"random_deletion_auc", random_deletion},
                         {"random_insertion_auc", random_insertion}});
    }
  return entries;
}

// --save-overlays: every map over the image with the mask's outline, DIR/RELATIVE-STEM.METHOD[.layer-L].png.
json Evaluation::save_overlays(const PreparedImage& image, const ComputedExplanation& computed, const cv::Mat& mask,
                               const std::string& relative) const {
  const ExplainOptions& o = plan_.options;
  const cv::Mat display = display_bgr(image);
  const int factor = enlargement_factor(display.size(), o.figure_size);
  const cv::Mat background = enlarge(overlay_background(display, o.background), factor);
  std::vector<std::vector<cv::Point>> outline;
  if (!mask.empty()) {
    cv::Mat inside = mask > 0, drawn;
    cv::resize(inside, drawn, background.size(), 0, 0, cv::INTER_NEAREST);
    cv::findContours(drawn, outline, cv::RETR_LIST, cv::CHAIN_APPROX_NONE);
  }
  const int thickness = std::max(1, std::min(background.cols, background.rows) / 200);
  const fs::path base = fs::path(options_.overlays_dir) / fs::path(relative).parent_path() / input_stem(relative);
  json files = json::array();
  for (const auto& result : computed.results) {
    const std::vector<DenseMap> maps = dense_maps(result, background.size());
    for (const DenseMap& map : maps) {
      cv::Mat drawn = render_map(background, map, o.colormap, o.alpha, o.signed_colormap);
      // A white line in a dark halo: visible over every colour of every map.
      cv::drawContours(drawn, outline, -1, cv::Scalar(0, 0, 0), 3 * thickness, cv::LINE_AA);
      cv::drawContours(drawn, outline, -1, cv::Scalar(255, 255, 255), thickness, cv::LINE_AA);
      const std::string name = base.string() + "." + result.method +
                               (maps.size() > 1 && !map.layer.empty() ? ".layer-" + file_safe(map.layer) : "") + ".png";
      std::error_code ec;
      fs::create_directories(fs::path(name).parent_path(), ec);
      write_file_atomic(name, encode_png(drawn, name));
      files.push_back(name);
    }
  }
  return files;
}

void Evaluation::add_batch(const std::vector<std::string>& paths, const std::vector<std::string>& relatives) {
  std::vector<PreparedImage> prepared;
  for (const auto& path : paths) prepared.push_back(prepare_image(path, plan_.card, plan_.options.limits));
  std::vector<const PreparedImage*> pointers;
  for (const auto& p : prepared) pointers.push_back(&p);
  const std::vector<ComputedExplanation> computed = compute_explanations(model_, plan_, pointers);
  for (size_t b = 0; b < prepared.size(); ++b) {
    const std::string& path = paths[b];
    const std::string mask_path = find_mask(path, options_.masks_dir);
    cv::Mat mask;
    if (!mask_path.empty()) mask = visible_part(read_mask(mask_path, prepared[b].image.pixels.size()), prepared[b]);
    const Truth truth = truth_of(path, mask);
    const Prediction& prediction = computed[b].results.front().prediction;
    const bool predicted_positive = is_positive(prediction.predicted);
    // Right about the lesion: its very class where the class is known, else lesion or not.
    const bool right_lesion = truth.positive && predicted_positive &&
                              (!truth.class_index || *truth.class_index == prediction.predicted);
    result_.images += 1;
    result_.positives += truth.positive ? 1 : 0;
    probabilities_.emplace_back(prediction.probabilities.begin(), prediction.probabilities.end());
    truths_.push_back(truth);
    predicted_.push_back(prediction.predicted);
    for (const auto& warning : computed[b].warnings) result_.warnings.push_back(path + ": " + warning);
    double positive_probability = 0;
    for (int c : positives_) positive_probability += prediction.probabilities[c];
    json entry = {{"path", path},
                  {"truth", truth.class_index ? plan_.labels[*truth.class_index] : truth.positive ? "positive" : "other"},
                  {"truth_positive", truth.positive},
                  {"predicted", plan_.labels[prediction.predicted]},
                  {"positive_probability", positive_probability},
                  {"mask", mask_path.empty() ? json(nullptr) : json(mask_path)}};
    if (!computed[b].warnings.empty()) entry["warnings"] = computed[b].warnings;
    if (right_lesion && !mask.empty() && cv::countNonZero(mask) > 0) entry["agreement"] = score_maps(computed[b], mask);
    if (plan_.options.faithfulness.enabled && predicted_positive) entry["faithfulness"] = add_faithfulness(computed[b]);
    if (!options_.overlays_dir.empty()) entry["overlays"] = save_overlays(prepared[b], computed[b], mask, relatives[b]);
    per_image_.push_back(entry);
  }
}

ClassificationScores Evaluation::classification() const {
  ClassificationScores s;
  for (int c : positives_) s.positive_classes.push_back(plan_.labels[c]);
  const size_t n = truths_.size(), classes = plan_.labels.size();
  int top1_correct = 0;
  std::vector<double> positive_scores;
  std::vector<bool> positive_truths;
  for (size_t i = 0; i < n; ++i) {
    const Truth& t = truths_[i];
    if (t.class_index) {
      s.known_classes += 1;
      top1_correct += *t.class_index == predicted_[i] ? 1 : 0;
    }
    s.positive_vs_rest_correct += is_positive(predicted_[i]) == t.positive ? 1 : 0;
    double score = 0;
    for (int c : positives_) score += probabilities_[i][c];
    positive_scores.push_back(score);
    positive_truths.push_back(t.positive);
  }
  if (n > 0) s.positive_vs_rest_accuracy = static_cast<double>(s.positive_vs_rest_correct) / n;
  s.positive_vs_rest_roc_auc = roc_auc(positive_scores, positive_truths);
  s.one_vs_rest_roc_auc.assign(classes, std::nullopt);
  // Only over a truth known for every image: a subset (say, the masked lesions) would bias both.
  if (n == 0 || s.known_classes != static_cast<int>(n)) return s;
  s.top1_accuracy = static_cast<double>(top1_correct) / n;
  double sum = 0;
  int defined = 0;
  for (size_t c = 0; c < classes; ++c) {
    std::vector<double> scores;
    std::vector<bool> is_class;
    for (size_t i = 0; i < n; ++i) {
      scores.push_back(probabilities_[i][c]);
      is_class.push_back(*truths_[i].class_index == static_cast<int>(c));
    }
    s.one_vs_rest_roc_auc[c] = roc_auc(scores, is_class);
    if (s.one_vs_rest_roc_auc[c]) sum += *s.one_vs_rest_roc_auc[c], defined += 1;
  }
  if (defined > 0) s.macro_roc_auc = sum / defined;
  return s;
}

EvalResult Evaluation::finish(const DiscoveryCounts& counts) {
  result_.skipped_outputs = counts.skipped_outputs;
  result_.skipped_masks = counts.skipped_masks;
  result_.classification = classification();
  const ClassificationScores& scores = result_.classification;
  json one_vs_rest = json::object();
  for (size_t c = 0; c < plan_.labels.size(); ++c) one_vs_rest[plan_.labels[c]] = optional_json(scores.one_vs_rest_roc_auc[c]);
  // Every method × layer has a row, also when no image could be scored (its means are then none).
  for (const auto& result_method : plan_.methods) {
    const bool any = std::any_of(rows_.begin(), rows_.end(), [&](const RowSums& r) { return r.method == result_method->name(); });
    if (any) continue;
    if (result_method->reads(Setting::layers))
      for (const auto& layer : plan_.layers) rows_.push_back(RowSums{result_method->name(), layer});
    else
      rows_.push_back(RowSums{result_method->name(), "superpixels"});
  }
  json rows = json::array();
  for (const auto& sums : rows_) {
    EvalSummaryRow row{sums.method, sums.layer, sums.count, std::nullopt, std::nullopt, std::nullopt};
    if (row.count > 0) {
      row.pointing_game = sums.pointing / row.count;
      row.energy_inside = sums.energy / row.count;
      row.iou_top = sums.iou / row.count;
    }
    result_.rows.push_back(row);
    rows.push_back({{"method", row.method}, {"layer", row.layer}, {"count", row.count},
                    {"pointing_game", optional_json(row.pointing_game)},
                    {"energy_inside", optional_json(row.energy_inside)}, {"iou_top", optional_json(row.iou_top)},
                    {"top_fraction", options_.top_fraction}});
  }
  json faithfulness = json::array();
  if (plan_.options.faithfulness.enabled) {
    // Every map row gets a faithfulness row, also when no image was predicted positive.
    for (const auto& row : result_.rows)
      if (std::none_of(faithfulness_.begin(), faithfulness_.end(),
                       [&](const FaithfulnessSums& s) { return s.method == row.method && s.layer == row.layer; }))
        faithfulness_.push_back(FaithfulnessSums{row.method, row.layer});
    for (const auto& sums : faithfulness_) {
      FaithfulnessRow row;
      row.method = sums.method;
      row.layer = sums.layer;
      row.count = sums.count;
      if (sums.count > 0) {
        const double n = sums.count;
        row.deletion_auc = sums.deletion / n;
        row.insertion_auc = sums.insertion / n;
        row.random_deletion_auc = sums.random_deletion / n;
        row.random_insertion_auc = sums.random_insertion / n;
        row.deletion_better_than_random = sums.deletion_wins / n;
        row.insertion_better_than_random = sums.insertion_wins / n;
        row.deletion_gain = *row.random_deletion_auc - *row.deletion_auc;
        row.insertion_gain = *row.insertion_auc - *row.random_insertion_auc;
      }
      result_.faithfulness.push_back(row);
      faithfulness.push_back({{"method", row.method}, {"layer", row.layer}, {"count", row.count},
                              {"deletion_auc", optional_json(row.deletion_auc)},
                              {"insertion_auc", optional_json(row.insertion_auc)},
                              {"random_deletion_auc", optional_json(row.random_deletion_auc)},
                              {"random_insertion_auc", optional_json(row.random_insertion_auc)},
                              {"deletion_better_than_random", optional_json(row.deletion_better_than_random)},
                              {"insertion_better_than_random", optional_json(row.insertion_better_than_random)},
                              {"deletion_gain", optional_json(row.deletion_gain)},
                              {"insertion_gain", optional_json(row.insertion_gain)}});
    }
  }
  result_.model_path = model_.path();
  result_.output_kind = to_string(plan_.card.output);
  result_.inference = plan_.model["inference"].get<std::string>();
  result_.gradient_passes = model_.gradient_passes();
  result_.methods = plan_.options.methods;
  result_.parameters = plan_.parameters;
  result_.report = {{"model", model_.path()},
                    {"model_sha256", model_.sha256()},
                    {"output", to_string(plan_.card.output)},
                    {"inference", plan_.model["inference"]},
                    {"positive_classes", scores.positive_classes},
                    {"methods", plan_.options.methods},
                    {"parameters", plan_.parameters},
                    {"batch_size", options_.batch_size},
                    {"top_fraction", options_.top_fraction},
                    {"images", result_.images},
                    {"positives", result_.positives},
                    {"images_with_known_class", scores.known_classes},
                    {"top1_accuracy", optional_json(scores.top1_accuracy)},
                    {"positive_vs_rest", {{"classes", scores.positive_classes},
                                          {"accuracy", scores.positive_vs_rest_accuracy},
                                          {"roc_auc", optional_json(scores.positive_vs_rest_roc_auc)}}},
                    {"roc_auc_one_vs_rest", one_vs_rest},
                    {"roc_auc_macro", optional_json(scores.macro_roc_auc)},
                    {"skipped_outputs", counts.skipped_outputs},
                    {"skipped_masks", counts.skipped_masks},
                    {"localisation", rows},
                    {"faithfulness", plan_.options.faithfulness.enabled ? faithfulness : json(nullptr)},
                    {"per_image", per_image_}};
  if (!result_.gradient_passes.empty()) result_.report["gradient_passes"] = result_.gradient_passes;
  return result_;
}

}  // namespace

EvalResult evaluate_localisation(Model& model, const std::vector<std::string>& inputs, const EvalOptions& options) {
  Evaluation evaluation(model, options);
  DiscoveryCounts counts;
  std::vector<std::string> files, relatives;
  InputSelection selection;
  if (!options.overlays_dir.empty()) selection.output_dirs = {options.overlays_dir};  // outputs are never inputs
  if (!options.masks_dir.empty()) selection.mask_dirs = {options.masks_dir};          // nor are masks
  for (const auto& input : discover_inputs(inputs, selection, &counts)) {
    files.push_back(input.path);
    relatives.push_back(input.relative);
  }
  if (files.empty()) throw usage_error("no images found in the given inputs");
  for (size_t start = 0; start < files.size(); start += options.batch_size) {
    const size_t end = std::min(files.size(), start + static_cast<size_t>(options.batch_size));
    evaluation.add_batch(std::vector<std::string>(files.begin() + start, files.begin() + end),
                         std::vector<std::string>(relatives.begin() + start, relatives.begin() + end));
  }
  return evaluation.finish(counts);
}

// "accuracy" is top-1 over all classes, "roc_auc" the macro one-vs-rest AUC: the numbers a reader
// expects under those names; the lesion-vs-rest ones say so.
const std::vector<std::string> kLocalisationMetrics = {"accuracy",          "top1_accuracy",     "roc_auc",
                                                       "roc_auc_macro",     "positive_accuracy", "positive_roc_auc",
                                                       "pointing",          "energy_inside",     "iou_top"};
const std::vector<std::string> kFaithfulnessMetrics = {"deletion_auc", "insertion_auc", "random_deletion_auc",
                                                       "random_insertion_auc", "deletion_gain", "insertion_gain"};

std::vector<MetricRow> evaluation_metric_rows(const EvalResult& result) {
  const ClassificationScores& c = result.classification;
  std::vector<MetricRow> rows = {{"run", "", {{"accuracy", c.top1_accuracy}, {"top1_accuracy", c.top1_accuracy},
                                              {"roc_auc", c.macro_roc_auc}, {"roc_auc_macro", c.macro_roc_auc},
                                              {"positive_accuracy", c.positive_vs_rest_accuracy},
                                              {"positive_roc_auc", c.positive_vs_rest_roc_auc}}}};
  auto row_for = [&](const std::string& method, const std::string& layer) -> MetricRow& {
    const std::string name = method + " " + layer;
    for (auto& r : rows)
      if (r.name == name) return r;
    rows.push_back({name, method, {}});
    return rows.back();
  };
  for (const auto& r : result.rows) {
    MetricRow& row = row_for(r.method, r.layer);
    row.metrics.insert(row.metrics.end(),
                       {{"pointing", r.pointing_game}, {"energy_inside", r.energy_inside}, {"iou_top", r.iou_top}});
  }
  for (const auto& f : result.faithfulness) {
    MetricRow& row = row_for(f.method, f.layer);
    row.metrics.insert(row.metrics.end(), {{"deletion_auc", f.deletion_auc},
                                           {"insertion_auc", f.insertion_auc},
                                           {"random_deletion_auc", f.random_deletion_auc},
                                           {"random_insertion_auc", f.random_insertion_auc},
                                           {"deletion_gain", f.deletion_gain},
                                           {"insertion_gain", f.insertion_gain}});
  }
  return rows;
}

}  // namespace xai
