// The registry entries of Kernel SHAP and Partition SHAP: the engines (kernel_shap.cpp,
// partition_shap.cpp) on the perturbation core, their values kept as signed maps with the base value
// and the efficiency check (Σφ against f(x) − f(all hidden)) in the report.
#include "methods/method_adapters.hpp"
#include <map>

#include "methods/adaptive_sampling.hpp"
#include "xai/error.hpp"
#include "methods/shapley.hpp"
#include "methods/superpixels.hpp"
#include "methods/perturbation.hpp"

namespace xai {
namespace {

using json = nlohmann::ordered_json;

json efficiency(double sum, double f_full, double f_empty) {
  return {{"sum", sum}, {"expected", f_full - f_empty}, {"error", std::abs(sum - (f_full - f_empty))}};
}

// The model's probabilities for every coalition asked so far, each classified once: auto sampling
// grows the coalition set round by round and only the new coalitions cost forward passes. Rows 0
// and 1 are "all shown" (the unperturbed image: the prediction) and "none shown".
class CoalitionValues {
 public:
  CoalitionValues(const Classifier& classify, const PerturbationBase& base, const cv::Mat& segments, int regions,
                  int batch, BatchTuner& tuner)
      : classify_(classify), base_(base), segments_(segments), regions_(regions), batch_(batch), tuner_(tuner) {
    std::vector<uint8_t> ends(static_cast<size_t>(regions), 1);
    ends.resize(static_cast<size_t>(2) * regions, 0);
    add(ends);
  }

  void evaluate(const Coalitions& c) {
    std::vector<uint8_t> fresh;
    for (int r = 0; r < c.rows; ++r) {
      std::vector<uint8_t> key(c.switches.begin() + static_cast<ptrdiff_t>(r) * regions_,
                               c.switches.begin() + static_cast<ptrdiff_t>(r + 1) * regions_);
      if (row_of_.count(key)) continue;
      fresh.insert(fresh.end(), key.begin(), key.end());
      row_of_.emplace(std::move(key), static_cast<int>(row_of_.size()));
    }
    if (!fresh.empty()) classify_rows(fresh);
  }

  // Kernel SHAP values of class `cls` on coalitions that have all been evaluated.
  std::vector<double> shapley_values(const Coalitions& c, int cls) const {
    std::vector<double> values(c.rows);
    for (int r = 0; r < c.rows; ++r) {
      const std::vector<uint8_t> key(c.switches.begin() + static_cast<ptrdiff_t>(r) * regions_,
                                     c.switches.begin() + static_cast<ptrdiff_t>(r + 1) * regions_);
      values[r] = probability(row_of_.at(key), cls);
    }
    return KernelShapSolver(c).solve(values, full(cls), empty(cls));
  }

  double full(int cls) const { return probability(0, cls); }
  double empty(int cls) const { return probability(1, cls); }
  double model_ms() const { return model_ms_; }
  long long evaluated() const { return static_cast<long long>(values_.size() / classes_); }

 private:
  void add(const std::vector<uint8_t>& switches) {
    for (size_t r = 0; r * regions_ < switches.size(); ++r)
      row_of_.emplace(std::vector<uint8_t>(switches.begin() + r * regions_, switches.begin() + (r + 1) * regions_),
                      static_cast<int>(row_of_.size()));
    classify_rows(switches);
  }
  void classify_rows(const std::vector<uint8_t>& switches) {
    const int rows = static_cast<int>(switches.size() / regions_);
    const MaskedProbabilities p =
        masked_probabilities(classify_, base_, rows, region_masks(segments_, switches, regions_), batch_, &tuner_);
    classes_ = p.classes;
    model_ms_ += p.model_ms;
    values_.insert(values_.end(), p.values.begin(), p.values.end());
  }
  double probability(int row, int cls) const { return values_[static_cast<size_t>(row) * classes_ + cls]; }

  const Classifier& classify_;
  const PerturbationBase& base_;
  cv::Mat segments_;
  int regions_, batch_;
  BatchTuner& tuner_;
  std::map<std::vector<uint8_t>, int> row_of_;
  std::vector<double> values_;  // rows × classes
  int classes_ = 1;
  double model_ms_ = 0;
};

class KernelShapMethod final : public ExplanationMethod {
 public:
  std::string name() const override { return "kernelshap"; }
  MethodFamily family() const override { return MethodFamily::perturbation; }
  MapKind map_kind() const override { return {/*is_signed=*/true, /*display_min_max=*/false}; }
  MethodNeeds needs() const override { return {/*layer=*/false, /*extra_passes=*/true}; }
  std::vector<SettingUse> settings() const override {
    return {Setting::target,      Setting::all_classes, Setting::probe_batch, {Setting::samples, "2*regions+2048", 2},
            Setting::adaptive,    Setting::superpixels, Setting::hide,        Setting::seed,
            Setting::precision};
  }

