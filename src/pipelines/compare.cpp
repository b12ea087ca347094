#include "xai/inputs.hpp"
#include "pipelines/compare.hpp"

#include "output/print_figure.hpp"

#include <filesystem>
#include <limits>
#include <map>
#include <tuple>
#include <opencv2/imgproc.hpp>

#include "xai/atomic_file.hpp"
#include "xai/error.hpp"
#include "output/explanation_files.hpp"
#include "xai/map_stats.hpp"
#include "analysis/metrics.hpp"
#include "output/render.hpp"
#include "output/report.hpp"
#include "output/gallery.hpp"
#include "input/preprocess.hpp"

namespace xai {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

// One model's view of the image: its prediction and every map at the original resolution.
struct ModelMaps {
  const ExplainPlan* plan = nullptr;
  Prediction prediction;
  std::vector<std::pair<std::string, DenseMap>> maps;  // (method, map), in plan order
  std::vector<nlohmann::ordered_json> summaries;       // per map: its method's parameters and result summary
  std::vector<cv::Mat> overlays;
  std::vector<ColourScale> scales;  // per map
  std::vector<std::string> warnings;  // the image's and the methods', as this model read and explained it
};

ModelMaps explain_with(Model& model, const ExplainPlan& plan, const std::string& image_path, cv::Mat& display) {
  const PreparedImage prepared = prepare_image(image_path, plan.card, plan.options.limits);
  display = display_bgr(prepared);
  const cv::Mat background = overlay_background(display, plan.options.background);
  const ComputedExplanation computed = std::move(compute_explanations(model, plan, {&prepared}).front());
  ModelMaps out;
  out.plan = &plan;
  out.warnings = computed.warnings;
  out.prediction = computed.results.front().prediction;
  for (size_t r = 0; r < computed.results.size(); ++r) {
    const MethodResult& result = computed.results[r];
    json summary = {{"parameters", plan.parameters[r]}};
    for (const auto& [key, value] : result.summary.items()) summary[key] = value;
    for (auto& dense : dense_maps(result, display.size())) {
      out.summaries.push_back(summary);
      out.overlays.push_back(render_map(background, dense, plan.options.colormap, plan.options.alpha, plan.options.signed_colormap));
      out.scales.push_back(colour_scale_of(dense, plan.options));
      out.maps.emplace_back(result.method, std::move(dense));
    }
  }
  return out;
}

std::string model_name(const Model& model) { return fs::path(model.path()).stem().string(); }

// Pairwise agreement per method × layer; a pair that explains different classes is still scored,
// and said so (field and warning): their maps answer different questions.
json agreement_of(const std::vector<Model*>& models, const std::vector<ModelMaps>& maps,
                  std::vector<std::string>& warnings) {
  json agreement = json::array();
  for (size_t k = 0; k < maps.front().maps.size(); ++k)
    for (size_t a = 0; a < models.size(); ++a)
      for (size_t b = a + 1; b < models.size(); ++b) {
        if (k >= maps[a].maps.size() || k >= maps[b].maps.size()) continue;
        const DenseMap& ma = maps[a].maps[k].second;
        const DenseMap& mb = maps[b].maps[k].second;
        const std::string& la = maps[a].plan->labels.at(ma.class_index);
        const std::string& lb = maps[b].plan->labels.at(mb.class_index);
        const bool same_class = la == lb;
        const MapSimilarity similarity = map_similarity(ma.values, mb.values, 0.2, /*absolute=*/false);
        if (!same_class)
          warnings.push_back(maps[a].maps[k].first + ": " + model_name(*models[a]) + " explains '" + la + "' and " +
                             model_name(*models[b]) + " explains '" + lb +
                             "': their maps answer different questions (give -t CLASS to compare one class)");
        agreement.push_back({{"method", maps[a].maps[k].first},
                             {"layer", ma.layer.empty() ? json(nullptr) : json(ma.layer)},
                             {"layer_b", mb.layer.empty() ? json(nullptr) : json(mb.layer)},
                             {"model_a", models[a]->path()},
                             {"model_b", models[b]->path()},
                             {"class_a", la},
                             {"class_b", lb},
                             {"same_class", same_class},
                             {"spearman", similarity.spearman},
                             {"ssim", similarity.ssim},
                             {"iou_top20", similarity.iou_top}});
      }
  return agreement;
}

}  // namespace

