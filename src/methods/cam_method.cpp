// The registry entry of every CAM method: the shared engine (cam.cpp) run with the method's
// channel weighting, its maps kept at the layer's resolution until someone asks for a size.
#include <chrono>

#include "methods/cam_methods.hpp"
#include "methods/method_adapters.hpp"
#include "methods/cam.hpp"

namespace xai {
namespace {

using json = nlohmann::ordered_json;

class CamAdapter final : public ExplanationMethod {
 public:
  explicit CamAdapter(CamMethod weighting) : weighting_(std::move(weighting)) {}

  std::string name() const override { return weighting_.name; }
  MethodFamily family() const override {
    return weighting_.probes ? MethodFamily::probe_cam : MethodFamily::gradient_cam;
  }
  // Scaled to [0,1] per map (the raw range kept in the map's details).
  MapKind map_kind() const override { return {/*is_signed=*/false, /*display_min_max=*/false}; }
  MethodNeeds needs() const override { return {/*layer=*/true, /*extra_passes=*/weighting_.probes}; }
  std::vector<SettingUse> settings() const override {
    if (weighting_.forward_only)
      return {Setting::layers, Setting::target, Setting::probe_batch, Setting::colormap, Setting::precision};
    if (weighting_.probes) return {Setting::layers, Setting::target, Setting::probe_batch, Setting::colormap};
    return {Setting::layers, Setting::target, Setting::colormap};
  }
  const CamMethod& weighting() const { return weighting_; }

  json parameters(const ExplainOptions& options, const std::vector<std::string>& layers,
                  const ModelCard& card) const override {
    json p = {{"layers", layers}, {"target", target_parameters(options.cam.target)}};
    // The card's token grid decides how transformer outputs become maps: part of the result's identity.
    if (card.tokens)
      p["tokens"] = {{"grid", {card.tokens->height, card.tokens->width}}, {"prefix", card.tokens->prefix}};
    // Forward-only probes are sized by the model's tuner ("measured"), the others by their activations.
    if (weighting_.probes)
      p["probe_batch"] = options.cam.batch_size > 0 || weighting_.forward_only ? probe_batch_parameter(options.cam.batch_size)
                                                                                : json("automatic");
    return p;
  }

  std::vector<MethodResult> compute(Model& model, const std::vector<const PreparedImage*>& images,
                                    const ExplainOptions& options,
                                    const std::vector<std::string>& layers) const override {
    CamRequest request = options.cam;
    request.method = weighting_.name;
    request.layers = layers;
    std::vector<InputBlob> blobs;
    for (const auto* image : images) blobs.push_back(image->blob);
    const auto start = std::chrono::steady_clock::now();
    std::vector<CamExplanation> explained = explain_cam(model, blobs, request);
    const double per_image_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / blobs.size();
    const std::vector<std::string>& labels = model.labels();
    std::vector<MethodResult> results;
    for (auto& e : explained) {
      MethodResult r;
      r.method = weighting_.name;
      r.prediction = e.prediction;
      r.compute_ms = per_image_ms;
      for (const auto& target : e.targets)
        for (const auto& layer_map : target.maps) {
          DenseMap m;
          m.class_index = target.class_index;
          m.layer = layer_map.layer;
          m.values = layer_map.map;
          m.details = {{"score", target.score},
                       {"layer_calls", layer_map.calls},
                       {"activation_shape", layer_map.activation_shape},
                       {"map_resolution", {layer_map.map.rows, layer_map.map.cols}},
                       {"constant", layer_map.constant},
                       {"raw_range", {layer_map.raw_min, layer_map.raw_max}}};
          if (!layer_map.reshape.empty()) m.details["reshape"] = layer_map.reshape;
          m.details["capture"] = e.capture;
          if (layer_map.constant)
            r.warnings.push_back(weighting_.name + " map for class '" + labels.at(target.class_index) +
                                 "' at layer '" + layer_map.layer +
                                 "' is constant (all zero after ReLU): nothing at this layer supports the class");
          r.maps.push_back(std::move(m));
        }
      results.push_back(std::move(r));
    }
    return results;
  }

 private:
  CamMethod weighting_;
};

}  // namespace

std::unique_ptr<ExplanationMethod> cam_method(const CamMethod& weighting) {
  return std::make_unique<CamAdapter>(weighting);
}

const CamMethod* find_cam_method(const std::string& name) {
  for (const auto& method : explanation_methods())
    if (method->name() == name)
      if (const auto* cam = dynamic_cast<const CamAdapter*>(method.get())) return &cam->weighting();
  return nullptr;
}

json target_parameters(const TargetSpec& target) {
  switch (target.kind) {
    case TargetSpec::Kind::predicted: return {{"kind", "predicted"}};
    case TargetSpec::Kind::given: return {{"kind", "class"}, {"class", target.class_index}};
    case TargetSpec::Kind::top_k: return {{"kind", "top_k"}, {"k", target.k}};
    case TargetSpec::Kind::above: return {{"kind", "above"}, {"threshold", target.threshold}};
  }
  return nullptr;
}

}  // namespace xai
