#include "methods/perturbation.hpp"

#include <cmath>
#include <opencv2/imgproc.hpp>
#include <cstdio>
#include <opencv2/photo.hpp>
#include <random>

#include "model/batch_tuner.hpp"
#include "xai/error.hpp"

namespace xai {

FillSpec parse_fill(const std::string& name) {
  FillSpec fill;
  if (name == "mean") return fill;
  if (name == "constant" || name == "color" || name == "colour") {
    fill.mode = HideMode::constant;
    return fill;
  }
  if (name == "inpaint" || name == "inpaint_telea") {
    fill.mode = HideMode::inpaint;
    return fill;
  }
  if (name == "linear" || name == "road") {
    fill.mode = HideMode::linear;
    return fill;
  }
  fill.mode = HideMode::blur;
  if (name == "blur") return fill;
  // shap's spelling: blur(k,k), a k×k box blur
  int kx = 0, ky = 0;
  char close = 0;
  if (std::sscanf(name.c_str(), "blur(%d,%d%c", &kx, &ky, &close) == 3 && close == ')' && kx == ky && kx > 0 &&
      name.back() == ')') {
    fill.blur_kernel = kx;
    return fill;
  }
  throw usage_error(setting_name("hide") + " " + name + ": expected mean, constant, blur, blur(k,k), inpaint or linear");
}

std::string to_string(HideMode mode) {
  switch (mode) {
    case HideMode::mean: return "mean";
    case HideMode::constant: return "constant";
    case HideMode::blur: return "blur";
    case HideMode::inpaint: return "inpaint";
    case HideMode::linear: return "linear";
  }
  return "mean";
}

std::string to_string(const FillSpec& fill) {
  if (fill.mode == HideMode::blur && fill.blur_kernel > 0)
    return "blur(" + std::to_string(fill.blur_kernel) + "," + std::to_string(fill.blur_kernel) + ")";
  return to_string(fill.mode);
}

cv::Mat fill_image(const cv::Mat& view, const cv::Mat& segments, int count, const FillSpec& spec) {
  const int channels = view.channels();
  const std::vector<float>& color = spec.color;
  switch (spec.mode) {
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
        throw usage_error(setting_name("hide_color") + " needs 1 or " + std::to_string(channels) + " values in [0,1]");
      for (float v : color)
        if (!(v >= 0.0f && v <= 1.0f))
          throw usage_error(setting_name("hide_color") + " values must be in [0,1] (0 = black, 1 = white)");
      const cv::Scalar colour = color.size() == 1 ? cv::Scalar::all(color[0]) : cv::Scalar(color[0], color[1], color[2]);
      return cv::Mat(view.size(), view.type(), colour);
    }
    case HideMode::blur: {
      cv::Mat fill;
      if (spec.blur_kernel > 0) {
        cv::blur(view, fill, cv::Size(spec.blur_kernel, spec.blur_kernel));  // shap: cv2.blur(x, (k, k))
        return fill;
      }
      // Blur on the scale of a region, so a hidden region keeps its colour but loses its detail.
      const double sigma = std::max(1.0, std::sqrt(double(view.rows) * view.cols / count) / 2.0);
      cv::GaussianBlur(view, fill, cv::Size(0, 0), sigma, sigma, cv::BORDER_REFLECT);
      return fill;
    }
    case HideMode::inpaint:
    case HideMode::linear:
      throw Error(ExitCode::internal, "an inpainting or imputing fill depends on the mask: use perturbation_base");
  }
  return view.clone();
}

cv::Mat inpaint_hidden(const cv::Mat& view, const cv::Mat& hidden) {
  cv::Mat bytes, inpainted, out;
  view.convertTo(bytes, CV_8U, 255.0);  // cv::inpaint takes 8-bit colour images; shap inpaints uint8 too
  cv::inpaint(bytes, hidden, inpainted, 3, cv::INPAINT_TELEA);
  inpainted.convertTo(out, CV_32F, 1.0 / 255.0);
  return out;
}

PerturbationBase perturbation_base(const cv::Mat& view, const cv::Mat& segments, int count, const FillSpec& fill,
                                   const ModelCard& card) {
  PerturbationBase base;
  base.original = normalise(view, card);
  if (fill.mode != HideMode::inpaint && fill.mode != HideMode::linear) {
    base.fill = normalise(fill_image(view, segments, count, fill), card);
    return base;
  }
  const bool linear = fill.mode == HideMode::linear;
  base.mask_fill = [view, &card, linear](const float* mask, float* out) {
    cv::Mat hidden(view.size(), CV_8UC1);
    uint64_t mask_hash = 1469598103934665603ull;  // FNV-1a of the mask: the same mask, the same noise
    for (int y = 0; y < view.rows; ++y)
      for (int x = 0; x < view.cols; ++x) {
        const bool hide = mask[y * view.cols + x] < 0.5f;
        hidden.at<uchar>(y, x) = hide ? 255 : 0;
        mask_hash = (mask_hash ^ (hide ? 1u : 2u)) * 1099511628211ull;
      }
    const cv::Mat filled_view =
        linear ? impute_hidden(view, hidden, kImputationNoise, mask_hash) : inpaint_hidden(view, hidden);
    const InputBlob filled = normalise(filled_view, card);
    std::copy(filled.values.begin(), filled.values.end(), out);
  };
  return base;
}