std::vector<std::vector<std::string>> matched_stage_layers(const std::vector<std::vector<std::string>>& stage_lists) {
  size_t depth = std::numeric_limits<size_t>::max();
  for (const auto& stages : stage_lists) depth = std::min(depth, stages.size());
  std::vector<std::vector<std::string>> chosen;
  for (const auto& stages : stage_lists) {
    chosen.emplace_back();
    for (size_t k = 0; k < depth; ++k) {
      // Stage k+1 of `depth` at the same fraction of this model's own stages: round((k+1)·n/depth) − 1.
      const size_t index = ((k + 1) * stages.size() * 2 + depth) / (2 * depth) - 1;
      chosen.back().push_back(stages.at(index));
    }
  }
  return chosen;
}

std::vector<ExplainPlan> compare_plans(const std::vector<Model*>& models, const CompareOptions& options) {
  std::vector<ExplainPlan> plans;
  if (!options.matched_stages) {
    for (Model* model : models) plans.push_back(plan_explanations(*model, options.explain));
    return plans;
  }
  if (!options.explain.cam.layers.empty())
    throw usage_error(setting_name("layer_set") + " stages chooses each model's layers: drop " + setting_name("layer"));
  std::vector<std::vector<std::string>> stage_lists;
  for (Model* model : models) {
    stage_lists.push_back(model->stage_layers());
    if (stage_lists.back().empty())
      throw usage_error(model->path() + ": no stage outputs found for " + setting_name("layer_set") +
                        " stages; name the layers with " + setting_name("layer"));
  }
  const auto chosen = matched_stage_layers(stage_lists);
  for (size_t m = 0; m < models.size(); ++m) {
    ExplainOptions own = options.explain;
    own.cam.layers = chosen[m];
    plans.push_back(plan_explanations(*models[m], own));
    if (plans.back().layers.empty())
      throw usage_error(setting_name("layer_set") + " stages: no chosen method reads a layer (" +
                        setting_name("methods") + ")");
  }
  return plans;
}

namespace {

const char* const kAgreementMetrics[] = {"spearman", "ssim", "iou_top20"};

std::string name_of(const json& value) { return value.is_string() ? value.get<std::string>() : std::string(); }

// One row of the agreement table: a model pair, method and layer(s), as its caption reads.
struct AgreementKey {
  std::string method, layer_a, layer_b, model_a, model_b;
  bool operator==(const AgreementKey& o) const { return !(*this < o) && !(o < *this); }
  bool operator<(const AgreementKey& o) const {
    return std::tie(model_a, model_b, method, layer_a, layer_b) < std::tie(o.model_a, o.model_b, o.method, o.layer_a, o.layer_b);
  }
  std::string caption() const {
    std::string layers = layer_a == layer_b ? layer_a : layer_a + " / " + layer_b;
    return fs::path(model_a).stem().string() + " vs " + fs::path(model_b).stem().string() + ": " + method +
           (layers.empty() ? "" : " (" + layers + ")");
  }
};

json metric_summary(const std::vector<double>& values) {
  if (values.empty()) return {{"n", 0}, {"mean", nullptr}, {"sd", nullptr}, {"min", nullptr}, {"max", nullptr}};
  double sum = 0;
  for (double v : values) sum += v;
  const double mean = sum / values.size();
  double squares = 0;
  for (double v : values) squares += (v - mean) * (v - mean);
  // The sample standard deviation (n - 1): the spread of agreement between images, not of this sample's mean.
  const json sd = values.size() > 1 ? json(std::sqrt(squares / (values.size() - 1))) : json(nullptr);
  return {{"n", values.size()}, {"mean", mean}, {"sd", sd},
          {"min", *std::min_element(values.begin(), values.end())},
          {"max", *std::max_element(values.begin(), values.end())}};
}

}  // namespace