  json parameters(const ExplainOptions& options, const std::vector<std::string>&, const ModelCard& card) const override {
    json p = {{"samples", sampling_parameters(options.lime, options.shap.samples > 0 ? json(options.shap.samples)
                                                                                   : json("2*regions+2048"))},
              {"regions", region_parameters(options.lime, card)},
              {"seed", options.lime.seed}};
    add_perturbation_parameters(p, options, true);
    return p;
  }

  std::vector<MethodResult> compute(Model& model, const std::vector<const PreparedImage*>& images,
                                    const ExplainOptions& options, const std::vector<std::string>&) const override {
    const AdaptiveSampling& adaptive = options.lime.adaptive;
    return each_image(name(), images, [&](const PreparedImage& image, MethodResult& r) {
      Prediction unperturbed;
      const Classifier classify = model_classifier(model, &unperturbed);
      const cv::Mat segments =
          explanation_regions(image.image.pixels.size(), image.visible, image.view, options.lime.superpixels, options.lime.regions_path, r.warnings);
      const int regions = label_count(segments);
      const PerturbationBase base = perturbation_base(image.view, segments, regions, options.lime.hide, model.card());
      CoalitionValues known(classify, base, segments, regions, options.lime.batch_size, model.batch_tuner());
      std::vector<int> budgets = {options.shap.samples > 0 ? options.shap.samples : kernel_shap_default_samples(regions)};
      if (adaptive.enabled) budgets = auto_rounds(regions, adaptive.max_samples, options.lime.batch_size);
      SamplingOutcome sampling;
      sampling.automatic = adaptive.enabled;
      Coalitions coalitions;
      for (int budget : budgets) {
        coalitions = kernel_shap_coalitions(regions, budget, options.lime.seed);
        known.evaluate(coalitions);
        if (!adaptive.enabled) break;
        const ImageTargets targets = targets_of(unperturbed, model.labels().size(), options, true);
        const Coalitions halves[2][2] = {{half_of(coalitions, 1, 0), half_of(coalitions, 1, 1)},
                                         {half_of(coalitions, 2, 0), half_of(coalitions, 2, 1)}};
        double worst = 1;
        for (int cls : targets.classes) {
          double mean = 0;
          for (const auto& split : halves)
            mean += half_agreement(known.shapley_values(split[0], cls), known.shapley_values(split[1], cls)) / 2;
          worst = std::min(worst, mean);
        }
        sampling.record_check(worst, adaptive.tolerance);
        if (coalitions.exhaustive) sampling.settled = true;  // every coalition enumerated: exact values
        if (sampling.settled) break;
      }
      sampling.samples = coalitions.rows;
      r.model_ms = known.model_ms();
      r.model_images = known.evaluated();
      add_sampling_outcome(r, sampling, adaptive);
      const ImageTargets targets = targets_of(unperturbed, model.labels().size(), options, true);
      r.prediction = targets.prediction;
      for (int cls : targets.classes) {
        const std::vector<double> phi = known.shapley_values(coalitions, cls);
        DenseMap m;
        m.class_index = cls;
        m.is_signed = true;
        m.segments = segments;
        m.region_weights = phi;
        double sum = 0;
        for (double v : phi) sum += v;
        const double f_full = known.full(cls), f_empty = known.empty(cls);
        m.details = {{"segments", regions},
                     {"coalitions", coalitions.rows},
                     {"exact", coalitions.exhaustive},
                     {"base_value", f_empty},
                     {"model_probability", f_full},
                     {"efficiency", efficiency(sum, f_full, f_empty)},
                     {"values", phi}};
        r.maps.push_back(std::move(m));
      }
      if (!coalitions.exhaustive && coalitions.rows < 2 * regions)
        r.warnings.push_back("kernelshap: " + std::to_string(coalitions.rows) + " samples for " +
                             std::to_string(regions) +
                             " regions is too few for stable values (shap's default is 2*regions+2048)");
    });
  }
};

class PartitionShapMethod final : public ExplanationMethod {
 public:
  std::string name() const override { return "partitionshap"; }
  MethodFamily family() const override { return MethodFamily::perturbation; }
  MapKind map_kind() const override { return {/*is_signed=*/true, /*display_min_max=*/false}; }
  MethodNeeds needs() const override { return {/*layer=*/false, /*extra_passes=*/true}; }
  std::vector<SettingUse> settings() const override {
    return {Setting::target,      Setting::probe_batch, Setting::max_evals, Setting::partition,
            Setting::superpixels, Setting::hide,        Setting::precision};
  }
  // It splits along the axes unless told to use superpixels.
  std::string unused_because(Setting s, const ExplainOptions& options) const override {
    if (s == Setting::superpixels && options.shap.partition != PartitionKind::superpixels)
      return "partitionshap splits along the axes; add " + setting_name("partition") + " superpixels";
    return {};
  }

