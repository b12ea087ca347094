// The registry entry of occlusion: sliding windows (occlusion.cpp) on the perturbation core.
#include "methods/method_adapters.hpp"
#include "methods/occlusion.hpp"

namespace xai {
namespace {

using json = nlohmann::ordered_json;

class OcclusionMethod final : public ExplanationMethod {
 public:
  std::string name() const override { return "occlusion"; }
  MethodFamily family() const override { return MethodFamily::perturbation; }
  MapKind map_kind() const override { return {/*is_signed=*/true, /*display_min_max=*/false}; }
  MethodNeeds needs() const override { return {/*layer=*/false, /*extra_passes=*/true}; }
  std::vector<SettingUse> settings() const override {
    return {Setting::target, Setting::all_classes, Setting::probe_batch, Setting::window, Setting::hide,
            Setting::precision};
  }

  json parameters(const ExplainOptions& options, const std::vector<std::string>&, const ModelCard& card) const override {
    const OcclusionOptions o = resolve_occlusion(options.occlusion, cv::Size(card.input_width, card.input_height));
    json p = {{"window", o.window}, {"stride", o.stride}};
    add_perturbation_parameters(p, options, true);
    return p;
  }

  std::vector<MethodResult> compute(Model& model, const std::vector<const PreparedImage*>& images,
                                    const ExplainOptions& options, const std::vector<std::string>&) const override {
    return each_image(name(), images, [&](const PreparedImage& image, MethodResult& r) {
      Prediction unperturbed;
      const Classifier classify = model_classifier(model, &unperturbed);
      const cv::Size size = image.view.size();
      const OcclusionOptions o = resolve_occlusion(options.occlusion, size);
      const std::vector<cv::Rect> windows = occlusion_windows(size, o.window, o.stride);
      // A mean fill shows the image's mean colour: windows overlap, so they have no mean of their own.
      const PerturbationBase base =
          perturbation_base(image.view, cv::Mat::zeros(size, CV_32SC1), 1, options.lime.hide, model.card());
      // Sample 0 is the image itself, composed like the others so that the drops share its rounding.
      const MaskWriter masks = with_original_first(window_masks(windows, size), size.area());
      const int samples = static_cast<int>(windows.size()) + 1;
      const MaskedProbabilities probs = masked_probabilities(classify, base, samples, masks, options.lime.batch_size, &model.batch_tuner());
      r.model_ms = probs.model_ms;
      r.model_images = samples;
      const ImageTargets targets = targets_of(unperturbed, model.labels().size(), options, true);
      r.prediction = targets.prediction;
      for (int cls : targets.classes) {
        const double original = probs.values[cls];
        std::vector<double> drops(windows.size());
        for (size_t w = 0; w < windows.size(); ++w) drops[w] = original - probs.values[(w + 1) * probs.classes + cls];
        DenseMap m;
        m.class_index = cls;
        m.is_signed = true;
        m.values = occlusion_map(windows, drops, size);
        m.details = {{"windows", windows.size()}, {"model_probability", original}};
        r.maps.push_back(std::move(m));
      }
    });
  }
};

}  // namespace

std::unique_ptr<ExplanationMethod> occlusion_method() { return std::make_unique<OcclusionMethod>(); }

}  // namespace xai
