#include "xai/explain.hpp"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <opencv2/imgproc.hpp>

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

// What rendering produces for one image: files to write and the report's explanation entries.
struct Outputs {
  std::vector<PendingFile> files;
  json explanations = json::array();
  json warnings = json::array();
  json grids = json::array();  // layer-by-layer grid images
};

std::string npy_of(const cv::Mat& map) {
  CV_Assert(map.type() == CV_32FC1 && map.isContinuous());
  return npy_bytes(reinterpret_cast<const float*>(map.data),
                   {static_cast<size_t>(map.rows), static_cast<size_t>(map.cols)});
}

json target_json(int index, const std::string& label, const Prediction& prediction) {
  return {{"index", index}, {"label", label}, {"probability", prediction.probabilities.at(index)}};
}

void render_cam(const Image& image, const cv::Mat& display, const CamExplanation& result, const std::string& method,
                const std::vector<std::string>& layers, const std::vector<std::string>& labels,
                const ExplainOptions& options, const std::string& stem, Outputs& out) {
  for (const auto& target : result.targets) {
    const std::string& label = labels.at(target.class_index);
    std::vector<cv::Mat> layer_tiles;
    std::vector<std::string> layer_captions;
    for (const auto& layer_map : target.maps) {
      std::string base = stem + "." + method;
      if (result.targets.size() > 1) base += "." + file_safe(label);
      if (layers.size() > 1) base += ".layer-" + file_safe(layer_map.layer);
      // One resize from the layer's grid straight to the original image (no double interpolation).
      const cv::Mat full = upsample_map(layer_map.map, image.width(), image.height());
      const cv::Mat overlaid = overlay(display, full, options.colormap, options.alpha);
      out.files.push_back({base + ".png", encode_png(overlaid, base)});
      layer_tiles.push_back(overlaid);
      layer_captions.push_back(layer_map.layer + "\n" + std::to_string(layer_map.map.rows) + "x" +
                               std::to_string(layer_map.map.cols) + (layer_map.constant ? " (constant)" : ""));
      out.files.push_back({base + ".npy", npy_of(full)});
      if (layer_map.constant)
        out.warnings.push_back(method + " map for class '" + label + "' at layer '" + layer_map.layer +
                               "' is constant (all zero after ReLU): nothing at this layer supports the class");
      json target_entry = target_json(target.class_index, label, result.prediction);
      target_entry["score"] = target.score;
      out.explanations.push_back({{"method", method},
                                  {"target", target_entry},
                                  {"layer", layer_map.layer},
                                  {"layer_calls", layer_map.calls},
                                  {"activation_shape", layer_map.activation_shape},
                                  {"map_resolution", {layer_map.map.rows, layer_map.map.cols}},
                                  {"constant", layer_map.constant},
                                  {"stats", map_stats_json(compute_map_stats(full))},
                                  {"files", {{"overlay", base + ".png"}, {"map", base + ".npy"}}}});
    }
    if (layer_tiles.size() > 1) {  // the layer-by-layer view: where along the network the evidence forms
      std::string grid = stem + "." + method + "-layers";
      if (result.targets.size() > 1) grid += "." + file_safe(label);
      const int columns = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(layer_tiles.size()))));
      out.files.push_back({grid + ".png", encode_png(tile_grid(layer_tiles, layer_captions, columns), grid)});
      out.grids.push_back(grid + ".png");
    }
  }
}

