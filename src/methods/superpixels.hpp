// Regions that the perturbation methods (LIME, Kernel SHAP, Partition SHAP) switch on and off: SLIC
// superpixels, or a region map the user supplies.
#pragma once

#include <opencv2/core.hpp>
#include <optional>
#include <string>
#include <vector>

#include "xai/image.hpp"
#include "xai/settings.hpp"

namespace xai {

// Region counts for LIME and SHAP: more than kManyRegions gets a warning (slow, many samples needed),
// more than kMaxRegions is refused (9216 regions made LIME run minutes without a word).
constexpr int kManyRegions = 500;
constexpr int kMaxRegions = 2048;

SuperpixelAlgorithm parse_superpixel_algorithm(const std::string& name);  // throws usage_error
std::string to_string(SuperpixelAlgorithm algorithm);

// Colour images are segmented in CIE Lab, where a compactness of 10 balances colour against
// distance; gray images have one channel of small contrast (X-ray, MRI), so the spatial term
// would dominate and give square tiles: they get a much lower default.
float default_compactness(int channels);

// Labels 0..n-1 (CV_32SC1) for `image`: CV_32FC1 or CV_32FC3 (BGR) in [0,1].
// Throws usage_error when the image is too small for the requested number of segments.
cv::Mat compute_superpixels(const cv::Mat& image, const SuperpixelOptions& options);

// A user's region map (8- or 16-bit single-channel PNG, one value per region) of the original
// image's size, relabelled 0..n-1. Throws input_error for a wrong size or a single region.
cv::Mat load_regions(const std::string& path, const cv::Size& expected_size);
// The same from the file's bytes (`name` in messages).
cv::Mat decode_regions(const std::string& bytes, const std::string& name, const cv::Size& expected_size);

// Relabels any integer label map to consecutive labels 0..n-1 in order of first appearance.
cv::Mat relabel_consecutive(const cv::Mat& labels, int* count = nullptr);

int label_count(const cv::Mat& labels);  // max label + 1

// The segment labels resized (nearest neighbour) to another size, e.g. the original image's.
cv::Mat segments_at_size(const cv::Mat& segments, const cv::Size& size);

// The regions a perturbation method switches, at the model's input size: the user's region map
// (`regions_path`, read at the original image's size `image_size`, cut to the part the model sees
// (`visible`, preprocess.hpp's visible_region) and resized) or superpixels of `view` (the model's
// view, RGB or gray in [0,1]). Labels 0..n-1, CV_32SC1. Appends a warning when regions vanish or
// there are more than kManyRegions; throws usage_error above kMaxRegions.
cv::Mat explanation_regions(const cv::Size& image_size, const cv::Rect& visible, const cv::Mat& view, const SuperpixelOptions& superpixels,
                            const std::string& regions_path, std::vector<std::string>& warnings);

// Per-pixel map from per-segment values (CV_32FC1, the size of `segments`).
cv::Mat segment_value_map(const cv::Mat& segments, const std::vector<double>& values);

}  // namespace xai
