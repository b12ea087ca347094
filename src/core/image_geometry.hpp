// Sizes and reductions of images and maps that every layer shares (analysis compares reduced maps,
// output draws reduced figures).
#pragma once

#include <opencv2/core.hpp>

namespace xai {

// `size` scaled so that its longer side is `longest`, each side at least 1 pixel (a 1x100000 image
// scaled by a factor would get a side of 0, which cv::resize refuses).
cv::Size fitted_size(const cv::Size& size, int longest);
// `image` reduced to at most `longest` pixels on its longer side (unchanged when it fits).
cv::Mat shrink_to_fit(const cv::Mat& image, int longest, int interpolation);

}  // namespace xai