void render_lime(const cv::Mat& display, const LimeExplanation& result, const ComputedExplanation& computed,
                 const std::string& stem, Outputs& out) {
  const std::vector<std::string>& labels = computed.labels;
  // Segments at the original resolution, for the overlays and the label map.
  const cv::Mat full_segments = segments_at_size(result.segments, display.size());
  cv::Mat label_png;
  full_segments.convertTo(label_png, CV_16U);
  const std::string segments_file = stem + ".lime-segments.png";
  out.files.push_back({segments_file, encode_png(label_png, segments_file)});

  for (const auto& c : result.classes) {
    const std::string& label = labels.at(c.class_index);
    std::string base = stem + ".lime";
    std::string top = stem + ".lime-top";
    if (result.classes.size() > 1) base += "." + file_safe(label), top += "." + file_safe(label);
    const cv::Mat weight_map = segment_value_map(full_segments, c.weights);
    out.files.push_back({base + ".png", encode_png(render_signed_segments(display, full_segments, c.weights), base)});
    out.files.push_back({top + ".png", encode_png(render_top_segments(display, full_segments, c.weights), top)});
    out.files.push_back({base + ".npy", npy_of(weight_map)});
    if (c.r2 < 0.1)
      out.warnings.push_back("lime surrogate for class '" + label + "' explains little of the model (weighted R2 " +
                             std::to_string(c.r2) + "): treat its weights with caution");
    json entry = {{"method", "lime"},
                  {"target", target_json(c.class_index, label, result.prediction)},
                  {"segments", result.segment_count},
                  {"intercept", c.intercept},
                  {"r2", c.r2},
                  {"local_prediction", c.local_prediction},
                  {"model_probability", c.model_probability},
                  {"weights", c.weights},
                  {"parameters", computed.lime_parameters},
                  {"stats", map_stats_json(compute_map_stats(weight_map))},
                  {"files", {{"overlay", base + ".png"}, {"top", top + ".png"}, {"map", base + ".npy"},
                             {"segments", segments_file}}}};
    if (result.stability && &c == &result.classes.front())
      entry["stability"] = {{"repeats", result.stability->repeats},
                            {"mean_spearman", result.stability->mean_spearman},
                            {"mean_top5_jaccard", result.stability->mean_top5_jaccard}};
    out.explanations.push_back(entry);
  }
}

}  // namespace

std::vector<std::string> explanation_method_names() {
  std::vector<std::string> names = cam_method_names();
  names.push_back("lime");
  return names;
}

std::string file_safe(const std::string& label) {
  std::string out;
  for (char c : label) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
  return out.empty() ? "_" : out;
}

std::string output_dir_for(const std::string& image_path, const std::string& requested_dir) {
  if (!requested_dir.empty()) return requested_dir;
  return (fs::path(image_path).parent_path() / "xai-out").string();
}

PreparedImage prepare_image(const std::string& path, const ModelCard& card, const ImageLimits& limits) {
  PreparedImage prepared;
  prepared.path = path;
  auto t = Clock::now();
  prepared.image = load_image(path, limits);
  prepared.load_ms = ms_since(t);
  t = Clock::now();
  prepared.blob = preprocess(prepared.image, card);
  prepared.preprocess_ms = ms_since(t);
  return prepared;
}

std::vector<ComputedExplanation> compute_explanations(Model& model, const std::vector<PreparedImage>& images,
                                                      const ExplainOptions& options) {
  const std::vector<std::string> cams = cam_method_names();
  for (const auto& method : options.methods)
    if (method != "lime" && std::find(cams.begin(), cams.end(), method) == cams.end())
      throw usage_error("unknown method '" + method + "'");
  const size_t n = images.size();
  std::vector<ComputedExplanation> computed(n);
  std::vector<InputBlob> blobs;
  const json model_section = model_json(model);
  for (size_t i = 0; i < n; ++i) {
    ComputedExplanation& c = computed[i];
    c.labels = model.labels();
    c.model = model_section;
    c.preprocessing = preprocessing_json(images[i].image, model.card());
    c.warnings = model.warnings();
    for (const auto& w : images[i].image.warnings) c.warnings.push_back(w);
    c.timings["load_image"] = images[i].load_ms;
    c.timings["preprocess"] = images[i].preprocess_ms;
    blobs.push_back(images[i].blob);
  }

  for (const auto& method : options.methods) {
    if (method == "lime") {
      LimeOptions lime = options.lime;
      lime.target = options.cam.target;
      const json parameters = {
          {"samples", lime.samples},
          {"segments_requested", lime.regions_path.empty() ? json(lime.superpixels.segments) : json(nullptr)},
          {"regions", lime.regions_path.empty() ? json(nullptr) : json(lime.regions_path)},
          {"superpixels", lime.regions_path.empty() ? to_string(lime.superpixels.algorithm) : "regions"},
          {"compactness", lime.superpixels.compactness.value_or(default_compactness(model.card().channel_count()))},
          {"hide", to_string(lime.hide)},
          {"kernel_width", lime.kernel_width},
          {"ridge_alpha", lime.ridge_alpha},
          {"seed", lime.seed},
          {"batch_size", lime.batch_size}};
      for (size_t i = 0; i < n; ++i) {
        const auto t = Clock::now();
        LimeExplanation result = explain_lime(model, images[i].image, lime);
        computed[i].timings["lime"] = ms_since(t);
        computed[i].timings["lime_model"] = result.model_ms;
        for (const auto& w : result.warnings) computed[i].warnings.push_back(w);
        computed[i].lime_parameters = parameters;
        computed[i].methods.push_back({method, std::nullopt, std::move(result)});
      }
      continue;
    }
    CamRequest request = options.cam;
    request.method = method;
    if (request.layers.empty()) request.layers = {model.default_layer()};
    const auto t = Clock::now();
    std::vector<CamExplanation> results = explain_cam(model, blobs, request);
    const double per_image_ms = ms_since(t) / static_cast<double>(n);
    for (size_t i = 0; i < n; ++i) {
      computed[i].timings[method] = per_image_ms;
      computed[i].layers = request.layers;
      computed[i].methods.push_back({method, std::move(results[i]), std::nullopt});
    }
  }
  return computed;
}

