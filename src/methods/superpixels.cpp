#include "methods/superpixels.hpp"

#include <cmath>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/ximgproc/slic.hpp>
#include <unordered_map>

#include "xai/error.hpp"
#include "xai/image.hpp"

namespace xai {

SuperpixelAlgorithm parse_superpixel_algorithm(const std::string& name) {
  if (name == "slic") return SuperpixelAlgorithm::slic;
  if (name == "slico") return SuperpixelAlgorithm::slico;
  if (name == "mslic") return SuperpixelAlgorithm::mslic;
  throw usage_error(setting_name("superpixels") + " " + name + ": expected slic, slico or mslic");
}

std::string to_string(SuperpixelAlgorithm algorithm) {
  switch (algorithm) {
    case SuperpixelAlgorithm::slic: return "slic";
    case SuperpixelAlgorithm::slico: return "slico";
    case SuperpixelAlgorithm::mslic: return "mslic";
  }
  return "slic";
}

float default_compactness(int channels) { return channels == 1 ? 2.0f : 10.0f; }

cv::Mat relabel_consecutive(const cv::Mat& labels, int* count) {
  CV_Assert(labels.channels() == 1);
  cv::Mat input;
  labels.convertTo(input, CV_32S);
  cv::Mat out(input.size(), CV_32SC1);
  std::unordered_map<int, int> mapping;
  for (int y = 0; y < input.rows; ++y) {
    const int* src = input.ptr<int>(y);
    int* dst = out.ptr<int>(y);
    for (int x = 0; x < input.cols; ++x) {
      auto it = mapping.find(src[x]);
      if (it == mapping.end()) it = mapping.emplace(src[x], static_cast<int>(mapping.size())).first;
      dst[x] = it->second;
    }
  }
  if (count) *count = static_cast<int>(mapping.size());
  return out;
}

int label_count(const cv::Mat& labels) {
  double lo, hi;
  cv::minMaxLoc(labels, &lo, &hi);
  return static_cast<int>(hi) + 1;
}

cv::Mat compute_superpixels(const cv::Mat& image, const SuperpixelOptions& options) {
  CV_Assert(image.depth() == CV_32F && (image.channels() == 1 || image.channels() == 3));
  if (options.segments < 2) throw usage_error(setting_name("segments") + " must be at least 2");
  const double area = static_cast<double>(image.rows) * image.cols;
  const int region_size = static_cast<int>(std::lround(std::sqrt(area / options.segments)));
  if (region_size < 3)
    throw usage_error("image of " + std::to_string(image.cols) + "x" + std::to_string(image.rows) +
                      " pixels is too small for " + std::to_string(options.segments) +
                      " segments (each would be under 3x3 pixels)");

  cv::Mat features;
  if (image.channels() == 3)
    cv::cvtColor(image, features, cv::COLOR_BGR2Lab);  // L in [0,100], a/b in about [-127,127]
  else
    features = image * 100.0;  // the same scale as Lab's L
  const float compactness = options.compactness.value_or(default_compactness(image.channels()));
  const int algorithm = options.algorithm == SuperpixelAlgorithm::slic    ? cv::ximgproc::SLIC
                        : options.algorithm == SuperpixelAlgorithm::slico ? cv::ximgproc::SLICO
                                                                          : cv::ximgproc::MSLIC;
  auto slic = cv::ximgproc::createSuperpixelSLIC(features, algorithm, region_size, compactness);
  slic->iterate(options.iterations);
  // Tiny fragments would be features no perturbation can meaningfully switch.
  slic->enforceLabelConnectivity(25);
  cv::Mat labels;
  slic->getLabels(labels);
  int count = 0;
  cv::Mat consecutive = relabel_consecutive(labels, &count);
  if (count < 2)
    throw usage_error("superpixel segmentation produced a single region; lower " + setting_name("compactness"));
  return consecutive;
}

cv::Mat load_regions(const std::string& path, const cv::Size& expected_size) {
  return decode_regions(read_image_bytes(path), path, expected_size);
}

cv::Mat decode_regions(const std::string& bytes, const std::string& path, const cv::Size& expected_size) {
  const cv::Mat raw = decode_pixels(bytes, path).pixels;
  if (raw.depth() != CV_8U && raw.depth() != CV_16U)
    throw input_error(path + ": region map must hold 8- or 16-bit integer labels");
  if (raw.channels() != 1)
    throw input_error(path + ": region map must be single-channel (one label value per region)");
  if (raw.size() != expected_size)
    throw input_error(path + ": region map is " + std::to_string(raw.cols) + "x" + std::to_string(raw.rows) +
                      ", the image is " + std::to_string(expected_size.width) + "x" +
                      std::to_string(expected_size.height));
  int count = 0;
  cv::Mat labels = relabel_consecutive(raw, &count);
  if (count < 2) throw input_error(path + ": region map has a single region; LIME needs at least 2");
  return labels;
}

cv::Mat segments_at_size(const cv::Mat& segments, const cv::Size& size) {
  if (segments.size() == size) return segments.clone();
  cv::Mat as_float, resized, labels;
  segments.convertTo(as_float, CV_32F);  // exact for labels below 2^24
  cv::resize(as_float, resized, size, 0, 0, cv::INTER_NEAREST);
  resized.convertTo(labels, CV_32S);
  return labels;
}

cv::Mat explanation_regions(const cv::Size& image_size, const cv::Rect& visible, const cv::Mat& view, const SuperpixelOptions& superpixels,
                            const std::string& regions_path, std::vector<std::string>& warnings) {
  const auto within_limit = [&](cv::Mat segments, const std::string& source) {
    const int count = label_count(segments);
    if (count > kMaxRegions)
      throw usage_error(source + ": " + std::to_string(count) + " regions, over the " + std::to_string(kMaxRegions) +
                        " that LIME and SHAP accept (each sample is a vector over the regions and the fit is "
                        "regions x regions); merge regions or ask for fewer");
    if (count > kManyRegions)
      warnings.push_back(std::to_string(count) + " regions: the weights of so many need many samples (" +
                         setting_name("samples") + " auto says when they settle) and the run takes long");
    return segments;
  };
  if (!regions_path.empty()) {
    cv::Mat regions = load_regions(regions_path, image_size);
    if (!visible.empty() && visible.size() != image_size) regions = regions(visible).clone();
    int before = label_count(regions), after = 0;
    cv::Mat segments = relabel_consecutive(segments_at_size(regions, view.size()), &after);
    if (after < before)
      warnings.push_back(std::to_string(before - after) +
                         " region(s) vanished when the region map was resized to the model's input");
    if (after < 2) throw input_error(regions_path + ": fewer than 2 regions remain at the model's input size");
    return within_limit(segments, setting_name("regions_path") + " " + regions_path);
  }
  cv::Mat bgr;  // a new buffer: converting into a header that shares `view` would swap its channels
  if (view.channels() == 3)
    cv::cvtColor(view, bgr, cv::COLOR_RGB2BGR);
  else
    bgr = view;
  return within_limit(compute_superpixels(bgr, superpixels),
                     setting_name("segments") + " " + std::to_string(superpixels.segments));
}

cv::Mat segment_value_map(const cv::Mat& segments, const std::vector<double>& values) {
  CV_Assert(segments.type() == CV_32SC1);
  cv::Mat map(segments.size(), CV_32FC1);
  for (int y = 0; y < segments.rows; ++y)
    for (int x = 0; x < segments.cols; ++x) map.at<float>(y, x) = static_cast<float>(values.at(segments.at<int>(y, x)));
  return map;
}

}  // namespace xai