  json parameters(const ExplainOptions& options, const std::vector<std::string>&, const ModelCard& card) const override {
    json p = {{"max_evals", options.shap.max_evals}, {"partition", to_string(options.shap.partition)}};
    if (options.shap.partition == PartitionKind::superpixels) p["regions"] = region_parameters(options.lime, card);
    add_perturbation_parameters(p, options, false);
    return p;
  }

  std::vector<MethodResult> compute(Model& model, const std::vector<const PreparedImage*>& images,
                                    const ExplainOptions& options, const std::vector<std::string>&) const override {
    return each_image(name(), images, [&](const PreparedImage& image, MethodResult& r) {
      Prediction unperturbed;
      const Classifier classify = model_classifier(model, &unperturbed);
      const cv::Size size = image.view.size();
      const bool by_superpixels = options.shap.partition == PartitionKind::superpixels;
      cv::Mat segments;
      int regions = 1;
      if (by_superpixels) {
        segments = explanation_regions(image.image.pixels.size(), image.visible, image.view, options.lime.superpixels, options.lime.regions_path,
                                       r.warnings);
        regions = label_count(segments);
      }
      const Hierarchy hierarchy =
          by_superpixels ? merge_hierarchy(image.view, segments, regions) : axis_hierarchy(size.height, size.width);
      // A mean fill shows each leaf region's mean; with axis splits (pixel leaves) the image's mean.
      const cv::Mat fill_regions = by_superpixels ? segments : cv::Mat::zeros(size, CV_32SC1);
      const PerturbationBase base = perturbation_base(image.view, fill_regions, regions, options.lime.hide, model.card());
      // Everything shown and nothing shown, once: the prediction (sample 0) and every class's ends.
      const std::vector<float> all_shown(size.area(), 1.0f);
      const MaskedProbabilities ends = masked_probabilities(
          classify, base, 2,
          [&](int first, int count, float* out) {
            std::fill(out, out + static_cast<size_t>(count) * size.area(), 0.0f);
            if (first == 0) std::copy(all_shown.begin(), all_shown.end(), out);
          },
          options.lime.batch_size, &model.batch_tuner());
      r.model_ms += ends.model_ms;
      const ImageTargets targets = targets_of(unperturbed, model.labels().size(), options, false);
      r.prediction = targets.prediction;
      for (int cls : targets.classes) {
        bool first_call = true;
        CoalitionValue value = [&](const std::vector<std::vector<uint8_t>>& masks) {
          if (first_call) {  // owen_values asks for the two ends first: already known
            first_call = false;
            return std::vector<double>{ends.values[static_cast<size_t>(ends.classes) + cls], ends.values[cls]};
          }
          MaskWriter write = [&](int first, int count, float* out) {
            for (int s = 0; s < count; ++s)
              std::copy(masks[first + s].begin(), masks[first + s].end(), out + static_cast<size_t>(s) * size.area());
          };
          const MaskedProbabilities probs = masked_probabilities(classify, base, static_cast<int>(masks.size()), write,
                                                                 options.lime.batch_size, &model.batch_tuner());
          r.model_ms += probs.model_ms;
          std::vector<double> f(masks.size());
          for (size_t i = 0; i < masks.size(); ++i) f[i] = probs.values[i * probs.classes + cls];
          return f;
        };
        const OwenResult owen = owen_values(hierarchy, value, options.shap.max_evals,
                                              options.lime.batch_size > 0 ? options.lime.batch_size : kDefaultProbeBatch);
        r.model_images += owen.evaluations - 2;
        DenseMap m;
        m.class_index = cls;
        m.is_signed = true;
        double sum = 0;
        for (double v : owen.pixel_values) sum += v;
        m.details = {{"evaluations", owen.evaluations}, {"expanded", owen.expanded}, {"exact", owen.exact},
                     {"base_value", owen.f_empty},      {"model_probability", owen.f_full},
                     {"efficiency", efficiency(sum, owen.f_full, owen.f_empty)}};
        if (by_superpixels) {
          m.segments = segments;
          m.region_weights.assign(regions, 0.0);
          for (int y = 0; y < size.height; ++y)
            for (int x = 0; x < size.width; ++x)
              m.region_weights[segments.at<int>(y, x)] += owen.pixel_values[static_cast<size_t>(y) * size.width + x];
          m.details["segments"] = regions;
          m.details["values"] = m.region_weights;
        } else {
          // Per pixel: a pixel's share of the credit (Σ over pixels = f(x) − f(all hidden)).
          m.values = cv::Mat(size, CV_32FC1);
          for (size_t i = 0; i < owen.pixel_values.size(); ++i) m.values.ptr<float>()[i] = static_cast<float>(owen.pixel_values[i]);
        }
        r.maps.push_back(std::move(m));
      }
      r.model_images += 2;
    });
  }
};

}  // namespace

std::unique_ptr<ExplanationMethod> kernel_shap_method() { return std::make_unique<KernelShapMethod>(); }
std::unique_ptr<ExplanationMethod> partition_shap_method() { return std::make_unique<PartitionShapMethod>(); }

}  // namespace xai