ExplainOutcome write_explanation(const PreparedImage& prepared, const ComputedExplanation& computed,
                                 const Destination& destination, const ExplainOptions& options, Durability durability) {
  const Image& image = prepared.image;
  const cv::Mat display = to_display_bgr(image);
  const std::string& stem = destination.stem;
  Outputs out;
  for (const auto& w : computed.warnings) out.warnings.push_back(w);
  json timings = computed.timings;
  std::optional<Prediction> prediction;
  for (const auto& m : computed.methods) {
    const auto t = Clock::now();
    if (m.cam) {
      render_cam(image, display, *m.cam, m.name, computed.layers, computed.labels, options, stem, out);
      if (!prediction) prediction = m.cam->prediction;
    } else {
      render_lime(display, *m.lime, computed, stem, out);
      if (!prediction) prediction = m.lime->prediction;
    }
    timings["render"] = timings.value("render", 0.0) + ms_since(t);
  }

  json report = {{"schema_version", kReportSchemaVersion},
                 {"xai_version", xai_version()},
                 {"input", image_json(image)},
                 {"model", computed.model},
                 {"preprocessing", computed.preprocessing},
                 {"prediction", prediction_json(*prediction, computed.labels)},
                 {"method", options.methods.size() == 1 ? options.methods.front() : std::string("multiple")},
                 {"methods", options.methods},
                 {"layers", computed.layers},
                 {"explanations", out.explanations},
                 {"layer_grids", out.grids},
                 {"warnings", out.warnings}};
  const std::string& dir = destination.dir;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir))
    throw output_error(dir + ": cannot create output directory (" + (ec ? ec.message() : "not a directory") + ")");
  ExplainOutcome outcome;
  const auto t = Clock::now();
  for (const auto& file : out.files) {
    const std::string path = (fs::path(dir) / file.name).string();
    write_file_atomic(path, file.bytes, durability);
    outcome.files.push_back(path);
  }
  timings["write"] = ms_since(t);
  double total = 0;
  for (const auto& [name, ms] : timings.items())
    if (name != "lime_model") total += ms.get<double>();  // lime_model is part of lime
  timings["total"] = total;
  report["timings_ms"] = timings;
  outcome.report_path = (fs::path(dir) / (stem + ".json")).string();
  write_file_atomic(outcome.report_path, report.dump(2) + "\n", durability);
  outcome.files.push_back(outcome.report_path);
  outcome.report = std::move(report);
  return outcome;
}

ExplainOutcome explain_image(Model& model, const std::string& image_path, const ExplainOptions& options) {
  const PreparedImage prepared = prepare_image(image_path, model.card(), options.limits);
  const Destination destination{output_dir_for(image_path, options.output_dir), fs::path(image_path).stem().string()};
  const ComputedExplanation computed = std::move(compute_explanations(model, {prepared}, options).front());
  return write_explanation(prepared, computed, destination, options);
}

}  // namespace xai
