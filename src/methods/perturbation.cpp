#include "xai/perturbation.hpp"

#include <chrono>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <random>

#include "xai/error.hpp"

namespace xai {

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

cv::Mat fill_image(const cv::Mat& view, const cv::Mat& segments, int count, HideMode mode,
                   const std::vector<float>& color) {
  const int channels = view.channels();
  switch (mode) {
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
      if (color.size() != 1 && color.size() != static_cast<size_t>(channels))
        throw usage_error("--hide-color needs 1 or " + std::to_string(channels) + " values in [0,1]");
      for (float v : color)
        if (!(v >= 0.0f && v <= 1.0f)) throw usage_error("--hide-color values must be in [0,1] (0 = black, 1 = white)");
      const cv::Scalar colour = color.size() == 1 ? cv::Scalar::all(color[0]) : cv::Scalar(color[0], color[1], color[2]);
      return cv::Mat(view.size(), view.type(), colour);
    }
    case HideMode::blur: {
      // Blur on the scale of a region, so a hidden region keeps its colour but loses its detail.
      const double sigma = std::max(1.0, std::sqrt(double(view.rows) * view.cols / count) / 2.0);
      cv::Mat fill;
      cv::GaussianBlur(view, fill, cv::Size(0, 0), sigma, sigma, cv::BORDER_REFLECT);
      return fill;
    }
  }
  return view.clone();
}

std::vector<uint8_t> sample_switches(int samples, int features, uint64_t seed) {
  std::vector<uint8_t> switches(static_cast<size_t>(samples) * features, 1);
  std::mt19937_64 rng(seed);
  for (size_t i = features; i < switches.size(); ++i) switches[i] = static_cast<uint8_t>(rng() >> 63);
  return switches;
}

MaskWriter region_masks(const cv::Mat& segments, const std::vector<uint8_t>& switches, int features) {
  CV_Assert(segments.type() == CV_32SC1 && segments.isContinuous());
  return [segments, &switches, features](int first, int count, float* masks) {
    const size_t pixels = segments.total();
    const int* label = segments.ptr<int>();
    for (int s = 0; s < count; ++s) {
      const uint8_t* on = switches.data() + static_cast<size_t>(first + s) * features;
      float* mask = masks + static_cast<size_t>(s) * pixels;
      for (size_t p = 0; p < pixels; ++p) mask[p] = on[label[p]];
    }
  };
}

MaskedProbabilities masked_probabilities(const Classifier& classify, const InputBlob& original, const InputBlob& fill,
                                         int samples, const MaskWriter& masks, int batch_size) {
  if (batch_size < 1) throw usage_error("--probe-batch must be positive");
  if (original.values.size() != fill.values.size()) throw Error(ExitCode::internal, "fill and image differ in size");
  const size_t plane = static_cast<size_t>(original.height) * original.width;
  const size_t per_image = plane * original.channels;
  std::vector<float> difference(per_image);
  for (size_t i = 0; i < per_image; ++i) difference[i] = original.values[i] - fill.values[i];

  MaskedProbabilities out;
  const int batch = std::min(batch_size, samples);
  std::vector<float> mask(static_cast<size_t>(batch) * plane);
  std::vector<float> images(static_cast<size_t>(batch) * per_image);
  for (int first = 0; first < samples; first += batch) {
    const int count = std::min(batch, samples - first);
    masks(first, count, mask.data());
    for (int s = 0; s < count; ++s) {
      const float* m = mask.data() + s * plane;
      float* image = images.data() + s * per_image;
      for (int c = 0; c < original.channels; ++c) {
        const float* f = fill.values.data() + c * plane;
        const float* d = difference.data() + c * plane;
        float* dst = image + c * plane;
        for (size_t p = 0; p < plane; ++p) dst[p] = f[p] + m[p] * d[p];
      }
    }
    const auto start = std::chrono::steady_clock::now();
    std::vector<double> probabilities =
        classify(ImageBatch{count, original.channels, original.height, original.width, images.data()});
    out.model_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (count == 0 || probabilities.size() % static_cast<size_t>(count) != 0)
      throw Error(ExitCode::internal, "classifier returned a ragged batch");
    const int classes = static_cast<int>(probabilities.size() / count);
    if (out.classes == 0) out.classes = classes;
    out.values.insert(out.values.end(), probabilities.begin(), probabilities.end());
  }
  return out;
}

}  // namespace xai
