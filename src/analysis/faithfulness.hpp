// Does a map reflect what the model uses? Deletion and insertion curves (Petsiuk et al. 2018, RISE):
// the model's view loses (deletion) or gains (insertion) its pixels in the order of the map's value,
// most important first, in `steps` equal parts, and the target class's probability is read after each.
// A faithful map makes the probability fall fast (low deletion area) and rise fast (high insertion
// area). The same curves for a seeded random order make "better than random" a number. Built on the
// perturbation core: the removed pixels show the fill (the image's mean colour by default), batched.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <vector>

#include "methods/perturbation.hpp"
#include "xai/settings.hpp"

namespace xai {

struct FaithfulnessCurve {
  std::vector<double> probabilities;  // steps + 1 values, at fractions k / steps
  double auc = 0;                     // trapezoid over the fraction axis [0, 1]
};

struct Faithfulness {
  FaithfulnessCurve deletion, insertion;                // in the map's order
  FaithfulnessCurve random_deletion, random_insertion;  // in a seeded random order
  int steps = 0;
  nlohmann::ordered_json to_json() const;
};

// Each pixel's rank in the removal order (0 = first removed): by map value, highest first; ties in
// a seeded random order, so a constant map is a random order, never a raster scan. `map`: CV_32FC1.
std::vector<int> removal_ranks(const cv::Mat& map, uint64_t seed);

// Pixels removed (deletion) or shown (insertion) after step k of `steps`: round(k · pixels / steps).
int pixels_at_step(int step, int steps, int pixels);

// Trapezoid area of values at equally spaced fractions 0..1.
double curve_area(const std::vector<double>& values);

// The random order's curves depend on the image, the class and the options, not on the map: one pair
// serves every map (method, layer) of that image and class.
struct RandomOrderCurves {
  FaithfulnessCurve deletion, insertion;
};

// The four curves for `map` (the model's view's size, CV_32FC1; signed maps rank positive evidence
// first) and class `class_index`, through `classify` on `base` (the view and what removed pixels
// show): 4 × (steps + 1) images, or 2 × (steps + 1) when `known_random` holds the random order's
// curves from an earlier map of the same image and class. Throws usage_error for steps < 1.
Faithfulness measure_faithfulness(const Classifier& classify, const PerturbationBase& base, const cv::Mat& map,
                                  int class_index, const FaithfulnessOptions& options, BatchTuner* tuner = nullptr,
                                  const RandomOrderCurves* known_random = nullptr);

}  // namespace xai
