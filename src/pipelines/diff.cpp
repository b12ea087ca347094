#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <opencv2/imgproc.hpp>
#include <sstream>

#include "core/image_geometry.hpp"
#include "xai/atomic_file.hpp"
#include "output/print_figure.hpp"
#include "pipelines/drift.hpp"
#include "xai/error.hpp"
#include "xai/explain.hpp"
#include "output/explanation_files.hpp"
#include "output/gallery.hpp"
#include "xai/inputs.hpp"
#include "analysis/metrics.hpp"
#include "output/render.hpp"
#include "core/statistics.hpp"
#include "output/report.hpp"
#include "methods/target.hpp"
#include "core/text.hpp"
#include "input/true_labels.hpp"
#include "input/preprocess.hpp"

namespace xai {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

// Maps are compared, and figures drawn, in the image's frame: its own size up to this many pixels a
// side (both models may have different input sizes; the image is what they share).
constexpr int kFrameSize = 384;

struct Side {
  Prediction prediction;
  std::vector<std::string> names;  // "method" or "method layer", per map
  std::vector<std::string> methods, layers;
  std::vector<cv::Mat> maps, overlays;
  std::vector<ColourScale> scales;  // per map
};

std::string url_path(const std::string& relative) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : relative) {
    if (std::isalnum(c) || c == '/' || c == '.' || c == '-' || c == '_')
      out += static_cast<char>(c);
    else
      out += std::string("%") + hex[c >> 4] + hex[c & 15];
  }
  return out;
}

class DiffRun {
 public:
  DiffRun(Model& old_model, Model& new_model, const DiffOptions& options)
      : old_(old_model), new_(new_model), options_(options) {}

  DiffResult run(const std::vector<std::string>& inputs) {
    old_plan_ = plan_explanations(old_, options_.explain);
    true_labels_.emplace(old_plan_.labels, options_.labels_csv);
    const ExplainPlan new_plan = plan_explanations(new_, options_.explain);
    require_same_visible_region(old_plan_.card, new_plan.card, "diff", old_.path(), new_.path());
    if (old_plan_.labels != new_plan.labels)
      throw usage_error("diff: " + new_.path() + " has other labels than " + old_.path() +
                        " (their maps would explain different classes): " + join(old_plan_.labels) + " vs " +
                        join(new_plan.labels));

    InputSelection selection;
    selection.output_dirs = {options_.output_dir};
    DiscoveryCounts counts;
    files_ = discover_inputs(inputs, selection, &counts);
    if (files_.empty()) throw usage_error("no images found in the given inputs");
    result_.skipped_outputs = counts.skipped_outputs;
    result_.skipped_masks = counts.skipped_masks;
    std::error_code ec;
    fs::create_directories(options_.output_dir, ec);
    if (ec || !fs::is_directory(options_.output_dir))
      throw output_error(options_.output_dir + ": cannot create output directory");

    const size_t batch = static_cast<size_t>(std::max(1, options_.batch_size));
    for (size_t start = 0; start < files_.size(); start += batch)
      add_batch(start, std::min(files_.size(), start + batch));
    finish();
    return std::move(result_);
  }

 private:
  static std::string join(const std::vector<std::string>& labels) {
    std::string text;
    for (const auto& l : labels) text += (text.empty() ? "" : ",") + l;
    return text;
  }

  // The new model's plan for one class (the old model's prediction), made once per class.
  const ExplainPlan& new_plan_for(int target) {
    auto it = new_plans_.find(target);
    if (it != new_plans_.end()) return it->second;
    ExplainOptions fixed_target = options_.explain;
    fixed_target.cam.target = TargetSpec{TargetSpec::Kind::given, target, 1};
    return new_plans_.emplace(target, plan_explanations(new_, fixed_target)).first->second;
  }

  static Side side_of(const ComputedExplanation& computed, const cv::Mat& display, const ExplainPlan& plan) {
    Side side;
    const cv::Mat background = overlay_background(display, plan.options.background);
    side.prediction = computed.results.front().prediction;
    for (const MethodResult& result : computed.results)
      for (DenseMap& dense : dense_maps(result, display.size())) {
        side.methods.push_back(result.method);
        side.layers.push_back(dense.layer);
        side.names.push_back(dense.layer.empty() ? result.method : result.method + " " + dense.layer);
        side.overlays.push_back(render_map(background, dense, plan.options.colormap, plan.options.alpha, plan.options.signed_colormap));
        side.scales.push_back(colour_scale_of(dense, plan.options));
        side.maps.push_back(std::move(dense.values));
      }
    return side;
  }

