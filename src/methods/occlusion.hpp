// Occlusion (Zeiler & Fergus 2014; captum's `Occlusion`): a window slid over the image, each
// position hidden in turn; a pixel's value is the mean drop of the target probability over the
// windows that cover it.
#pragma once

#include <opencv2/core.hpp>
#include <vector>

#include "methods/perturbation.hpp"
#include "xai/settings.hpp"

namespace xai {

// The window and stride for an image of `size` (defaults resolved); throws usage_error for a window
// larger than the image or a non-positive value.
OcclusionOptions resolve_occlusion(const OcclusionOptions& options, const cv::Size& size);

// Window positions at 0, stride, 2·stride, ... along each axis, plus one flush with the far edge when
// the stride does not land there, so that every pixel is covered (captum leaves the remainder at 0).
std::vector<cv::Rect> occlusion_windows(const cv::Size& size, int window, int stride);

// Masks for sample s = window s (0 inside the window, 1 elsewhere).
MaskWriter window_masks(const std::vector<cv::Rect>& windows, const cv::Size& size);

// Per-pixel mean of `drops[w]` over the windows that cover the pixel (CV_32FC1).
cv::Mat occlusion_map(const std::vector<cv::Rect>& windows, const std::vector<double>& drops, const cv::Size& size);

}  // namespace xai
