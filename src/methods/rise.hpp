// RISE (Petsiuk, Das & Saenko 2018): N random binary grids of s×s cells, each cell kept with
// probability p, upsampled bilinearly to (s+1)·cell and cropped at a random shift; the saliency of a
// class is Σ_i f(I ⊙ M_i) M_i / (N p).
#pragma once

#include <cstdint>
#include <opencv2/core.hpp>
#include <vector>

#include "methods/perturbation.hpp"
#include "xai/settings.hpp"

namespace xai {

void validate(const RiseOptions& options, const cv::Size& size);  // throws usage_error

// Mask `index` of a run (CV_32FC1 in [0,1], `size`): a function of (seed, index) alone, so batching
// never changes a result.
cv::Mat rise_mask(const cv::Size& size, const RiseOptions& options, uint64_t seed, int index);
// The same into `mask` (size.area() values, row-major).
void write_rise_mask(const cv::Size& size, const RiseOptions& options, uint64_t seed, int index, float* mask);

MaskWriter rise_masks(const cv::Size& size, const RiseOptions& options, uint64_t seed);

}  // namespace xai
