// Internal: the pieces every input-gradient method is made of (gradient_attribution.cpp and the
// gradient methods' own files): batched forward + backward passes over generated images, channel sums,
// seeded Gaussian noise, and the loop over images and target classes of a registry entry.
#pragma once

#include <algorithm>
#include <cstdint>
#include <opencv2/core.hpp>
#include <opencv2/core/utility.hpp>
#include <utility>
#include <vector>

#include "methods/method_adapters.hpp"
#include "model/batch_tuner.hpp"
#include "xai/error.hpp"
#include "methods/gradient_attribution.hpp"

namespace xai {

// Runs `count` images produced by `make(i, dst)` through forward + backward, `batch` at a time (0: as
// many as the gradient's tuner chooses, measured on these passes), and hands each image's gradient and
// score to `take(i, gradient, score)`, in order. `make` is called for a batch's images side by side, so
// it must only write image i's own state (generating noisy copies on one thread took longer than a
// GPU's forward + backward of them), and may be called again for the same i: a tuner's size that runs
// out of the device's memory is dropped and its images made and run again at a smaller one.
template <typename Make, typename Take>
void gradients_of(const ScoreGradient& gradient, const InputBlob& like, int cls, int count, int batch,
                  InputAttribution& out, Make make, Take take) {
  if (batch < 0) throw usage_error(setting_name("probe_batch") + " must be positive");
  BatchTuner* tuner = batch == 0 ? gradient.tuner : nullptr;
  if (batch == 0 && !tuner) batch = kDefaultGradientBatch;
  const size_t per_image = like.values.size();
  std::vector<float> images;
  for (int first = 0, n = 0; first < count; first += n) {
    n = std::min(tuner ? tuner->next() : batch, count - first);
    resize_batch_buffer(images, static_cast<size_t>(n) * per_image, n, like.height, like.width);
    cv::parallel_for_(cv::Range(0, n), [&](const cv::Range& range) {
      for (int i = range.start; i < range.end; ++i) make(first + i, images.data() + i * per_image);
    });
    ScoreGradients g;
    if (!run_timed_pass(tuner, n, out.model_ms, [&] {
          g = gradient(ImageBatch{n, like.channels, like.height, like.width, images.data()}, std::vector<int>(n, cls));
        })) {
      n = 0;
      continue;
    }
    out.gradient_images += n;
    for (int i = 0; i < n; ++i) take(first + i, g.gradients.data() + i * per_image, g.scores.at(i));
  }
}

// Σ over channels of values (CHW) → CV_32FC1 height × width, and the grand total.
cv::Mat channel_sum(const std::vector<double>& chw, const InputBlob& like, double& total);

// dst = input + N(0, σ²) per value, from draw number `draw` of the stream `seed` (the same values for
// the same seed and draw, whatever the batch).
void add_gaussian_noise(const std::vector<float>& input, double sigma, uint64_t seed, uint64_t draw, float* dst);

// A registry entry's loop: every image, every target class, one signed per-pixel map each from
// `attribute(gradient, image, cls)` → {InputAttribution, the map's details}.
template <typename Attribute>
std::vector<MethodResult> attribute_each(const std::string& name, Model& model,
                                         const std::vector<const PreparedImage*>& images,
                                         const ExplainOptions& options, Attribute attribute) {
  const ScoreGradient gradient = model_score_gradient(model);
  return each_image(name, images, [&](const PreparedImage& image, MethodResult& r) {
    const ImageTargets targets = image_targets(model, image, options, false);
    r.prediction = targets.prediction;
    for (int cls : targets.classes) {
      const auto [a, details] = attribute(gradient, image, cls);
      DenseMap m;
      m.class_index = cls;
      m.is_signed = true;
      m.values = a.pixels;
      m.details = details;
      r.model_ms += a.model_ms;
      r.model_images += a.gradient_images;
      r.gradient_images += a.gradient_images;
      r.maps.push_back(std::move(m));
    }
  });
}

}  // namespace xai
