#include "methods/gradient_attribution.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <random>

#include "methods/input_gradients.hpp"
#include "xai/error.hpp"

namespace xai {

Baseline parse_baseline(const std::string& name) {
  if (name == "black") return Baseline::black;
  if (name == "blur") return Baseline::blur;
  if (name == "mean") return Baseline::mean;
  throw usage_error(setting_name("baseline") + " " + name + ": expected black, blur or mean");
}

std::string to_string(Baseline baseline) {
  switch (baseline) {
    case Baseline::black: return "black";
    case Baseline::blur: return "blur";
    case Baseline::mean: return "mean";
  }
  return "black";
}

cv::Mat baseline_view(const cv::Mat& view, Baseline baseline) {
  switch (baseline) {
    case Baseline::black: return cv::Mat::zeros(view.size(), view.type());
    case Baseline::mean: return cv::Mat(view.size(), view.type(), cv::mean(view));
    case Baseline::blur: {
      const double sigma = std::max(1.0, std::min(view.rows, view.cols) / 20.0);
      cv::Mat out;
      cv::GaussianBlur(view, out, cv::Size(0, 0), sigma, sigma, cv::BORDER_REFLECT);
      return out;
    }
  }
  return view.clone();
}

std::vector<double> trapezoid_weights(int steps) {
  if (steps < 2) throw usage_error(setting_name("steps") + " must be at least 2 (got " + std::to_string(steps) + ")");
  std::vector<double> w(steps, 1.0 / (steps - 1));
  w.front() /= 2;
  w.back() /= 2;
  return w;
}

// Σ over channels of values (CHW) → CV_32FC1, and the grand total.
cv::Mat channel_sum(const std::vector<double>& chw, const InputBlob& like, double& total) {
  const size_t plane = static_cast<size_t>(like.height) * like.width;
  cv::Mat pixels = cv::Mat::zeros(like.height, like.width, CV_32FC1);
  total = 0;
  for (size_t p = 0; p < plane; ++p) {
    double v = 0;
    for (int c = 0; c < like.channels; ++c) v += chw[c * plane + p];
    pixels.ptr<float>()[p] = static_cast<float>(v);
    total += v;
  }
  return pixels;
}

void add_gaussian_noise(const std::vector<float>& input, double sigma, uint64_t seed, uint64_t draw, float* dst) {
  // Marsaglia's polar method on the top 53 bits of a per-draw Mersenne Twister: the same noise
  // everywhere (std::normal_distribution's algorithm is not specified) and whatever the batch size;
  // no trigonometry, so generating it stays small next to a forward + backward.
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ULL + draw);
  auto u = [&] { return static_cast<double>(rng() >> 11) * 0x1.0p-52 - 1.0; };  // [-1, 1)
  const size_t n = input.size();
  for (size_t i = 0; i < n; i += 2) {
    double a, b, s;
    do {
      a = u();
      b = u();
      s = a * a + b * b;
    } while (s >= 1.0 || s == 0.0);
    const double scale = sigma * std::sqrt(-2.0 * std::log(s) / s);
    dst[i] = static_cast<float>(input[i] + a * scale);
    if (i + 1 < n) dst[i + 1] = static_cast<float>(input[i + 1] + b * scale);
  }
}

InputAttribution integrated_gradients(const ScoreGradient& gradient, const InputBlob& input, const InputBlob& baseline,
                                      int cls, const GradientOptions& options) {
  const std::vector<double> weights = trapezoid_weights(options.steps);
  if (input.values.size() != baseline.values.size()) throw Error(ExitCode::internal, "baseline and input differ in size");
  const size_t per_image = input.values.size();
  InputAttribution out;
  std::vector<double> path_sum(per_image, 0.0);
  gradients_of(
      gradient, input, cls, options.steps, options.batch_size, out,
      [&](int k, float* dst) {
        const float alpha = static_cast<float>(static_cast<double>(k) / (options.steps - 1));
        for (size_t i = 0; i < per_image; ++i) dst[i] = baseline.values[i] + alpha * (input.values[i] - baseline.values[i]);
      },
      [&](int k, const float* g, double score) {
        for (size_t i = 0; i < per_image; ++i) path_sum[i] += weights[k] * g[i];
        if (k == 0) out.baseline_score = score;
        if (k == options.steps - 1) out.score = score;
      });
  for (size_t i = 0; i < per_image; ++i) path_sum[i] *= double(input.values[i]) - baseline.values[i];
  out.pixels = channel_sum(path_sum, input, out.total);
  return out;
}

InputAttribution smoothgrad(const ScoreGradient& gradient, const InputBlob& input, int cls,
                            const GradientOptions& options, uint64_t seed) {
  if (options.samples < 1) throw usage_error(setting_name("samples") + " must be positive");
  if (!(options.noise >= 0)) throw usage_error(setting_name("noise") + " must be at least 0");
  const size_t per_image = input.values.size();
  const auto [lo, hi] = std::minmax_element(input.values.begin(), input.values.end());
  const double sigma = options.noise * (*hi - *lo);
  InputAttribution out;
  std::vector<double> sum(per_image, 0.0);
  gradients_of(
      gradient, input, cls, options.samples, options.batch_size, out,
      [&](int k, float* dst) { add_gaussian_noise(input.values, sigma, seed, static_cast<uint64_t>(k), dst); },
      [&](int, const float* g, double score) {
        for (size_t i = 0; i < per_image; ++i) sum[i] += g[i];
        out.score += score;
      });
  for (auto& v : sum) v /= options.samples;
  out.score /= options.samples;  // the mean score over the noisy copies
  out.pixels = channel_sum(sum, input, out.total);
  return out;
}

}  // namespace xai
