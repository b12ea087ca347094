#include "methods/lime.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <opencv2/imgproc.hpp>
#include <random>

#include "xai/error.hpp"
#include "core/statistics.hpp"
#include "input/preprocess.hpp"
#include "methods/ridge.hpp"

namespace xai {
namespace {

std::vector<int> top_indices(const std::vector<double>& weights, size_t k) {
  std::vector<int> order(weights.size());
  std::iota(order.begin(), order.end(), 0);
  k = std::min(k, order.size());
  std::partial_sort(order.begin(), order.begin() + k, order.end(),
                    [&](int a, int b) { return weights[a] > weights[b]; });
  order.resize(k);
  std::sort(order.begin(), order.end());
  return order;
}

struct SampledRun {
  std::vector<LimeClassResult> classes;
  Prediction prediction;
  double model_ms = 0;
  SamplingOutcome sampling;
};

std::vector<int> targets_for(const LimeOptions& options, const Prediction& prediction, size_t label_count) {
  if (!options.all_classes) return resolve_targets(options.target, prediction, label_count);
  std::vector<int> all(label_count);
  std::iota(all.begin(), all.end(), 0);
  return all;
}

// One weighted ridge surrogate per target class on the samples `rows` (row 0, the unperturbed
// image, first) of the switches.
std::vector<LimeClassResult> fit_surrogates(const std::vector<uint8_t>& switches, int features,
                                            const std::vector<int>& rows, const LimeOptions& options,
                                            const std::vector<double>& probabilities, int classes,
                                            const std::vector<int>& targets) {
  const int samples = static_cast<int>(rows.size());
  std::vector<uint8_t> chosen(static_cast<size_t>(samples) * features);
  for (int i = 0; i < samples; ++i)
    std::copy_n(switches.begin() + static_cast<ptrdiff_t>(rows[i]) * features, features,
                chosen.begin() + static_cast<ptrdiff_t>(i) * features);
  const std::vector<double> distances = cosine_distances_to_original(chosen, samples, features);
  std::vector<double> weights(samples);
  for (int i = 0; i < samples; ++i) weights[i] = lime_kernel(distances[i], options.kernel_width);
  // A kernel so narrow that its width squared underflows, or that gives every perturbed sample weight
  // 0, leaves nothing to fit: refuse it rather than report a fit of the original row alone.
  double perturbed_weight = 0;
  for (int i = 1; i < samples; ++i) perturbed_weight += weights[i];
  if (!std::all_of(weights.begin(), weights.end(), [](double w) { return std::isfinite(w); }) ||
      (samples > 1 && !(perturbed_weight > 0)))
    throw usage_error(setting_name("kernel_width") + " " + std::to_string(options.kernel_width) +
                      ": so narrow that every perturbed sample gets weight 0 (LIME's default is 0.25)");
  cv::Mat X(samples, features, CV_64FC1);
  for (int i = 0; i < samples; ++i)
    for (int j = 0; j < features; ++j) X.at<double>(i, j) = chosen[static_cast<size_t>(i) * features + j];
  std::vector<LimeClassResult> results;
  for (int cls : targets) {
    std::vector<double> y(samples);
    for (int i = 0; i < samples; ++i) y[i] = probabilities[static_cast<size_t>(rows[i]) * classes + cls];
    const RidgeFit fit = weighted_ridge(X, y, weights, options.ridge_alpha);
    LimeClassResult c;
    c.class_index = cls;
    c.intercept = fit.intercept;
    c.weights = fit.coefficients;
    c.r2 = fit.r2;
    c.local_prediction = fit.predict(X.ptr<double>(0));
    c.model_probability = y[0];
    results.push_back(std::move(c));
  }
  return results;
}

std::vector<int> first_rows(int count) {
  std::vector<int> rows(count);
  std::iota(rows.begin(), rows.end(), 0);
  return rows;
}

// Two independent halves of the first `count` samples, both with row 0 (the unperturbed image, not
// random): split 0 alternates rows, split 1 alternates pairs of rows.
std::vector<int> half_rows(int count, int split, int half, bool paired) {
  std::vector<int> rows = {0};
  for (int i = 1; i < count; ++i) {
    const int unit = paired ? (i - 1) / 2 : i;  // complementary pairs stay together
    if ((split == 0 ? unit % 2 : (unit / 2) % 2) == half) rows.push_back(i);
  }
  return rows;
}

}  // namespace

std::vector<double> cosine_distances_to_original(const std::vector<uint8_t>& switches, int samples, int features) {
  std::vector<double> d(samples);
  for (int i = 0; i < samples; ++i) {
    const uint8_t* row = switches.data() + static_cast<size_t>(i) * features;
    const int on = std::accumulate(row, row + features, 0);
    // cos(row, 1) = on / (sqrt(on) sqrt(n)) = sqrt(on / n); an all-off row has similarity 0.
    d[i] = on == 0 ? 1.0 : 1.0 - std::sqrt(static_cast<double>(on) / features);
  }
  return d;
}

double lime_kernel(double distance, double width) { return std::sqrt(std::exp(-(distance * distance) / (width * width))); }

LimeStability stability_of(const std::vector<std::vector<double>>& weight_sets) {
  LimeStability s;
  s.repeats = static_cast<int>(weight_sets.size());
  int pairs = 0;
  for (size_t a = 0; a < weight_sets.size(); ++a)
    for (size_t b = a + 1; b < weight_sets.size(); ++b) {
      s.mean_spearman += spearman(weight_sets[a], weight_sets[b]);
      const auto ta = top_indices(weight_sets[a], 5), tb = top_indices(weight_sets[b], 5);
      std::vector<int> both, either;
      std::set_intersection(ta.begin(), ta.end(), tb.begin(), tb.end(), std::back_inserter(both));
      std::set_union(ta.begin(), ta.end(), tb.begin(), tb.end(), std::back_inserter(either));
      s.mean_top5_jaccard += either.empty() ? 1.0 : double(both.size()) / either.size();
      ++pairs;
    }
  if (pairs) {
    s.mean_spearman /= pairs;
    s.mean_top5_jaccard /= pairs;
  }
  return s;
}

LimeExplanation explain_lime(Model& model, const Image& image, const LimeOptions& options) {
  return explain_lime(model, image, model_view(image, model.card()), options);
}

LimeExplanation explain_lime(Model& model, const Image& image, const cv::Mat& view, const LimeOptions& options) {
  if (options.adaptive.enabled) {
    if (!(options.adaptive.tolerance > 0 && options.adaptive.tolerance < 1))
      throw usage_error(setting_name("tolerance") + " must be between 0 and 1");
    if (options.adaptive.max_samples < 2) throw usage_error(setting_name("max_samples") + " must be at least 2");
  } else if (options.samples < 2)
    throw usage_error(setting_name("samples") + " must be at least 2 (got " + std::to_string(options.samples) + ")");
  if (options.batch_size < 0) throw usage_error(setting_name("probe_batch") + " must be positive");
  if (!(options.kernel_width > 0)) throw usage_error(setting_name("kernel_width") + " must be positive");
  if (options.repeats < 1) throw usage_error(setting_name("repeats") + " must be at least 1");
  const std::vector<std::string>& labels = model.labels();
  const ModelCard& card = model.card();

  LimeExplanation result;
  result.segments = explanation_regions(image.pixels.size(), visible_region(image.pixels.size(), card), view, options.superpixels, options.regions_path, result.warnings);
  const int features = label_count(result.segments);
  result.segment_count = features;

  const PerturbationBase base = perturbation_base(view, result.segments, features, options.hide, card);
  Prediction unperturbed;  // row 0 of the first run is the unperturbed image: the prediction, logits included
  const Classifier classify = model_classifier(model, &unperturbed);

  auto run_once = [&](uint64_t seed) {
    SampledRun run;
    const AdaptiveSampling& adaptive = options.adaptive;
    const int most = adaptive.enabled ? adaptive.max_samples : options.samples;
    std::vector<uint8_t> switches = sample_switches(most, features, seed);
    const bool paired = options.paired || adaptive.enabled;
    if (paired)
      for (int i = 2; i < most; i += 2)
        for (int j = 0; j < features; ++j)
          switches[static_cast<size_t>(i) * features + j] = 1 - switches[static_cast<size_t>(i - 1) * features + j];
    const MaskWriter masks = region_masks(result.segments, switches, features);
    std::vector<double> probabilities;
    int classes = 0, evaluated = 0;
    auto evaluate_to = [&](int count) {
      const int first = evaluated;
      const MaskedProbabilities p = masked_probabilities(
          classify, base, count - first, [&](int f, int n, float* out) { masks(first + f, n, out); },
          options.batch_size, &model.batch_tuner());
      run.model_ms += p.model_ms;
      classes = p.classes;
      if (classes != static_cast<int>(labels.size()))
        throw model_error(model.path() + ": probabilities have " + std::to_string(classes) + " columns for " +
                          std::to_string(labels.size()) + " labels");
      probabilities.insert(probabilities.end(), p.values.begin(), p.values.end());
      evaluated = count;
    };
    run.sampling.automatic = adaptive.enabled;
    if (!adaptive.enabled) {
      evaluate_to(most);
    } else {
      for (int point : auto_rounds(features, most, options.batch_size)) {
        evaluate_to(point);
        const std::vector<int> targets = targets_for(options, unperturbed, labels.size());
        // The worst target class, each class's half agreement averaged over the two splits.
        double worst = 1;
        for (size_t t = 0; t < targets.size(); ++t) {
          double mean = 0;
          for (int split = 0; split < 2; ++split) {
            const auto a = fit_surrogates(switches, features, half_rows(point, split, 0, paired), options, probabilities,
                                          classes, {targets[t]});
            const auto b = fit_surrogates(switches, features, half_rows(point, split, 1, paired), options, probabilities,
                                          classes, {targets[t]});
            mean += half_agreement(a.front().weights, b.front().weights) / 2;
          }
          worst = std::min(worst, mean);
        }
        if (run.sampling.record_check(worst, adaptive.tolerance)) break;
      }
    }
    run.sampling.samples = evaluated;
    run.prediction = unperturbed;
    run.classes = fit_surrogates(switches, features, first_rows(evaluated), options, probabilities, classes,
                                 targets_for(options, run.prediction, labels.size()));
    return run;
  };

  SampledRun main_run = run_once(options.seed);
  result.prediction = main_run.prediction;
  result.classes = std::move(main_run.classes);
  result.model_ms = main_run.model_ms;
  result.sampling = main_run.sampling;
  result.model_images = main_run.sampling.samples;
  if (options.repeats > 1) {
    std::vector<std::vector<double>> weight_sets = {result.classes.front().weights};
    for (int r = 1; r < options.repeats; ++r) {
      SampledRun again = run_once(options.seed + static_cast<uint64_t>(r));
      weight_sets.push_back(again.classes.front().weights);
      result.model_ms += again.model_ms;
      result.model_images += again.sampling.samples;
    }
    result.stability = stability_of(weight_sets);
  }
  return result;
}

}  // namespace xai
