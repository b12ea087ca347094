// The registry entry of RISE: random masks (rise.cpp) on the perturbation core.
#include "methods/method_adapters.hpp"
#include "methods/rise.hpp"

#include <optional>
#include <opencv2/core/utility.hpp>

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
      // Sample 0 is the image itself (the prediction); mask i is sample i + 1. Σ_i f(I ⊙ M_i) M_i / (N p)
      // for every class, summed as each batch comes back, so each mask is written once.
      const size_t pixels = size.area();
      std::optional<ImageTargets> chosen;
      std::vector<std::vector<double>> sums;
      const BatchObserver add_masks = [&](int first, int count, const float* masks, const double* p, int classes) {
        if (!chosen) {  // the first batch held the unperturbed image: the prediction decides the classes
          chosen = targets_of(unperturbed, model.labels().size(), options, true);
          sums.assign(chosen->classes.size(), std::vector<double>(pixels, 0.0));
        }
        const int skip = first == 0 ? 1 : 0;
        cv::parallel_for_(cv::Range(0, static_cast<int>(pixels)), [&](const cv::Range& range) {
          for (size_t t = 0; t < sums.size(); ++t) {
            double* sum = sums[t].data();
            for (int s = skip; s < count; ++s) {
              const double weight = p[static_cast<size_t>(s) * classes + chosen->classes[t]];
              const float* mask = masks + static_cast<size_t>(s) * pixels;
              for (int q = range.start; q < range.end; ++q) sum[q] += weight * mask[q];
            }
          }
        });
      };
      const MaskedProbabilities probs = masked_probabilities(
          classify, base, o.masks + 1, with_original_first(rise_masks(size, o, options.lime.seed), pixels),
          options.lime.batch_size, &model.batch_tuner(), add_masks);
      r.model_ms = probs.model_ms;
      r.model_images = o.masks + 1;
      const ImageTargets& targets = *chosen;
      r.prediction = targets.prediction;
      std::vector<cv::Mat> saliency;
      for (auto& sum : sums) saliency.emplace_back(size, CV_64FC1, sum.data());
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