  void add_batch(size_t start, size_t end) {
    std::vector<PreparedImage> old_images;
    for (size_t i = start; i < end; ++i) old_images.push_back(prepare_image(files_[i].path, old_plan_.card, old_plan_.options.limits));
    std::vector<const PreparedImage*> pointers;
    for (const auto& p : old_images) pointers.push_back(&p);
    const std::vector<ComputedExplanation> old_computed = compute_explanations(old_, old_plan_, pointers);
    // The old model decides each image's class; the new one explains that class too.
    std::map<int, std::vector<size_t>> by_class;
    std::vector<int> targets;
    for (size_t b = 0; b < old_computed.size(); ++b) {
      targets.push_back(old_computed[b].results.front().maps.front().class_index);
      by_class[targets.back()].push_back(b);
    }
    std::vector<ComputedExplanation> new_computed(old_computed.size());
    for (const auto& [target, members] : by_class) {
      const ExplainPlan& plan = new_plan_for(target);
      std::vector<PreparedImage> new_images;
      for (size_t b : members) new_images.push_back(prepare_image(files_[start + b].path, plan.card, plan.options.limits));
      std::vector<const PreparedImage*> new_pointers;
      for (const auto& p : new_images) new_pointers.push_back(&p);
      std::vector<ComputedExplanation> computed = compute_explanations(new_, plan, new_pointers);
      for (size_t m = 0; m < members.size(); ++m) new_computed[members[m]] = std::move(computed[m]);
    }
    for (size_t b = 0; b < old_computed.size(); ++b)
      add_image(files_[start + b], old_images[b], old_computed[b], new_computed[b], targets[b]);
  }

  void add_image(const InputFile& file, const PreparedImage& image, const ComputedExplanation& old_computed,
                 const ComputedExplanation& new_computed, int target) {
    const cv::Mat display = shrink_to_fit(display_bgr(image), kFrameSize, cv::INTER_AREA);
    const Side a = side_of(old_computed, display, old_plan_);
    const Side b = side_of(new_computed, display, new_plan_for(target));
    for (const auto& w : old_computed.warnings) result_.warnings.push_back(file.path + ": old model: " + w);
    for (const auto& w : new_computed.warnings) result_.warnings.push_back(file.path + ": new model: " + w);
    ImageDrift drift;
    drift.path = file.path;
    drift.target = target;
    drift.old_label = old_plan_.labels.at(a.prediction.predicted);
    drift.new_label = old_plan_.labels.at(b.prediction.predicted);
    drift.old_probability = a.prediction.probabilities.at(target);
    drift.new_probability = b.prediction.probabilities.at(target);
    drift.old_predicted_probability = a.prediction.probabilities.at(a.prediction.predicted);
    drift.new_predicted_probability = b.prediction.probabilities.at(b.prediction.predicted);
    if (const auto truth = true_labels_->of(file.path)) drift.true_label = truth->label;
    drift.prediction_changed = a.prediction.predicted != b.prediction.predicted;
    std::vector<cv::Mat> tiles;
    std::vector<std::string> captions;
    const std::string label = old_plan_.labels.at(target);
    for (size_t k = 0; k < a.maps.size() && k < b.maps.size(); ++k) {
      const MapSimilarity s = map_similarity(a.maps[k], b.maps[k], options_.top_fraction, /*absolute=*/false);
      MapDrift m{a.methods[k], a.layers[k], b.layers[k], s.spearman, s.ssim, s.iou_top, 1.0 - s.spearman};
      drift.drift = std::max(drift.drift, m.drift);
      drift.maps.push_back(m);
      tiles.insert(tiles.end(), {display, a.overlays[k], b.overlays[k]});
      captions.push_back(fs::path(file.path).filename().string() + "\nclass " + label);
      captions.push_back("old " + a.names[k] + "\n" + drift.old_label + " p(" + label + ") " + fixed_decimals(drift.old_probability));
      captions.push_back("new " + b.names[k] + "\n" + drift.new_label + " p(" + label + ") " + fixed_decimals(drift.new_probability) +
                         " rho " + fixed_decimals(s.spearman));
    }
    const fs::path relative(file.relative);
    const FigureFormat format = options_.explain.figure_format;
    drift.figure = (relative.parent_path() / (input_stem(relative) + ".diff." + to_string(format))).generic_string();
    const fs::path figure = fs::path(options_.output_dir) / drift.figure;
    std::error_code ec;
    fs::create_directories(figure.parent_path(), ec);
    std::vector<ColourScale> scales = a.scales;
    scales.insert(scales.end(), b.scales.begin(), b.scales.end());
    const std::optional<ColourScale> scale = common_colour_scale(scales);
    const std::vector<std::string> header = {
        "diff: " + file.path + "   explained: " + label,
        "old " + fs::path(old_.path()).filename().string() + " -> new " + fs::path(new_.path()).filename().string() +
            (scale ? "" : "   (maps on their own scales: no shared colour bar)")};
    write_file_atomic(figure.string(), encode_grid(tiles, captions, 3, 224, header, scale ? &*scale : nullptr, format,
                                                   options_.explain.figure_dpi, figure.string()));
    result_.prediction_changes += drift.prediction_changed ? 1 : 0;
    result_.images.push_back(std::move(drift));
  }

