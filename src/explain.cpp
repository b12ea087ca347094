#include "xai/explain.hpp"

#include <chrono>
#include <filesystem>

#include "xai/atomic_file.hpp"
#include "xai/error.hpp"
#include "xai/map_stats.hpp"
#include "xai/npy.hpp"
#include "xai/preprocess.hpp"
#include "xai/report.hpp"

namespace xai {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// A file to write once everything is computed, so a failure midway leaves no stray outputs.
struct PendingFile {
  std::string name;
  std::string bytes;
};

}  // namespace

std::string file_safe(const std::string& label) {
  std::string out;
  for (char c : label) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
  return out.empty() ? "_" : out;
}

std::string output_dir_for(const std::string& image_path, const std::string& requested_dir) {
  if (!requested_dir.empty()) return requested_dir;
  return (fs::path(image_path).parent_path() / "xai-out").string();
}

ExplainOutcome explain_image(Model& model, const std::string& image_path, const ExplainOptions& options) {
  const auto start = Clock::now();
  json timings;

  auto t = Clock::now();
  const Image image = load_image(image_path, options.limits);
  timings["load_image"] = ms_since(t);

  t = Clock::now();
  const std::vector<std::string>& labels = model.labels();
  const InputBlob blob = preprocess(image, model.card());
  timings["preprocess"] = ms_since(t);

  t = Clock::now();
  CamRequest request = options.cam;
  if (request.layers.empty()) request.layers = {model.default_layer()};
  const CamExplanation result = explain_cam(model, {blob}, request).front();
  timings["explain"] = ms_since(t);

  t = Clock::now();
  const std::string stem = fs::path(image_path).stem().string();
  const cv::Mat display = to_display_bgr(image);
  std::vector<PendingFile> pending;
  json explanations = json::array();
  json warnings = json::array();
  for (const auto& w : model.warnings()) warnings.push_back(w);
  for (const auto& w : image.warnings) warnings.push_back(w);

  const bool several_targets = result.targets.size() > 1;
  const bool several_layers = request.layers.size() > 1;
  for (const auto& target : result.targets) {
    const std::string& label = labels.at(target.class_index);
    for (const auto& layer_map : target.maps) {
      std::string base = stem + "." + request.method;
      if (several_targets) base += "." + file_safe(label);
      if (several_layers) base += ".layer-" + file_safe(layer_map.layer);
      // One resize from the layer's grid straight to the original image (no double interpolation).
      const cv::Mat full = upsample_map(layer_map.map, image.width(), image.height());
      pending.push_back({base + ".png", encode_png(overlay(display, full, options.colormap, options.alpha), base)});
      pending.push_back({base + ".npy", npy_bytes(reinterpret_cast<const float*>(full.data),
                                                  {static_cast<size_t>(full.rows), static_cast<size_t>(full.cols)})});
      if (layer_map.constant)
        warnings.push_back("map for class '" + label + "' at layer '" + layer_map.layer +
                           "' is constant (all zero after ReLU): nothing at this layer supports the class");
      explanations.push_back(
          {{"target", {{"index", target.class_index}, {"label", label},
                       {"probability", result.prediction.probabilities.at(target.class_index)},
                       {"score", target.score}}},
           {"layer", layer_map.layer},
           {"layer_calls", layer_map.calls},
           {"activation_shape", layer_map.activation_shape},
           {"map_resolution", {layer_map.map.rows, layer_map.map.cols}},
           {"constant", layer_map.constant},
           {"stats", map_stats_json(compute_map_stats(full))},
           {"files", {{"overlay", base + ".png"}, {"map", base + ".npy"}}}});
    }
  }
  timings["render"] = ms_since(t);

  json report = {{"schema_version", kReportSchemaVersion},
                 {"xai_version", xai_version()},
                 {"input", image_json(image)},
                 {"model", model_json(model)},
                 {"preprocessing", preprocessing_json(image, model.card())},
                 {"prediction", prediction_json(result.prediction, labels)},
                 {"method", request.method},
                 {"layers", request.layers},
                 {"explanations", explanations},
                 {"warnings", warnings}};

  const std::string dir = output_dir_for(image_path, options.output_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) throw output_error(dir + ": cannot create output directory (" + ec.message() + ")");

  ExplainOutcome outcome;
  t = Clock::now();
  for (const auto& file : pending) {
    const std::string path = (fs::path(dir) / file.name).string();
    write_file_atomic(path, file.bytes);
    outcome.files.push_back(path);
  }
  timings["write"] = ms_since(t);
  timings["total"] = ms_since(start);
  report["timings_ms"] = timings;
  outcome.report_path = (fs::path(dir) / (stem + ".json")).string();
  write_file_atomic(outcome.report_path, report.dump(2) + "\n");
  outcome.files.push_back(outcome.report_path);
  outcome.report = std::move(report);
  return outcome;
}

}  // namespace xai
