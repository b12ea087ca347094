// Input × Gradient (Shrikumar et al. 2016; captum's InputXGradient): the model's input (normalised, as the
// model sees it) times the gradient of the target score there, channels summed. One forward + backward
// per class; signed. Equals Integrated Gradients from a zero input for a linear model.
#include "methods/input_gradients.hpp"

namespace xai {
namespace {

class InputXGradientMethod final : public ExplanationMethod {
 public:
  std::string name() const override { return "inputxgradient"; }
  MethodFamily family() const override { return MethodFamily::gradient; }
  MapKind map_kind() const override { return {/*is_signed=*/true, /*display_min_max=*/false}; }
  MethodNeeds needs() const override { return {/*layer=*/false, /*extra_passes=*/true}; }
  std::vector<SettingUse> settings() const override { return {Setting::target}; }

  nlohmann::ordered_json parameters(const ExplainOptions& options, const std::vector<std::string>&,
                                    const ModelCard&) const override {
    return {{"input", "normalised"}, {"target", target_description(options, false)}};
  }

  std::vector<MethodResult> compute(Model& model, const std::vector<const PreparedImage*>& images,
                                    const ExplainOptions& options, const std::vector<std::string>&) const override {
    return attribute_each(name(), model, images, options, [&](const ScoreGradient& g, const PreparedImage& image, int cls) {
      const InputBlob& x = image.blob;
      InputAttribution a;
      std::vector<double> product(x.values.size());
      gradients_of(
          g, x, cls, 1, 1, a, [&](int, float* dst) { std::copy(x.values.begin(), x.values.end(), dst); },
          [&](int, const float* gradient, double score) {
            for (size_t i = 0; i < product.size(); ++i) product[i] = double(x.values[i]) * gradient[i];
            a.score = score;
          });
      a.pixels = channel_sum(product, x, a.total);
      return std::make_pair(std::move(a), nlohmann::ordered_json{{"score", a.score}});
    });
  }
};

}  // namespace

std::unique_ptr<ExplanationMethod> inputxgradient_method() { return std::make_unique<InputXGradientMethod>(); }

}  // namespace xai
