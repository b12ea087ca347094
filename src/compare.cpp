#include "xai/compare.hpp"

#include <filesystem>
#include <opencv2/imgproc.hpp>

#include "xai/atomic_file.hpp"
#include "xai/cam.hpp"
#include "xai/error.hpp"
#include "xai/lime.hpp"
#include "xai/map_stats.hpp"
#include "xai/metrics.hpp"
#include "xai/render.hpp"
#include "xai/report.hpp"

namespace xai {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

// One model's map for one method, at the original image's resolution.
struct MethodMap {
  std::string method;
  std::string layer;
  cv::Mat map;      // CV_32FC1: [0,1] for CAMs, signed superpixel weights for LIME
  cv::Mat overlay;  // 8-bit BGR
};

std::vector<double> agreement_values(const cv::Mat& map) {
  // Rank correlation on at most 128 px a side: enough for maps that come from coarse grids.
  cv::Mat small = map;
  const double f = 128.0 / std::max(map.cols, map.rows);
  if (f < 1) cv::resize(map, small, cv::Size(), f, f, cv::INTER_AREA);
  cv::Mat continuous = small.isContinuous() ? small : small.clone();
  return std::vector<double>(continuous.begin<float>(), continuous.end<float>());
}

}  // namespace

CompareOutcome compare_models(const std::vector<Model*>& models, const std::string& image_path,
                              const CompareOptions& options) {
  if (models.size() < 2) throw usage_error("compare needs at least two --model");
  const ExplainOptions& explain = options.explain;
  const std::string stem = fs::path(image_path).stem().string();
  std::vector<cv::Mat> tiles;
  std::vector<std::string> captions;
  std::vector<std::vector<MethodMap>> maps(models.size());
  json model_reports = json::array();
  std::string original_path;

  for (size_t m = 0; m < models.size(); ++m) {
    Model& model = *models[m];
    const std::vector<std::string>& labels = model.labels();
    const PreparedImage prepared = prepare_image(image_path, model.card(), explain.limits);
    const cv::Mat display = to_display_bgr(prepared.image);
    Prediction prediction;
    json explanations = json::array();
    for (const auto& method : explain.methods) {
      MethodMap mm;
      mm.method = method;
      if (method == "lime") {
        LimeOptions lime = explain.lime;
        lime.target = explain.cam.target;
        const LimeExplanation result = explain_lime(model, prepared.image, lime);
        prediction = result.prediction;
        const cv::Mat segments = segments_at_size(result.segments, display.size());
        mm.map = segment_value_map(segments, result.classes.front().weights);
        mm.overlay = render_signed_segments(display, segments, result.classes.front().weights);
      } else {
        CamRequest request = explain.cam;
        request.method = method;
        request.layers = {model.default_layer()};
        const CamExplanation result = explain_cam(model, {prepared.blob}, request).front();
        prediction = result.prediction;
        mm.layer = request.layers.front();
        mm.map = upsample_map(result.targets.front().maps.front().map, display.cols, display.rows);
        mm.overlay = overlay(display, mm.map, explain.colormap, explain.alpha);
      }
      explanations.push_back({{"method", method},
                              {"layer", mm.layer.empty() ? json(nullptr) : json(mm.layer)},
                              {"stats", map_stats_json(compute_map_stats(mm.map))}});
      maps[m].push_back(std::move(mm));
    }
    const std::string name = model.card().name.empty() ? fs::path(model.path()).stem().string() : model.card().name;
    char probability[32];
    std::snprintf(probability, sizeof probability, "%.3f", prediction.probabilities.at(prediction.predicted));
    tiles.push_back(display);
    captions.push_back(fs::path(model.path()).stem().string() + "\n" + labels.at(prediction.predicted) + " p=" +
                       probability + (options.true_label.empty() ? "" : "\ntrue: " + options.true_label));
    for (const auto& mm : maps[m]) {
      tiles.push_back(mm.overlay);
      captions.push_back(mm.method + (mm.layer.empty() ? "" : "\n" + mm.layer));
    }
    model_reports.push_back({{"path", model.path()},
                             {"sha256", model.sha256()},
                             {"name", name},
                             {"prediction", prediction_json(prediction, labels)},
                             {"explanations", explanations}});
  }

  json agreement = json::array();
  for (size_t k = 0; k < explain.methods.size(); ++k)
    for (size_t a = 0; a < models.size(); ++a)
      for (size_t b = a + 1; b < models.size(); ++b)
        agreement.push_back({{"method", explain.methods[k]},
                             {"model_a", models[a]->path()},
                             {"model_b", models[b]->path()},
                             {"spearman", spearman(agreement_values(maps[a][k].map), agreement_values(maps[b][k].map))},
                             {"iou_top20", top_fraction_iou(maps[a][k].map, maps[b][k].map, 0.2)}});

  const std::string dir = output_dir_for(image_path, options.output_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) throw output_error(dir + ": cannot create output directory");
  CompareOutcome outcome;
  outcome.grid_path = (fs::path(dir) / (stem + ".compare.png")).string();
  outcome.report_path = (fs::path(dir) / (stem + ".compare.json")).string();
  outcome.report = {{"schema_version", kReportSchemaVersion},
                    {"xai_version", xai_version()},
                    {"input", image_path},
                    {"true_label", options.true_label.empty() ? json(nullptr) : json(options.true_label)},
                    {"methods", explain.methods},
                    {"models", model_reports},
                    {"agreement", agreement},
                    {"grid", fs::path(outcome.grid_path).filename().string()}};
  write_file_atomic(outcome.grid_path,
                    encode_png(tile_grid(tiles, captions, static_cast<int>(explain.methods.size()) + 1), outcome.grid_path));
  write_file_atomic(outcome.report_path, outcome.report.dump(2) + "\n");
  return outcome;
}

}  // namespace xai