AgreementSummary summarise_agreement(const std::vector<ImageAgreement>& images, const std::vector<std::string>& failed,
                                     const std::string& dir, const CompareOptions& options) {
  std::map<AgreementKey, std::map<std::string, std::vector<double>>> values;
  std::map<AgreementKey, size_t> different_classes;
  std::vector<AgreementKey> order;  // as the reports list them: pairs, methods, then layers by depth
  std::string csv = "image,model_a,model_b,method,layer_a,layer_b,class_a,class_b,same_class,spearman,ssim,iou_top20\n";
  for (const auto& image : images)
    for (const auto& row : image.agreement) {
      const AgreementKey key{row.at("method").get<std::string>(), name_of(row.at("layer")),
                             name_of(row.value("layer_b", json(nullptr))), row.at("model_a").get<std::string>(),
                             row.at("model_b").get<std::string>()};
      if (std::find(order.begin(), order.end(), key) == order.end()) order.push_back(key);
      if (!row.at("same_class").get<bool>()) ++different_classes[key];
      csv += csv_field(image.image) + "," + csv_field(key.model_a) + "," + csv_field(key.model_b) + "," +
             csv_field(key.method) + "," + csv_field(key.layer_a) + "," + csv_field(key.layer_b) + "," +
             csv_field(row.at("class_a").get<std::string>()) + "," + csv_field(row.at("class_b").get<std::string>()) + "," +
             (row.at("same_class").get<bool>() ? "true" : "false");
      for (const char* metric : kAgreementMetrics) {
        const json& v = row.at(metric);
        csv += ",";
        if (v.is_number() && std::isfinite(v.get<double>())) {
          values[key][metric].push_back(v.get<double>());
          csv += short_number(v.get<double>());
        }
      }
      csv += "\n";
    }
  AgreementSummary out;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) throw output_error(dir + ": cannot create output directory");
  out.csv_path = (fs::path(dir) / "compare.agreement.csv").string();
  out.json_path = (fs::path(dir) / "compare.agreement.json").string();
  out.figure_path = (fs::path(dir) / ("compare.agreement." + to_string(options.explain.figure_format))).string();
  TableFigure table;
  table.column_labels = {"Spearman", "SSIM", "top-20% IoU"};
  table.scale.colormap = options.explain.colormap;
  table.scale.alpha = 1;
  table.scale.units = "mean over images (cell: mean ± sd)";
  json pairs = json::array();
  for (const auto& key : order) {
    const auto& metrics = values[key];
    json entry = {{"model_a", key.model_a}, {"model_b", key.model_b}, {"method", key.method},
                  {"layer_a", key.layer_a.empty() ? json(nullptr) : json(key.layer_a)},
                  {"layer_b", key.layer_b.empty() ? json(nullptr) : json(key.layer_b)},
                  {"images_with_different_classes", different_classes[key]}};
    table.row_labels.push_back(key.caption());
    table.values.emplace_back();
    table.cells.emplace_back();
    for (const char* metric : kAgreementMetrics) {
      const auto found = metrics.find(metric);
      const json s = metric_summary(found == metrics.end() ? std::vector<double>{} : found->second);
      entry[metric] = s;
      const double mean = s.at("mean").is_number() ? s.at("mean").get<double>() : std::nan("");
      table.values.back().push_back(mean);
      table.cells.back().push_back(!std::isfinite(mean) ? "n/a"
                                   : s.at("sd").is_number() ? short_number(mean) + " ± " + short_number(s.at("sd").get<double>())
                                                            : short_number(mean));
      table.scale.saturates = table.scale.saturates || (std::isfinite(mean) && mean < 0);
    }
    pairs.push_back(std::move(entry));
  }
  std::string methods;
  for (const auto& name : options.explain.methods) methods += (methods.empty() ? "" : ", ") + name;
  table.header = {"compare: agreement over " + std::to_string(images.size()) + " images" +
                      (failed.empty() ? "" : " (" + std::to_string(failed.size()) + " failed)"),
                  "methods: " + methods + (options.matched_stages ? "   layers: stage k of each model" : "")};
  size_t mixed = 0;
  for (const auto& [key, count] : different_classes) mixed += count;
  if (mixed > 0)
    table.notes.push_back(std::to_string(mixed) + " image-pair maps explain different classes (see " +
                          fs::path(out.csv_path).filename().string() + "; give -t CLASS to compare one class)");
  out.summary = {{"schema_version", kReportSchemaVersion},
                 {"xai_version", xai_version()},
                 {"images", images.size()},
                 {"failed", failed},
                 {"methods", options.explain.methods},
                 {"matched_stages", options.matched_stages},
                 {"pairs", pairs},
                 {"table", fs::path(out.csv_path).filename().string()},
                 {"figure", fs::path(out.figure_path).filename().string()}};
  write_file_atomic(out.csv_path, csv);
  if (!table.row_labels.empty())
    write_file_atomic(out.figure_path, print_table(table, options.explain.figure_format, options.explain.figure_dpi));
  else
    out.summary["figure"] = nullptr;
  write_file_atomic(out.json_path, out.summary.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  return out;
}