std::vector<uint8_t> sample_switches(int samples, int features, uint64_t seed) {
  std::vector<uint8_t> switches(static_cast<size_t>(samples) * features, 1);
  std::mt19937_64 rng(seed);
  for (size_t i = features; i < switches.size(); ++i) switches[i] = static_cast<uint8_t>(rng() >> 63);
  return switches;
}

MaskWriter with_original_first(MaskWriter masks, size_t pixels) {
  return [masks = std::move(masks), pixels](int first, int count, float* out) {
    int s = 0;
    if (first == 0 && count > 0) {
      std::fill(out, out + pixels, 1.0f);
      s = 1;
    }
    if (count > s) masks(first + s - 1, count - s, out + static_cast<size_t>(s) * pixels);
  };
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

void host_batch_out_of_memory(int images, int height, int width) {
  throw DeviceMemoryError("out of memory holding " + std::to_string(images) + " image(s) of " + std::to_string(height) +
                          "x" + std::to_string(width) + " for one pass on the host: lower " +
                          setting_name("probe_batch") + " (or " + setting_name("batch_size") + ")");
}

MaskedProbabilities masked_probabilities(const Classifier& classify, const InputBlob& original, const InputBlob& fill,
                                         int samples, const MaskWriter& masks, int batch_size, BatchTuner* tuner) {
  return masked_probabilities(classify, PerturbationBase{original, fill, {}}, samples, masks, batch_size, tuner);
}

MaskedProbabilities masked_probabilities(const Classifier& classify, const PerturbationBase& base, int samples,
                                         const MaskWriter& masks, int batch_size, BatchTuner* tuner,
                                         const BatchObserver& observe) {
  if (batch_size < 0) throw usage_error(setting_name("probe_batch") + " must be positive");
  if (batch_size == 0 && !tuner) batch_size = kDefaultProbeBatch;
  const InputBlob& original = base.original;
  const bool per_mask = static_cast<bool>(base.mask_fill);
  if (!per_mask && original.values.size() != base.fill.values.size())
    throw Error(ExitCode::internal, "fill and image differ in size");
  const size_t plane = static_cast<size_t>(original.height) * original.width;
  const size_t per_image = plane * original.channels;
  std::vector<float> difference(per_image);
  if (!per_mask)
    for (size_t i = 0; i < per_image; ++i) difference[i] = original.values[i] - base.fill.values[i];

  MaskedProbabilities out;
  const int largest = std::max(1, std::min(batch_size > 0 ? batch_size : tuner->largest(), samples));
  // A fixed fill is composed where the model runs when the classifier can (its on_base); a fill that
  // depends on each mask (inpainting) is made here, so its images are too.
  const MaskClassifier classify_masks = !per_mask && classify.on_base ? classify.on_base(original, base.fill) : nullptr;
  std::vector<float> mask, images;
  resize_batch_buffer(mask, static_cast<size_t>(largest) * plane, largest, original.height, original.width);
  if (!classify_masks)
    resize_batch_buffer(images, static_cast<size_t>(largest) * per_image, largest, original.height, original.width);
  std::vector<float> sample_fill(per_mask ? per_image : 0);
  for (int first = 0, count = 0; first < samples; first += count) {
    count = std::min({batch_size > 0 ? batch_size : tuner->next(), samples - first, largest});
    masks(first, count, mask.data());
    for (int s = 0; s < count && !classify_masks; ++s) {
      const float* m = mask.data() + s * plane;
      float* image = images.data() + s * per_image;
      if (per_mask) {
        base.mask_fill(m, sample_fill.data());
        for (size_t i = 0; i < per_image; ++i) difference[i] = original.values[i] - sample_fill[i];
      }
      const float* fill = per_mask ? sample_fill.data() : base.fill.values.data();
      for (int c = 0; c < original.channels; ++c) {
        const float* f = fill + c * plane;
        const float* d = difference.data() + c * plane;
        float* dst = image + c * plane;
        for (size_t p = 0; p < plane; ++p) dst[p] = f[p] + m[p] * d[p];
      }
    }
    std::vector<double> probabilities;
    if (!run_timed_pass(batch_size > 0 ? nullptr : tuner, count, out.model_ms, [&] {
          probabilities = classify_masks ? classify_masks(count, mask.data())
                                         : classify.images(ImageBatch{count, original.channels, original.height,
                                                                      original.width, images.data()});
        })) {
      count = 0;  // the tuner's size did not fit on the device: these samples run again below it
      continue;
    }
    if (count == 0 || probabilities.size() % static_cast<size_t>(count) != 0)
      throw Error(ExitCode::internal, "classifier returned a ragged batch");
    const int classes = static_cast<int>(probabilities.size() / count);
    if (out.classes == 0) out.classes = classes;
    if (observe) observe(first, count, mask.data(), probabilities.data(), classes);
    out.values.insert(out.values.end(), probabilities.begin(), probabilities.end());
  }
  return out;
}

}  // namespace xai
