#include "xai/report.hpp"

#include "xai/preprocess.hpp"

namespace xai {

using json = nlohmann::ordered_json;

const char* xai_version() { return XAI_VERSION; }

json image_json(const Image& image) {
  return {{"path", image.path},
          {"sha256", image.sha256},
          {"bytes", image.file_bytes},
          {"width", image.width()},
          {"height", image.height()},
          {"channels", image.source_channels},
          {"bit_depth", image.source_bit_depth}};
}

json model_json(Model& model) {
  const ModelCard& card = model.card();
  return {{"path", model.path()},
          {"sha256", model.sha256()},
          {"name", card.name},
          {"card", card.source.empty() ? json(nullptr) : json(card.source)},
          {"output", to_string(card.output)},
          {"labels", model.labels()},
          {"device", model.device()}};
}

json preprocessing_json(const Image& image, const ModelCard& card) {
  return {{"input_size", {card.input_height, card.input_width}},
          {"channels", to_string(card.channels)},
          {"mean", card.mean},
          {"std", card.std},
          {"steps", describe_preprocessing(image, card)}};
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

}  // namespace xai
