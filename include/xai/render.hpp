// Turning [0,1] maps into pictures: colour maps, overlays on the original image, PNG bytes.
#pragma once

#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace xai {

enum class Colormap { jet, turbo, viridis, inferno };

Colormap parse_colormap(const std::string& name);  // throws usage_error
std::string to_string(Colormap colormap);
std::vector<std::string> colormap_names();

// 8-bit BGR colours for a CV_32FC1 map in [0,1].
cv::Mat colorize(const cv::Mat& map, Colormap colormap);

// (1 - alpha) * image + alpha * colour(map); `map` must have the image's size; `image` is 8-bit BGR.
cv::Mat overlay(const cv::Mat& image_bgr, const cv::Mat& map, Colormap colormap, double alpha);

// PNG file bytes (throws output_error naming `what` when encoding fails).
std::string encode_png(const cv::Mat& image, const std::string& what);

}  // namespace xai