CompareOutcome compare_models(const std::vector<Model*>& models, const std::string& image_path,
                              const CompareOptions& options) {
  if (models.size() < 2) throw usage_error("compare needs at least two " + setting_name("model"));
  const std::vector<ExplainPlan> plans = compare_plans(models, options);
  for (size_t m = 1; m < models.size(); ++m)
    require_same_visible_region(plans.front().card, plans[m].card, "compare", models.front()->path(), models[m]->path());
  std::vector<ModelMaps> maps;
  std::vector<std::string> outcome_warnings;
  std::vector<cv::Mat> tiles;
  std::vector<std::string> captions;
  json model_reports = json::array();
  for (size_t m = 0; m < models.size(); ++m) {
    cv::Mat display;
    maps.push_back(explain_with(*models[m], plans[m], image_path, display));
    const ModelMaps& mm = maps.back();
    for (const auto& warning : mm.warnings) outcome_warnings.push_back(model_name(*models[m]) + ": " + warning);
    const std::vector<std::string>& labels = plans[m].labels;
    char probability[32];
    std::snprintf(probability, sizeof probability, "%.3f", mm.prediction.probabilities.at(mm.prediction.predicted));
    tiles.push_back(display);
    captions.push_back(model_name(*models[m]) + "\n" + labels.at(mm.prediction.predicted) + " p=" + probability +
                       (options.true_label.empty() ? "" : "\ntrue: " + options.true_label));
    json explanations = json::array();
    for (size_t k = 0; k < mm.maps.size(); ++k) {
      const auto& [method, dense] = mm.maps[k];
      tiles.push_back(mm.overlays[k]);
      captions.push_back(method + (dense.layer.empty() ? "" : " " + dense.layer) + "\nclass: " +
                         labels.at(dense.class_index));
      json entry = {{"method", method},
                    {"layer", dense.layer.empty() ? json(nullptr) : json(dense.layer)},
                    {"target", {{"index", dense.class_index},
                                {"label", labels.at(dense.class_index)},
                                {"probability", mm.prediction.probabilities.at(dense.class_index)}}}};
      for (const auto& [key, value] : mm.summaries[k].items()) entry[key] = value;
      entry["stats"] = map_stats_json(compute_map_stats(dense.values));
      explanations.push_back(std::move(entry));
    }
    model_reports.push_back({{"path", models[m]->path()},
                             {"sha256", models[m]->sha256()},
                             {"name", models[m]->card().name},
                             {"inference", plans[m].model["inference"]},
                             {"layers", plans[m].layers},
                             {"prediction", prediction_json(mm.prediction, labels)},
                             {"explanations", explanations}});
  }
  CompareOutcome outcome;
  outcome.warnings = outcome_warnings;
  const json agreement = agreement_of(models, maps, outcome.warnings);

  const std::string dir = output_dir_for(image_path, options.explain.output_dir);
  const std::string stem = input_stem(image_path);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) throw output_error(dir + ": cannot create output directory");
  outcome.grid_path = (fs::path(dir) / (stem + ".compare." + to_string(options.explain.figure_format))).string();
  outcome.report_path = (fs::path(dir) / (stem + ".compare.json")).string();
  outcome.report = {{"schema_version", kReportSchemaVersion},
                    {"xai_version", xai_version()},
                    {"input", image_path},
                    {"true_label", options.true_label.empty() ? json(nullptr) : json(options.true_label)},
                    {"methods", options.explain.methods},
                    {"target", target_parameters(options.explain.cam.target)},
                    {"models", model_reports},
                    {"agreement", agreement},
                    {"warnings", outcome.warnings},
                    {"grid", fs::path(outcome.grid_path).filename().string()}};
  const int columns = static_cast<int>(maps.front().maps.size()) + 1;
  std::vector<ColourScale> scales;
  for (const auto& mm : maps) scales.insert(scales.end(), mm.scales.begin(), mm.scales.end());
  const std::optional<ColourScale> scale = common_colour_scale(scales);
  std::string methods;
  for (const auto& name : options.explain.methods) methods += (methods.empty() ? "" : ", ") + name;
  const std::vector<std::string> header = {
      "compare: " + fs::path(image_path).filename().string() +
          (options.true_label.empty() ? "" : "   true label: " + options.true_label),
      "methods: " + methods + (options.matched_stages ? "   layers: stage k of each model (its own stage outputs)" : "") +
          (scale ? "" : "   (maps on their own scales: no shared colour bar)")};
  write_file_atomic(outcome.grid_path, encode_grid(tiles, captions, columns, 224, header, scale ? &*scale : nullptr,
                                                   options.explain.figure_format, options.explain.figure_dpi, outcome.grid_path));
  write_file_atomic(outcome.report_path, outcome.report.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  return outcome;
}

}  // namespace xai
