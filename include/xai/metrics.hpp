// How well an explanation map agrees with a ground-truth mask (lesion, nuclei, organ).
// Every function is defined for empty masks and constant maps: no NaN, ever.
#pragma once

#include <opencv2/core.hpp>
#include <vector>

namespace xai {

struct MaskAgreement {
  bool pointing_hit = false;  // the map's maximum lies inside the mask (false for a constant map)
  double energy_inside = 0;   // Σ map inside the mask / Σ map (0 when the map sums to 0)
  double iou_top = 0;         // IoU of the top `top_fraction` pixels of the map with the mask
  double top_fraction = 0.2;
  bool mask_empty = false;    // nothing to point at: callers usually leave such images out
  bool map_constant = false;  // no maximum to speak of
};

// `map`: CV_32FC1, non-negative; `mask`: CV_8UC1 (non-zero = inside), same size as `map`.
MaskAgreement mask_agreement(const cv::Mat& map, const cv::Mat& mask, double top_fraction = 0.2);

// Pixels at or above the (1 - fraction) quantile of the map (at least one pixel), as CV_8UC1 0/255.
// Ties at the map's minimum are left out unless the map is constant (then every pixel is "top").
cv::Mat top_fraction_mask(const cv::Mat& map, double fraction);

// Spearman rank correlation (ties get their mean rank); 0 when either side is constant.
double spearman(const std::vector<double>& a, const std::vector<double>& b);

// IoU of the two maps' top-fraction pixels (same size, CV_32FC1).
double top_fraction_iou(const cv::Mat& a, const cv::Mat& b, double fraction = 0.2);

}  // namespace xai