  void finish() {
    // Rows: one per map position (method × layers), over every image.
    const size_t maps = result_.images.front().maps.size();
    for (size_t k = 0; k < maps; ++k) {
      DriftRow row;
      const MapDrift& first = result_.images.front().maps[k];
      row.method = first.method;
      row.old_layer = first.old_layer;
      row.new_layer = first.new_layer;
      std::vector<double> drifts;
      for (const auto& image : result_.images) {
        if (k >= image.maps.size()) continue;
        drifts.push_back(image.maps[k].drift);
        row.spearman_mean += image.maps[k].spearman;
        row.iou_top_mean += image.maps[k].iou_top;
      }
      row.count = static_cast<int>(drifts.size());
      if (row.count > 0) {
        row.spearman_mean /= row.count;
        row.iou_top_mean /= row.count;
        for (double d : drifts) row.drift_mean += d / row.count;
        row.drift_p50 = quantile(drifts, 0.5);
        row.drift_p90 = quantile(drifts, 0.9);
        row.drift_max = *std::max_element(drifts.begin(), drifts.end());
      }
      result_.rows.push_back(row);
    }
    result_.prediction_change_rate = static_cast<double>(result_.prediction_changes) / result_.images.size();
    int old_right = 0, new_right = 0;
    for (const auto& image : result_.images) {
      if (!image.true_label) continue;
      result_.images_with_true_label += 1;
      old_right += image.old_label == *image.true_label ? 1 : 0;
      new_right += image.new_label == *image.true_label ? 1 : 0;
    }
    if (result_.images_with_true_label > 0) {
      result_.old_top1_accuracy = static_cast<double>(old_right) / result_.images_with_true_label;
      result_.new_top1_accuracy = static_cast<double>(new_right) / result_.images_with_true_label;
    }
    std::stable_sort(result_.images.begin(), result_.images.end(),
                     [](const ImageDrift& x, const ImageDrift& y) { return x.drift > y.drift; });
    write_report();
    write_csv();
    write_gallery();
  }

  static json layer_json(const std::string& layer) { return layer.empty() ? json(nullptr) : json(layer); }

