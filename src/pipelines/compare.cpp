#include "xai/inputs.hpp"
#include "pipelines/compare.hpp"

#include "output/print_figure.hpp"

#include <filesystem>
#include <opencv2/imgproc.hpp>

#include "xai/atomic_file.hpp"
#include "xai/error.hpp"
#include "output/explanation_files.hpp"
#include "xai/map_stats.hpp"
#include "analysis/metrics.hpp"
#include "output/render.hpp"
#include "output/report.hpp"
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

CompareOutcome compare_models(const std::vector<Model*>& models, const std::string& image_path,
                              const CompareOptions& options) {
  if (models.size() < 2) throw usage_error("compare needs at least two " + setting_name("model"));
  std::vector<ExplainPlan> plans;
  for (Model* model : models) plans.push_back(plan_explanations(*model, options.explain));
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
      "methods: " + methods + (scale ? "" : "   (maps on their own scales: no shared colour bar)")};
  write_file_atomic(outcome.grid_path, encode_grid(tiles, captions, columns, 224, header, scale ? &*scale : nullptr,
                                                   options.explain.figure_format, options.explain.figure_dpi, outcome.grid_path));
  write_file_atomic(outcome.report_path, outcome.report.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  return outcome;
}

}  // namespace xai
