// Attributions from the gradient of the target score with respect to the input: Integrated
// Gradients (Sundararajan, Taly & Yan 2017) and SmoothGrad (Smilkov et al. 2017). The score is the
// target's logit, as Grad-CAM's (a single-logit binary model's negative class: the negated logit).
#pragma once

#include <cstdint>
#include <functional>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "methods/perturbation.hpp"
#include "xai/settings.hpp"

namespace xai {

class BatchTuner;
class Model;

Baseline parse_baseline(const std::string& name);  // throws usage_error
std::string to_string(Baseline baseline);

// The baseline image in the model's view (RGB or gray, [0,1]).
cv::Mat baseline_view(const cv::Mat& view, Baseline baseline);

// Trapezoidal rule on `steps` evenly spaced points of [0, 1] (captum's riemann_trapezoid): the
// points k/(steps−1) and weights 1/(steps−1), halved at both ends. Throws usage_error below 2.
std::vector<double> trapezoid_weights(int steps);

// Scores of `classes[i]` for image i of a batch and their gradients with respect to the input
// (count × channels × height × width).
struct ScoreGradients {
  std::vector<double> scores;
  std::vector<float> gradients;
};
struct ScoreGradient {
  std::function<ScoreGradients(const ImageBatch& batch, const std::vector<int>& classes)> run;
  // Chooses the images per pass when the options leave it open (batch size 0); none: kDefaultGradientBatch.
  BatchTuner* tuner = nullptr;
  ScoreGradients operator()(const ImageBatch& batch, const std::vector<int>& classes) const { return run(batch, classes); }
};
ScoreGradient model_score_gradient(Model& model);  // with the model's gradient_batch_tuner
constexpr int kDefaultGradientBatch = 16;

struct InputAttribution {
  cv::Mat pixels;            // CV_32FC1 height × width: the channels summed, sign kept
  double total = 0;          // Σ over every pixel and channel
  double score = 0;          // the score at the input
  double baseline_score = 0; // Integrated Gradients: the score at the baseline
  double model_ms = 0;
  long long gradient_images = 0;  // images through forward + backward
};

// Integrated Gradients of `cls` from `baseline` to `input` (both normalised, the same layout):
// (x − x') ⊙ Σ_k w_k ∇f(x' + α_k (x − x')). Completeness: total ≈ score − baseline_score.
InputAttribution integrated_gradients(const ScoreGradient& gradient, const InputBlob& input, const InputBlob& baseline,
                                      int cls, const GradientOptions& options);

// SmoothGrad of `cls`: the mean gradient over `samples` copies of the input with Gaussian noise of
// σ = noise × (max − min of the input), seeded.
InputAttribution smoothgrad(const ScoreGradient& gradient, const InputBlob& input, int cls,
                            const GradientOptions& options, uint64_t seed);

}  // namespace xai
