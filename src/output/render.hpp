// Turning [0,1] maps into pictures: colour maps, overlays on the original image, PNG bytes.
#pragma once

#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "xai/settings.hpp"

namespace xai {

Colormap parse_colormap(const std::string& name);  // throws usage_error
std::string to_string(Colormap colormap);
std::vector<std::string> colormap_names();
SignedColormap parse_signed_colormap(const std::string& name);  // throws usage_error
std::string to_string(SignedColormap colormap);
std::vector<std::string> signed_colormap_names();
// The colours of the two signs (8-bit BGR).
cv::Vec3b positive_colour(SignedColormap colormap);
cv::Vec3b negative_colour(SignedColormap colormap);

Background parse_background(const std::string& name);  // throws usage_error
std::string to_string(Background background);
cv::Mat overlay_background(const cv::Mat& display_bgr, Background background);

// The smallest whole factor that brings the shorter side of `size` to at least `minimum` (1 when it
// is there already, or when minimum <= 0): small inputs (a 96-px patch) are drawn legibly, each
// pixel a block of factor x factor, never smoothed (enlarge()). The longer side is never enlarged past
// 4 x minimum: a 2000x1 image stays 2000x1 (enlarged to 384 rows it took 885 MB per overlay).
int enlargement_factor(const cv::Size& size, int minimum);
cv::Mat enlarge(const cv::Mat& image, int factor);

// 8-bit BGR colours for a CV_32FC1 map in [0,1].
cv::Mat colorize(const cv::Mat& map, Colormap colormap);

// (1 - alpha) * image + alpha * colour(map); `map` must have the image's size; `image` is 8-bit BGR.
cv::Mat overlay(const cv::Mat& image_bgr, const cv::Mat& map, Colormap colormap, double alpha);

// Signed values over the image in the colours of `colormap` (positive_colour, negative_colour), opacity
// 0.6 * |value| / scale (capped at 0.6).
cv::Mat render_signed_map(const cv::Mat& image_bgr, const cv::Mat& values, double scale, SignedColormap colormap);
// The 99.5th percentile of |values| (their largest when that is 0): a scale a few extreme pixels of
// a gradient map do not wash out.
double robust_magnitude(const cv::Mat& values);

// LIME's signed superpixel weights over the image as render_signed_map draws values, opacity by
// |weight| relative to `limit` (0: the largest |weight|), superpixel boundaries in yellow. `segments`
// (CV_32SC1) has the image's size; `weights` has one entry per label.
cv::Mat render_signed_segments(const cv::Mat& image_bgr, const cv::Mat& segments, const std::vector<double>& weights,
                               double limit, SignedColormap colormap);

// The `count` superpixels with the largest positive weights shown as they are, the rest dimmed
// (the reference's get_image_and_mask(positive_only=True, num_features=count, hide_rest=True));
// `negative`: the `count` most negative instead (negative_only=True), outlined in cyan, which stays
// visible on dark images (MRI) and on pink stain alike.
cv::Mat render_top_segments(const cv::Mat& image_bgr, const cv::Mat& segments, const std::vector<double>& weights,
                            int count = 5, bool negative = false);

// PNG file bytes (throws output_error naming `what` when encoding fails).
std::string encode_png(const cv::Mat& image, const std::string& what);

}  // namespace xai
