// The registry entries of Integrated Gradients and SmoothGrad (gradient_attribution.cpp): signed
// per-pixel maps (channels summed); IG reports its completeness check.
#include <cmath>

#include "methods/input_gradients.hpp"
#include "methods/gradient_attribution.hpp"

namespace xai {
namespace {

using json = nlohmann::ordered_json;

class IntegratedGradientsMethod final : public ExplanationMethod {
 public:
  std::string name() const override { return "intgrad"; }
  MethodFamily family() const override { return MethodFamily::gradient; }
  MapKind map_kind() const override { return {/*is_signed=*/true, /*display_min_max=*/false}; }
  MethodNeeds needs() const override { return {/*layer=*/false, /*extra_passes=*/true}; }
  std::vector<SettingUse> settings() const override {
    return {Setting::target, Setting::probe_batch, Setting::steps, Setting::baseline};
  }

  json parameters(const ExplainOptions& options, const std::vector<std::string>&, const ModelCard&) const override {
    return {{"steps", options.gradients.steps},
            {"rule", "trapezoid"},
            {"baseline", to_string(options.gradients.baseline)},
            {"probe_batch", probe_batch_parameter(options.gradients.batch_size)},
            {"target", target_description(options, false)}};
  }

  std::vector<MethodResult> compute(Model& model, const std::vector<const PreparedImage*>& images,
                                    const ExplainOptions& options, const std::vector<std::string>&) const override {
    trapezoid_weights(options.gradients.steps);  // refuses a bad step count before any work
    return attribute_each(name(), model, images, options, [&](const ScoreGradient& g, const PreparedImage& image, int cls) {
      const InputBlob baseline = normalise(baseline_view(image.view, options.gradients.baseline), model.card());
      InputAttribution a = integrated_gradients(g, image.blob, baseline, cls, options.gradients);
      const double gap = a.score - a.baseline_score;
      json details = {{"score", a.score},
                      {"baseline_score", a.baseline_score},
                      {"completeness",
                       {{"sum", a.total},
                        {"expected", gap},
                        {"relative_error", gap != 0 ? std::abs(a.total - gap) / std::abs(gap) : std::abs(a.total)}}}};
      return std::make_pair(std::move(a), std::move(details));
    });
  }
};

class SmoothGradMethod final : public ExplanationMethod {
 public:
  std::string name() const override { return "smoothgrad"; }
  MethodFamily family() const override { return MethodFamily::gradient; }
  MapKind map_kind() const override { return {/*is_signed=*/true, /*display_min_max=*/false}; }
  MethodNeeds needs() const override { return {/*layer=*/false, /*extra_passes=*/true}; }
  std::vector<SettingUse> settings() const override {
    return {Setting::target, Setting::probe_batch, {Setting::samples, std::to_string(GradientOptions{}.samples)}, Setting::noise, Setting::seed};
  }

  json parameters(const ExplainOptions& options, const std::vector<std::string>&, const ModelCard&) const override {
    return {{"samples", options.gradients.samples},
            {"noise", options.gradients.noise},
            {"seed", options.lime.seed},
            {"probe_batch", probe_batch_parameter(options.gradients.batch_size)},
            {"target", target_description(options, false)}};
  }

  std::vector<MethodResult> compute(Model& model, const std::vector<const PreparedImage*>& images,
                                    const ExplainOptions& options, const std::vector<std::string>&) const override {
    return attribute_each(name(), model, images, options, [&](const ScoreGradient& g, const PreparedImage& image, int cls) {
      InputAttribution a = smoothgrad(g, image.blob, cls, options.gradients, options.lime.seed);
      json details = {{"mean_noisy_score", a.score}};
      return std::make_pair(std::move(a), std::move(details));
    });
  }
};

}  // namespace

std::unique_ptr<ExplanationMethod> integrated_gradients_method() { return std::make_unique<IntegratedGradientsMethod>(); }
std::unique_ptr<ExplanationMethod> smoothgrad_method() { return std::make_unique<SmoothGradMethod>(); }

}  // namespace xai
