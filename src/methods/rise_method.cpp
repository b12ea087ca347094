// The registry entry of RISE: random masks (rise.cpp) on the perturbation core.
#include "methods/method_adapters.hpp"
#include "methods/rise.hpp"

namespace xai {
namespace {

using json = nlohmann::ordered_json;

class RiseMethod final : public ExplanationMethod {
 public:
  std::string name() const override { return "rise"; }
  MethodFamily family() const override { return MethodFamily::perturbation; }
  MapKind map_kind() const override { return {/*is_signed=*/false, /*display_min_max=*/true}; }
  MethodNeeds needs() const override { return {/*layer=*/false, /*extra_passes=*/true}; }
  std::vector<SettingUse> settings() const override {
    return {Setting::target, Setting::all_classes, Setting::probe_batch, Setting::masks,
            Setting::hide,   Setting::seed,        Setting::colormap,    Setting::precision};
  }

  json parameters(const ExplainOptions& options, const std::vector<std::string>&, const ModelCard&) const override {
    const RiseOptions& o = options.rise;
    json p = {{"masks", o.masks}, {"grid", o.grid}, {"keep", o.keep}, {"seed", options.lime.seed}};
    add_perturbation_parameters(p, options, true);
    return p;
  }

  std::vector<MethodResult> compute(Model& model, const std::vector<const PreparedImage*>& images,
                                    const ExplainOptions& options, const std::vector<std::string>&) const override {
    const RiseOptions& o = options.rise;
    return each_image(name(), images, [&](const PreparedImage& image, MethodResult& r) {
      Prediction unperturbed;
      const Classifier classify = model_classifier(model, &unperturbed);
      const cv::Size size = image.view.size();
      validate(o, size);
      const PerturbationBase base =
          perturbation_base(image.view, cv::Mat::zeros(size, CV_32SC1), 1, options.lime.hide, model.card());
      // Sample 0 is the image itself (the prediction); mask i is sample i + 1.
      const MaskedProbabilities probs =
          masked_probabilities(classify, base, o.masks + 1, with_original_first(rise_masks(size, o, options.lime.seed), size.area()),
                               options.lime.batch_size, &model.batch_tuner());
      r.model_ms = probs.model_ms;
      r.model_images = o.masks + 1;
      const ImageTargets targets = targets_of(unperturbed, model.labels().size(), options, true);
      r.prediction = targets.prediction;
      // Σ_i f(I ⊙ M_i) M_i / (N p), every class in one pass over the (regenerated) masks.
      std::vector<cv::Mat> saliency(targets.classes.size());
      for (auto& s : saliency) s = cv::Mat::zeros(size, CV_64FC1);
      cv::Mat mask64;
      for (int i = 0; i < o.masks; ++i) {
        rise_mask(size, o, options.lime.seed, i).convertTo(mask64, CV_64FC1);
        for (size_t t = 0; t < targets.classes.size(); ++t)
          cv::scaleAdd(mask64, probs.values[static_cast<size_t>(i + 1) * probs.classes + targets.classes[t]], saliency[t],
                       saliency[t]);
      }
      for (size_t t = 0; t < targets.classes.size(); ++t) {
        DenseMap m;
        m.class_index = targets.classes[t];
        saliency[t].convertTo(m.values, CV_32FC1, 1.0 / (o.masks * o.keep));
        m.display_min_max = true;
        m.details = {{"masks", o.masks}, {"model_probability", r.prediction.probabilities.at(m.class_index)}};
        r.maps.push_back(std::move(m));
      }
    });
  }
};

}  // namespace

std::unique_ptr<ExplanationMethod> rise_method() { return std::make_unique<RiseMethod>(); }

}  // namespace xai
