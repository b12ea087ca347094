// LIME for images (Ribeiro et al., 2016), reproducing the reference `lime_image` explainer:
// superpixels switched on/off at random, the model's probabilities on each perturbed image,
// and a weighted ridge surrogate whose coefficients are the superpixels' importances.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "methods/adaptive_sampling.hpp"
#include "xai/image.hpp"
#include "xai/model.hpp"
#include "methods/perturbation.hpp"
#include "methods/superpixels.hpp"
#include "methods/target.hpp"
#include "xai/settings.hpp"

namespace xai {

struct LimeClassResult {
  int class_index = 0;
  double intercept = 0;
  std::vector<double> weights;  // one per superpixel
  double r2 = 0;                // weighted R² of the surrogate on the samples
  double local_prediction = 0;  // the surrogate's prediction for the unperturbed image
  double model_probability = 0;  // the model's probability for the unperturbed image
};

struct LimeStability {
  int repeats = 0;
  double mean_spearman = 0;     // mean pairwise Spearman ρ of the superpixel weights
  double mean_top5_jaccard = 0;  // mean pairwise Jaccard index of the 5 highest-weighted superpixels
};

struct LimeExplanation {
  Prediction prediction;
  cv::Mat segments;  // CV_32SC1 labels 0..n-1 at the model's input resolution
  int segment_count = 0;
  std::vector<LimeClassResult> classes;  // in target order
  std::optional<LimeStability> stability;
  SamplingOutcome sampling;  // of the first run (seed `seed`)
  std::vector<std::string> warnings;
  double model_ms = 0;  // time spent in forward passes
  long long model_images = 0;  // perturbed images classified, every repeat included
};

// `view` is the image as the model sees it (model_view); `image` is the original (for --regions).
LimeExplanation explain_lime(Model& model, const Image& image, const cv::Mat& view, const LimeOptions& options);
LimeExplanation explain_lime(Model& model, const Image& image, const LimeOptions& options);

// Building blocks, exposed for tests against the reference formulas.
// Cosine distance of each row to the all-on row (sklearn's convention: an all-off row is at 1).
std::vector<double> cosine_distances_to_original(const std::vector<uint8_t>& switches, int samples, int features);
// sqrt(exp(-d² / width²))
double lime_kernel(double distance, double width);
// Mean Spearman ρ and top-5 Jaccard over all pairs of weight vectors.
LimeStability stability_of(const std::vector<std::vector<double>>& weight_sets);

}  // namespace xai
