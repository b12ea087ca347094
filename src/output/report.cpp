#include "output/report.hpp"

#include "input/stain.hpp"

#include <algorithm>

#include "output/explanation_files.hpp"
#include "input/preprocess.hpp"
#include "model/runtime.hpp"
#include "core/text.hpp"

namespace xai {

using json = nlohmann::ordered_json;

const char* xai_version() { return XAI_VERSION; }

json image_json(const Image& image) {
  json j = {{"path", utf8_path(image.path)},
            {"sha256", image.sha256},
            {"bytes", image.file_bytes},
            {"width", image.width()},
            {"height", image.height()},
            {"channels", image.source_channels},
            {"bit_depth", image.source_bit_depth}};
  if (image.dicom) j["dicom"] = dicom_json(*image.dicom);
  return j;
}

json dicom_json(const DicomInfo& d) {
  // What turned the stored values into the model's input; never an identifying attribute.
  return {{"modality", d.modality},
          {"rows", d.rows},
          {"columns", d.columns},
          {"photometric_interpretation", d.photometric},
          {"bits_allocated", d.bits_allocated},
          {"bits_stored", d.bits_stored},
          {"signed", d.is_signed},
          {"transfer_syntax", d.transfer_syntax},
          {"frames", d.frames},
          {"frame", d.frame},
          {"rescale", {{"slope", d.rescale_slope}, {"intercept", d.rescale_intercept}}},
          {"window", {{"center", d.window_center},
                      {"width", d.window_width},
                      {"function", d.voi_function},
                      {"source", d.window_source}}},
          {"inverted", d.inverted}};
}

namespace {
// What forward-only passes ran in: asked for, used, and the probe's verdict (fp32 needs none).
json precision_json(const Model& model) {
  json out = {{"requested", model.requested_precision()}, {"used", model.precision()}};
  if (!model.precision_note().empty()) out["check"] = model.precision_note();
  return out;
}
}  // namespace

json model_checks_json(const Model& model) {
  const ModelChecks& c = model.checks();
  const auto measured = [](const std::optional<double>& difference, double tolerance, const char* not_run) {
    if (!difference) return json(not_run);
    return json{{"probability_difference", *difference}, {"tolerance", tolerance}};
  };
  return {{"batch_independence", measured(c.batch_independence_difference, c.batch_independence_tolerance,
                                          "not run (no pass of two or more images)")},
          {"inference_clone", measured(c.inference_clone_difference, c.inference_clone_tolerance,
                                       "not run (no inference clone built)")},
          {"random_draws", c.random_draws.empty() ? "none seen (every pass watched)" : c.random_draws}};
}

json with_current_checks(json planned, const Model& model) {
  planned["checks"] = model_checks_json(model);
  return planned;
}

json model_json(Model& model) {
  const ModelCard& card = model.card();
  json out = {{"path", utf8_path(model.path())},
          {"sha256", model.sha256()},
          {"name", card.name},
          {"card", card.source.empty() ? json(nullptr) : json(card.source)},
          {"output", to_string(card.output)},
          {"labels", model.labels()},
          {"device", model.device()},
          {"threads", thread_count()},
          {"inference", model.inference().empty() ? "not used (no forward-only pass)" : model.inference()},
          {"precision", precision_json(model)},
          {"checks", model_checks_json(model)}};
  if (!card.output_element.empty()) out["output_element"] = card.output_element;
  if (card.stain) out["stain_normalization"] = stain_json(*card.stain);
  return out;
}

namespace {
// What the card says an image becomes before the model sees it (the card's and each report's fields).
json card_input_json(const ModelCard& card) {
  return {{"input_size", {card.input_height, card.input_width}},
          {"channels", to_string(card.channels)},
          {"mean", card.mean},
          {"std", card.std},
          {"resize", resize_spec(card)},
          {"interpolation", to_string(card.interpolation)}};
}
}  // namespace

json card_json(Model& model) {
  const ModelCard& card = model.card();
  json out = card_input_json(card);
  out["output"] = to_string(card.output);
  out["labels"] = model.labels();
  out["device"] = model.device();
  if (card.stain) out["stain_normalization"] = stain_json(*card.stain);
  return out;
}

json preprocessing_json(const Image& image, const ModelCard& card) {
  json out = card_input_json(card);
  out["steps"] = describe_preprocessing(image, card);
  if (card.stain) {
    out["stain_normalization"] = stain_json(*card.stain);
    if (image.stain_source) out["stain_normalization"]["source"] = stain_json(*image.stain_source);
  }
  if (card.resize != ResizeMode::stretch) {
    // What the maps cover: the centre crop's footprint in the original image's pixels.
    const cv::Rect r = visible_region(image.pixels.size(), card);
    out["visible_region"] = {{"x", r.x}, {"y", r.y}, {"width", r.width}, {"height", r.height}};
  }
  return out;
}

json prediction_json(const Prediction& prediction, const std::vector<std::string>& labels) {
  json classes = json::array();
  for (size_t i = 0; i < prediction.probabilities.size(); ++i)
    classes.push_back({{"index", i}, {"label", i < labels.size() ? labels[i] : ""},
                       {"probability", prediction.probabilities[i]}});
  const int p = prediction.predicted;
  return {{"index", p},
          {"label", p < static_cast<int>(labels.size()) ? labels[p] : ""},
          {"probability", prediction.probabilities.empty() ? 0.0f : prediction.probabilities[p]},
          {"classes", classes},
          {"logits", prediction.logits}};
}

json map_stats_json(const MapStats& stats) {
  return {{"peak", {{"x", stats.peak.x}, {"y", stats.peak.y}, {"value", stats.peak_value}}},
          {"mean", stats.mean},
          {"top_fraction", stats.top_fraction},
          {"top_box",
           {{"x", stats.top_box.x}, {"y", stats.top_box.y}, {"width", stats.top_box.width},
            {"height", stats.top_box.height}}}};
}

json build_report(const PreparedImage& image, const ComputedExplanation& computed, const ExplainPlan& plan,
                  const RenderedExplanation& rendered, const json& timings, const json& carried) {
  json explanations = carried;
  std::vector<bool> summarised(computed.results.size(), false);
  for (size_t i = 0; i < rendered.maps.size(); ++i) {
    const ExplainedMap& m = rendered.maps[i];
    const auto [r, k] = rendered.sources[i];
    const MethodResult& result = computed.results[r];
    const DenseMap& map = result.maps[k];
    json target = {{"index", m.class_index}, {"label", m.label}, {"probability", m.probability}};
    if (map.details.contains("score")) target["score"] = map.details["score"];
    json entry = {{"method", m.method}, {"family", to_string(find_method(m.method).family())}, {"target", target}};
    if (!m.layer.empty()) entry["layer"] = m.layer;
    for (const auto& [key, value] : map.details.items())
      if (key != "score") entry[key] = value;
    for (size_t p = 0; p < plan.methods.size(); ++p)
      if (plan.methods[p]->name() == m.method) entry["parameters"] = plan.parameters[p];
    if (!summarised[r])  // per-result fields (e.g. LIME's stability) go with its first map
      for (const auto& [key, value] : result.summary.items()) entry[key] = value;
    summarised[r] = true;
    entry["stats"] = map_stats_json(m.stats);
    json files = json::object();
    for (const auto& [role, name] : m.files) files[role] = name;
    entry["files"] = files;
    entry["map_shape"] = {m.stored_size.height, m.stored_size.width};
    if (!m.figure.is_null()) entry["figure"] = m.figure;
    explanations.push_back(std::move(entry));
  }
  std::vector<std::string> methods;
  for (const auto& entry : carried)
    if (std::find(methods.begin(), methods.end(), entry.value("method", "")) == methods.end())
      methods.push_back(entry.value("method", ""));
  for (const auto& result : computed.results) methods.push_back(result.method);
  json warnings = plan.model_warnings;
  for (const auto& w : computed.warnings) warnings.push_back(w);
  const Prediction& prediction = computed.results.front().prediction;
  json model = plan.model;
  if (!computed.model_checks.is_null()) model["checks"] = computed.model_checks;  // as of this image's passes
  return {{"schema_version", kReportSchemaVersion},
          {"xai_version", xai_version()},
          {"input", image_json(image.image)},
          {"model", model},
          {"preprocessing", preprocessing_json(image.image, plan.card)},
          {"rendering", {{"colormap", to_string(plan.options.colormap)},
                         {"signed_colormap", to_string(plan.options.signed_colormap)},
                         {"alpha", plan.options.alpha},
                         {"background", to_string(plan.options.background)},
                         {"enlarged", enlargement_factor(display_size(image), plan.options.figure_size)}}},
          {"prediction", prediction_json(prediction, plan.labels)},
          {"method", methods.size() == 1 ? methods.front() : std::string("multiple")},
          {"methods", methods},
          {"layers", plan.layers},
          {"explanations", explanations},
          {"layer_grids", rendered.grids},
          {"warnings", warnings},
          {"timings_ms", timings}};
}

}  // namespace xai
