// The registry entry of LIME: the engine (lime.cpp) on the prepared image's model view, its
// per-class superpixel weights kept as region maps.
#include "methods/method_adapters.hpp"
#include "methods/lime.hpp"

namespace xai {
namespace {

using json = nlohmann::ordered_json;

class LimeMethod final : public ExplanationMethod {
 public:
  std::string name() const override { return "lime"; }
  MethodFamily family() const override { return MethodFamily::perturbation; }
  MapKind map_kind() const override { return {/*is_signed=*/true, /*display_min_max=*/false}; }
  MethodNeeds needs() const override { return {/*layer=*/false, /*extra_passes=*/true}; }
  std::vector<SettingUse> settings() const override {
    return {Setting::target,      Setting::all_classes,  Setting::probe_batch, {Setting::samples, std::to_string(LimeOptions{}.samples), 2}, Setting::adaptive,
            Setting::superpixels, Setting::hide,        Setting::kernel_width, Setting::seed, Setting::repeats,
            Setting::precision};
  }

  json parameters(const ExplainOptions& options, const std::vector<std::string>&,
                  const ModelCard& card) const override {
    const LimeOptions& l = options.lime;
    json p = {{"samples", sampling_parameters(l, l.samples)},
              {"draws", l.paired || l.adaptive.enabled ? "complementary pairs" : "independent"},
              {"regions", region_parameters(l, card)}};
    add_fill_parameters(p, l.hide);
    p["kernel_width"] = l.kernel_width;
    p["ridge_alpha"] = l.ridge_alpha;
    p["seed"] = l.seed;
    p["probe_batch"] = probe_batch_parameter(l.batch_size);
    p["target"] = target_description(options, true);
    p["repeats"] = l.repeats;
    return p;
  }

  std::vector<MethodResult> compute(Model& model, const std::vector<const PreparedImage*>& images,
                                    const ExplainOptions& options, const std::vector<std::string>&) const override {
    LimeOptions lime = options.lime;
    lime.target = options.cam.target;
    const std::vector<std::string>& labels = model.labels();
    return each_image(name(), images, [&](const PreparedImage& image, MethodResult& r) {
      LimeExplanation e = explain_lime(model, image.image, image.view, lime);
      r.model_ms = e.model_ms;
      r.model_images = e.model_images;
      r.prediction = e.prediction;
      r.warnings = e.warnings;
      add_sampling_outcome(r, e.sampling, lime.adaptive);
      for (const auto& c : e.classes) {
        DenseMap m;
        m.class_index = c.class_index;
        m.is_signed = true;
        m.segments = e.segments;
        m.region_weights = c.weights;
        m.details = {{"segments", e.segment_count},          {"intercept", c.intercept},
                     {"r2", c.r2},                           {"local_prediction", c.local_prediction},
                     {"model_probability", c.model_probability}, {"weights", c.weights}};
        if (c.r2 < 0.1)
          r.warnings.push_back("lime surrogate for class '" + labels.at(c.class_index) +
                               "' explains little of the model (weighted R2 " + std::to_string(c.r2) +
                               "): treat its weights with caution");
        r.maps.push_back(std::move(m));
      }
      if (e.stability)
        r.summary["stability"] = {{"repeats", e.stability->repeats},
                                  {"mean_spearman", e.stability->mean_spearman},
                                  {"mean_top5_jaccard", e.stability->mean_top5_jaccard}};
    });
  }
};

}  // namespace

std::unique_ptr<ExplanationMethod> lime_method() { return std::make_unique<LimeMethod>(); }

}  // namespace xai