  void write_report() {
    json rows = json::array();
    for (const auto& r : result_.rows)
      rows.push_back({{"method", r.method}, {"old_layer", layer_json(r.old_layer)}, {"new_layer", layer_json(r.new_layer)},
                      {"count", r.count}, {"spearman_mean", r.spearman_mean}, {"iou_top_mean", r.iou_top_mean},
                      {"drift_mean", r.drift_mean}, {"drift_p50", r.drift_p50}, {"drift_p90", r.drift_p90},
                      {"drift_max", r.drift_max}});
    json images = json::array();
    for (const auto& image : result_.images) {
      json maps = json::array();
      for (const auto& m : image.maps)
        maps.push_back({{"method", m.method}, {"old_layer", layer_json(m.old_layer)}, {"new_layer", layer_json(m.new_layer)},
                        {"spearman", m.spearman}, {"ssim", m.ssim}, {"iou_top", m.iou_top}, {"drift", m.drift}});
      images.push_back({{"path", image.path},
                        {"figure", image.figure},
                        {"explained_class", old_plan_.labels.at(image.target)},
                        {"true_label", image.true_label ? json(*image.true_label) : json(nullptr)},
                        {"old", {{"predicted", image.old_label},
                                 {"p_predicted", image.old_predicted_probability},
                                 {"p_explained_class", image.old_probability}}},
                        {"new", {{"predicted", image.new_label},
                                 {"p_predicted", image.new_predicted_probability},
                                 {"p_explained_class", image.new_probability}}},
                        {"prediction_changed", image.prediction_changed},
                        {"drift", image.drift},
                        {"maps", maps}});
    }
    const auto model_json = [](Model& model, const ExplainPlan& plan) {
      return json{{"path", model.path()}, {"sha256", model.sha256()}, {"name", model.card().name},
                  {"inference", model.inference()}, {"layers", plan.layers}, {"parameters", plan.parameters}};
    };
    result_.report = {{"schema_version", kReportSchemaVersion},
                      {"xai_version", xai_version()},
                      {"old", model_json(old_, old_plan_)},
                      {"new", model_json(new_, new_plan_for(result_.images.front().target))},
                      {"methods", options_.explain.methods},
                      {"target", target_parameters(options_.explain.cam.target)},
                      {"class_explained", "the old model's prediction, or the given class, by both models"},
                      {"drift", "1 - Spearman rho of the two maps (0: same ranking, 1: unrelated, 2: reversed)"},
                      {"top_fraction", options_.top_fraction},
                      {"batch_size", options_.batch_size},
                      {"images", result_.images.size()},
                      {"skipped_outputs", result_.skipped_outputs},
                      {"skipped_masks", result_.skipped_masks},
                      {"prediction_changes", result_.prediction_changes},
                      {"prediction_change_rate", result_.prediction_change_rate},
                      {"images_with_true_label", result_.images_with_true_label},
                      {"old_top1_accuracy", result_.old_top1_accuracy ? json(*result_.old_top1_accuracy) : json(nullptr)},
                      {"new_top1_accuracy", result_.new_top1_accuracy ? json(*result_.new_top1_accuracy) : json(nullptr)},
                      {"rows", rows},
                      {"warnings", result_.warnings},
                      {"per_image", images}};
    result_.report_path = (fs::path(options_.output_dir) / "diff.json").string();
    write_file_atomic(result_.report_path, result_.report.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  }

  void write_csv() {
    std::ostringstream csv;
    // Each probability is named for its class: p(explained class) of both models, and each model's
    // probability of its own prediction beside that prediction.
    csv << "path,true_label,method,old_layer,new_layer,explained_class,old_p_explained_class,new_p_explained_class,"
           "old_predicted,old_p_predicted,new_predicted,new_p_predicted,prediction_changed,spearman,ssim,iou_top,drift\n";
    for (const auto& image : result_.images)
      for (const auto& m : image.maps)
        csv << csv_field(image.path) << ',' << csv_field(image.true_label.value_or("")) << ',' << csv_field(m.method)
            << ',' << csv_field(m.old_layer) << ',' << csv_field(m.new_layer) << ','
            << csv_field(old_plan_.labels.at(image.target)) << ',' << image.old_probability << ','
            << image.new_probability << ',' << csv_field(image.old_label) << ',' << image.old_predicted_probability
            << ',' << csv_field(image.new_label) << ',' << image.new_predicted_probability << ','
            << (image.prediction_changed ? 1 : 0) << ',' << m.spearman << ',' << m.ssim << ',' << m.iou_top << ','
            << m.drift << '\n';
    result_.csv_path = (fs::path(options_.output_dir) / "diff.csv").string();
    write_file_atomic(result_.csv_path, csv.str());
  }

  // A static page (no script needed): the images, largest drift first, old and new side by side.
  void write_gallery() {
    std::ostringstream html;
    html << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>xai diff</title>\n<style>\n"
            "body{font-family:system-ui,sans-serif;margin:1.5rem;background:#fafafa;color:#222}\n"
            "table.summary{border-collapse:collapse;margin-bottom:1rem}\n"
            "table.summary td,table.summary th{border:1px solid #ccc;padding:.25rem .6rem;text-align:right}\n"
            ".cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(640px,1fr));gap:1rem}\n"
            ".card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.6rem;min-width:0}\n"
            ".card img{width:100%;height:auto;image-rendering:pixelated}\n"
            ".changed{border-color:#c33;box-shadow:0 0 0 2px #f3c0c0}\n"
            ".path{font-family:monospace;word-break:break-all}\n"
            "</style>\n</head>\n<body>\n";
    html << "<h1>Explanation drift</h1>\n<p>old <span class=\"path\">" << markup_escaped(old_.path())
         << "</span> &rarr; new <span class=\"path\">" << markup_escaped(new_.path()) << "</span>; " << result_.images.size()
         << " image(s), " << result_.prediction_changes
         << " prediction change(s). Drift = 1 &minus; Spearman &rho; of the two maps of the same class "
            "(0 same ranking, 1 unrelated). Largest drift first.</p>\n";
    html << "<table class=\"summary\"><tr><th>method</th><th>old layer</th><th>new layer</th><th>images</th>"
            "<th>drift mean</th><th>p50</th><th>p90</th><th>max</th><th>IoU top</th></tr>\n";
    for (const auto& r : result_.rows)
      html << "<tr><td>" << markup_escaped(r.method) << "</td><td>" << markup_escaped(r.old_layer) << "</td><td>"
           << markup_escaped(r.new_layer) << "</td><td>" << r.count << "</td><td>" << fixed_decimals(r.drift_mean, 3) << "</td><td>"
           << fixed_decimals(r.drift_p50, 3) << "</td><td>" << fixed_decimals(r.drift_p90, 3) << "</td><td>" << fixed_decimals(r.drift_max, 3)
           << "</td><td>" << fixed_decimals(r.iou_top_mean, 3) << "</td></tr>\n";
    html << "</table>\n<div class=\"cards\">\n";
    for (const auto& image : result_.images) {
      html << "<div class=\"card" << (image.prediction_changed ? " changed" : "") << "\">\n<div class=\"path\">"
           << markup_escaped(image.path) << "</div>\n<div>drift " << fixed_decimals(image.drift, 3) << "; predicted "
           << markup_escaped(image.old_label) << " &rarr; " << markup_escaped(image.new_label)
           << (image.prediction_changed ? " <strong>(changed)</strong>" : "") << "; p(" << markup_escaped(old_plan_.labels.at(image.target))
           << ") " << fixed_decimals(image.old_probability, 3) << " &rarr; " << fixed_decimals(image.new_probability, 3) << "</div>\n"
           << (options_.explain.figure_format == FigureFormat::pdf
                   // A browser's <img> shows no PDF: a link to it.
                   ? "<a href=\"" + markup_escaped(url_path(image.figure)) + "\">old and new maps (PDF)</a>\n</div>\n"
                   : "<img loading=\"lazy\" src=\"" + markup_escaped(url_path(image.figure)) + "\" alt=\"old and new maps of " +
                         markup_escaped(image.path) + "\">\n</div>\n");
    }
    html << "</div>\n</body>\n</html>\n";
    result_.gallery_path = (fs::path(options_.output_dir) / "index.html").string();
    write_file_atomic(result_.gallery_path, html.str());
  }

  Model& old_;
  Model& new_;
  const DiffOptions& options_;
  ExplainPlan old_plan_;
  std::optional<TrueLabels> true_labels_;  // built with the plan: it needs the labels
  std::map<int, ExplainPlan> new_plans_;
  std::vector<InputFile> files_;
  DiffResult result_;
};

}  // namespace

DiffResult diff_models(Model& old_model, Model& new_model, const std::vector<std::string>& inputs,
                       const DiffOptions& options) {
  if (options.output_dir.empty()) throw usage_error("diff needs an output folder (-o)");
  return DiffRun(old_model, new_model, options).run(inputs);
}

}  // namespace xai
