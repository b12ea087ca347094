#include "xai/lime.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <opencv2/imgproc.hpp>
#include <random>

#include "torch_model.hpp"
#include "xai/error.hpp"
#include "xai/metrics.hpp"
#include "xai/preprocess.hpp"
#include "xai/ridge.hpp"

namespace xai {
namespace {

// Per-pixel colour that switched-off superpixels show, at the model's input resolution.
cv::Mat hidden_fill(const cv::Mat& view, const cv::Mat& segments, int count, const LimeOptions& options) {
  const int channels = view.channels();
  switch (options.hide) {
    case HideMode::mean: {
      std::vector<cv::Vec3d> sums(count, cv::Vec3d(0, 0, 0));
      std::vector<int> sizes(count, 0);
      for (int y = 0; y < view.rows; ++y)
        for (int x = 0; x < view.cols; ++x) {
          const int s = segments.at<int>(y, x);
          sizes[s] += 1;
          if (channels == 3) {
            const cv::Vec3f& p = view.at<cv::Vec3f>(y, x);
            sums[s] += cv::Vec3d(p[0], p[1], p[2]);
          } else {
            sums[s][0] += view.at<float>(y, x);
          }
        }
      cv::Mat fill(view.size(), view.type());
      for (int y = 0; y < view.rows; ++y)
        for (int x = 0; x < view.cols; ++x) {
          const int s = segments.at<int>(y, x);
          const cv::Vec3d mean = sums[s] / std::max(1, sizes[s]);
          if (channels == 3)
            fill.at<cv::Vec3f>(y, x) = cv::Vec3f(float(mean[0]), float(mean[1]), float(mean[2]));
          else
            fill.at<float>(y, x) = static_cast<float>(mean[0]);
        }
      return fill;
    }
    case HideMode::constant: {
      const auto& c = options.hide_color;
      if (c.size() != 1 && c.size() != static_cast<size_t>(channels))
        throw usage_error("--hide-color needs 1 or " + std::to_string(channels) + " values in [0,1]");
      for (float v : c)
        if (v < 0.0f || v > 1.0f) throw usage_error("--hide-color values must be in [0,1] (0 = black, 1 = white)");
      const cv::Scalar colour = c.size() == 1 ? cv::Scalar::all(c[0]) : cv::Scalar(c[0], c[1], c[2]);
      return cv::Mat(view.size(), view.type(), colour);
    }
    case HideMode::blur: {
      // Blur on the scale of a superpixel, so the hidden region keeps colour but loses its detail.
      const double sigma = std::max(1.0, std::sqrt(double(view.rows) * view.cols / count) / 2.0);
      cv::Mat fill;
      cv::GaussianBlur(view, fill, cv::Size(0, 0), sigma, sigma, cv::BORDER_REFLECT);
      return fill;
    }
  }
  return view.clone();
}

torch::Tensor blob_tensor(const InputBlob& blob) {
  return torch::from_blob(const_cast<float*>(blob.values.data()), {blob.channels, blob.height, blob.width},
                          torch::kFloat)
      .clone();
}

torch::Tensor probabilities(const torch::Tensor& logits, OutputKind kind) {
  if (kind == OutputKind::softmax) return torch::softmax(logits, 1);
  torch::Tensor p = torch::sigmoid(logits);
  if (logits.size(1) == 1) return torch::cat({1 - p, p}, 1);  // binary: [negative, positive]
  return p;
}

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
};

}  // namespace

cv::Mat segments_at_size(const cv::Mat& segments, const cv::Size& size) {
  if (segments.size() == size) return segments.clone();
  cv::Mat as_float, resized, labels;
  segments.convertTo(as_float, CV_32F);  // exact for labels below 2^24
  cv::resize(as_float, resized, size, 0, 0, cv::INTER_NEAREST);
  resized.convertTo(labels, CV_32S);
  return labels;
}

HideMode parse_hide_mode(const std::string& name) {
  if (name == "mean") return HideMode::mean;
  if (name == "constant" || name == "color" || name == "colour") return HideMode::constant;
  if (name == "blur") return HideMode::blur;
  throw usage_error("--hide " + name + ": expected mean, constant or blur");
}

std::string to_string(HideMode mode) {
  switch (mode) {
    case HideMode::mean: return "mean";
    case HideMode::constant: return "constant";
    case HideMode::blur: return "blur";
  }
  return "mean";
}

