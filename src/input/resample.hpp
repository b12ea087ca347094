// Resizing as PIL's Image.resize does it, which is what torchvision's Resize does to the PIL images
// a training pipeline reads: a separable filter whose support widens with the shrink factor (so
// shrinking averages, as the area filter does), centres at half pixels. Matching it pixel for pixel
// is what makes a model's probabilities here equal the ones it had in training.
#pragma once

#include <opencv2/core.hpp>

namespace xai {

enum class ResampleFilter { bilinear, bicubic };  // PIL's BILINEAR (triangle) and BICUBIC (a = -0.5)

// `image`: CV_8UC1/CV_8UC3 — bit-exact with PIL's 8-bit path (22-bit fixed-point coefficients,
// horizontal pass first, rounded to 8 bits between the passes); or CV_32FC1/CV_32FC3 — the same
// filter in double precision with no rounding (PIL's mode "F"). Channels are filtered independently.
cv::Mat resample_like_pil(const cv::Mat& image, const cv::Size& size, ResampleFilter filter);

}  // namespace xai
