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

// IoU of the two maps' top-fraction pixels (same size, CV_32FC1).
double top_fraction_iou(const cv::Mat& a, const cv::Mat& b, double fraction = 0.2);

// Mean structural similarity (Wang et al. 2004) of two maps with values in [0, 1] (same size,
// CV_32FC1): an 11-tap Gaussian window (σ 1.5), K1 0.01, K2 0.03, data range 1, population
// covariances, reflected borders, averaged away from a 5-pixel border; scikit-image's
// structural_similarity(gaussian_weights=True, use_sample_covariance=False, data_range=1).
double structural_similarity(const cv::Mat& a, const cv::Mat& b);

// How alike two maps of one image are (same size, CV_32FC1), on at most 128 pixels a side (enough for
// maps from coarse grids; rank statistics over millions of pixels would cost seconds): Spearman ρ of
// the values, SSIM of the values each scaled to [0, 1] by their own minimum and maximum, IoU of the
// top-fraction pixels. `absolute`: of |values| (a sanity check asks whether the evidence moved, not
// its sign). Identical maps are alike (ρ 1) even when constant.
struct MapSimilarity {
  double spearman = 0, ssim = 0, iou_top = 0;
};
MapSimilarity map_similarity(const cv::Mat& a, const cv::Mat& b, double top_fraction, bool absolute);

}  // namespace xai