std::vector<uint8_t> sample_switches(int samples, int features, uint64_t seed) {
  std::vector<uint8_t> switches(static_cast<size_t>(samples) * features, 1);
  std::mt19937_64 rng(seed);  // fully specified by the standard: the same bits everywhere
  for (size_t i = features; i < switches.size(); ++i) switches[i] = static_cast<uint8_t>(rng() >> 63);
  return switches;
}

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
  if (options.samples < 2) throw usage_error("--samples must be at least 2 (got " + std::to_string(options.samples) + ")");
  if (options.batch_size < 1) throw usage_error("--batch-size must be positive");
  if (!(options.kernel_width > 0)) throw usage_error("--kernel-width must be positive");
  if (options.repeats < 1) throw usage_error("--repeats must be at least 1");
  Model::Impl& impl = model.impl();
  const std::vector<std::string>& labels = model.labels();
  const ModelCard& card = model.card();

  LimeExplanation result;
  const cv::Mat view = model_view(image, card);  // RGB or gray, [0,1], model resolution
  if (!options.regions_path.empty()) {
    cv::Mat regions = load_regions(options.regions_path, image.pixels.size());
    int before = label_count(regions), after = 0;
    result.segments = relabel_consecutive(segments_at_size(regions, view.size()), &after);
    if (after < before)
      result.warnings.push_back(std::to_string(before - after) +
                                " region(s) vanished when the region map was resized to the model's input");
    if (after < 2) throw input_error(options.regions_path + ": fewer than 2 regions remain at the model's input size");
  } else {
    cv::Mat bgr;  // a new buffer: converting into a header that shares `view` would swap its channels
    if (view.channels() == 3)
      cv::cvtColor(view, bgr, cv::COLOR_RGB2BGR);
    else
      bgr = view;
    result.segments = compute_superpixels(bgr, options.superpixels);
  }
  const int features = label_count(result.segments);
  result.segment_count = features;

  const torch::Tensor original = blob_tensor(normalise(view, card)).to(impl.device);
  const torch::Tensor hidden =
      blob_tensor(normalise(hidden_fill(view, result.segments, features, options), card)).to(impl.device);
  const torch::Tensor difference = (original - hidden).unsqueeze(0);  // [1,C,H,W]
  const torch::Tensor pixel_segment =
      torch::from_blob(result.segments.data, {result.segments.rows * result.segments.cols}, torch::kInt)
          .to(torch::kLong)
          .to(impl.device);

  auto run_once = [&](uint64_t seed) {
    SampledRun run;
    const std::vector<uint8_t> switches = sample_switches(options.samples, features, seed);
    const torch::Tensor on = torch::from_blob(const_cast<uint8_t*>(switches.data()), {options.samples, features},
                                              torch::kUInt8)
                                 .to(impl.device)
                                 .to(torch::kFloat);
    std::vector<torch::Tensor> chunks;
    const auto start = std::chrono::steady_clock::now();
    {
      c10::InferenceMode inference;
      for (int first = 0; first < options.samples; first += options.batch_size) {
        const int count = std::min(options.batch_size, options.samples - first);
        // Pixel (h,w) of sample b shows the image where its superpixel is on, the fill elsewhere.
        const torch::Tensor pixel_on = on.narrow(0, first, count)
                                           .index_select(1, pixel_segment)
                                           .view({count, 1, original.size(1), original.size(2)});
        const torch::Tensor batch = hidden.unsqueeze(0) + pixel_on * difference;
        chunks.push_back(probabilities(impl.run(impl.module, batch), card.output).to(torch::kCPU, torch::kDouble));
      }
    }
    run.model_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    const torch::Tensor probs = torch::cat(chunks, 0).contiguous();  // [samples, labels]
    const int classes = static_cast<int>(probs.size(1));
    if (classes != static_cast<int>(labels.size()))
      throw model_error(impl.path + ": probabilities have " + std::to_string(classes) + " columns for " +
                        std::to_string(labels.size()) + " labels");
    const double* p = probs.data_ptr<double>();  // row 0 is the unperturbed image: the prediction
    run.prediction.probabilities.assign(p, p + classes);
    run.prediction.predicted = static_cast<int>(
        std::max_element(run.prediction.probabilities.begin(), run.prediction.probabilities.end()) -
        run.prediction.probabilities.begin());

    std::vector<int> targets;
    if (options.all_classes) {
      targets.resize(labels.size());
      std::iota(targets.begin(), targets.end(), 0);
    } else {
      targets = resolve_targets(options.target, run.prediction, labels.size());
    }

    const std::vector<double> distances = cosine_distances_to_original(switches, options.samples, features);
    std::vector<double> weights(options.samples);
    for (int i = 0; i < options.samples; ++i) weights[i] = lime_kernel(distances[i], options.kernel_width);
    cv::Mat X(options.samples, features, CV_64FC1);
    for (int i = 0; i < options.samples; ++i)
      for (int j = 0; j < features; ++j) X.at<double>(i, j) = switches[static_cast<size_t>(i) * features + j];
    for (int cls : targets) {
      std::vector<double> y(options.samples);
      for (int i = 0; i < options.samples; ++i) y[i] = p[static_cast<size_t>(i) * classes + cls];
      const RidgeFit fit = weighted_ridge(X, y, weights, options.ridge_alpha);
      LimeClassResult c;
      c.class_index = cls;
      c.intercept = fit.intercept;
      c.weights = fit.coefficients;
      c.r2 = fit.r2;
      c.local_prediction = fit.predict(X.ptr<double>(0));
      c.model_probability = y[0];
      run.classes.push_back(std::move(c));
    }
    return run;
  };

  SampledRun main_run = run_once(options.seed);
  result.prediction = main_run.prediction;
  // Raw outputs for the report come from a plain forward pass of the unperturbed image.
  result.prediction.logits = model.predict({normalise(view, card)}).front().logits;
  result.classes = std::move(main_run.classes);
  result.model_ms = main_run.model_ms;
  if (options.repeats > 1) {
    std::vector<std::vector<double>> weight_sets = {result.classes.front().weights};
    for (int r = 1; r < options.repeats; ++r) {
      SampledRun again = run_once(options.seed + static_cast<uint64_t>(r));
      weight_sets.push_back(again.classes.front().weights);
      result.model_ms += again.model_ms;
    }
    result.stability = stability_of(weight_sets);
  }
  return result;
}

}  // namespace xai
