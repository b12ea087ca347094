#include "output/render.hpp"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/image_geometry.hpp"
#include "xai/error.hpp"
#include "methods/superpixels.hpp"
#include "output/figure.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace xai {
namespace {

struct NamedColormap {
  Colormap colormap;
  const char* name;
  int opencv_id;
};

constexpr NamedColormap kColormaps[] = {
    {Colormap::jet, "jet", cv::COLORMAP_JET},
    {Colormap::turbo, "turbo", cv::COLORMAP_TURBO},
    {Colormap::viridis, "viridis", cv::COLORMAP_VIRIDIS},
    {Colormap::inferno, "inferno", cv::COLORMAP_INFERNO},
};

struct NamedSignedColormap {
  SignedColormap colormap;
  const char* name;
  cv::Vec3b positive, negative;  // BGR
};

// Orange #e66101 and blue #2166ac (ColorBrewer PuOr's and RdBu's ends); red #b2182b (RdBu); the green
// and red xai drew before (LIME's convention).
const NamedSignedColormap kSignedColormaps[] = {
    {SignedColormap::orange_blue, "orange-blue", {1, 97, 230}, {172, 102, 33}},
    {SignedColormap::red_blue, "red-blue", {43, 24, 178}, {172, 102, 33}},
    {SignedColormap::red_green, "red-green", {0, 200, 0}, {0, 0, 220}},
};

const NamedSignedColormap& signed_entry(SignedColormap colormap) {
  for (const auto& c : kSignedColormaps)
    if (c.colormap == colormap) return c;
  return kSignedColormaps[0];
}

}  // namespace

SignedColormap parse_signed_colormap(const std::string& name) {
  for (const auto& c : kSignedColormaps)
    if (name == c.name) return c.colormap;
  throw usage_error(setting_name("colormap") + " " + name + ": expected orange-blue, red-blue or red-green");
}

std::string to_string(SignedColormap colormap) { return signed_entry(colormap).name; }

std::vector<std::string> signed_colormap_names() {
  std::vector<std::string> names;
  for (const auto& c : kSignedColormaps) names.push_back(c.name);
  return names;
}

cv::Vec3b positive_colour(SignedColormap colormap) { return signed_entry(colormap).positive; }
cv::Vec3b negative_colour(SignedColormap colormap) { return signed_entry(colormap).negative; }

Colormap parse_colormap(const std::string& name) {
  for (const auto& c : kColormaps)
    if (name == c.name) return c.colormap;
  throw usage_error(setting_name("colormap") + " " + name + ": expected jet, turbo, viridis or inferno");
}

std::string to_string(Colormap colormap) {
  for (const auto& c : kColormaps)
    if (c.colormap == colormap) return c.name;
  return "jet";
}

std::vector<std::string> colormap_names() {
  std::vector<std::string> names;
  for (const auto& c : kColormaps) names.push_back(c.name);
  return names;
}

Background parse_background(const std::string& name) {
  if (name == "image") return Background::image;
  if (name == "gray" || name == "grey") return Background::gray;
  throw usage_error(setting_name("background") + " " + name + ": expected image or gray");
}

std::string to_string(Background background) { return background == Background::gray ? "gray" : "image"; }

cv::Mat overlay_background(const cv::Mat& display_bgr, Background background) {
  if (background == Background::image) return display_bgr;
  cv::Mat luma, gray;
  cv::cvtColor(display_bgr, luma, cv::COLOR_BGR2GRAY);
  cv::cvtColor(luma, gray, cv::COLOR_GRAY2BGR);
  return gray;
}

int enlargement_factor(const cv::Size& size, int minimum) {
  const int shorter = std::min(size.width, size.height), longer = std::max(size.width, size.height);
  if (minimum <= 0 || shorter <= 0 || shorter >= minimum) return 1;
  // A thin image (2000x1) must not become 768000x384: the longer side stays within 4x the minimum.
  const int by_longer = std::max(1, 4 * minimum / longer);
  return std::min((minimum + shorter - 1) / shorter, by_longer);
}

cv::Mat enlarge(const cv::Mat& image, int factor) {
  if (factor <= 1) return image;
  cv::Mat out;
  cv::resize(image, out, cv::Size(image.cols * factor, image.rows * factor), 0, 0, cv::INTER_NEAREST);
  return out;
}

cv::Mat colorize(const cv::Mat& map, Colormap colormap) {
  CV_Assert(map.type() == CV_32FC1);
  cv::Mat levels, colours;
  map.convertTo(levels, CV_8UC1, 255.0);  // saturates: values are clamped into 0..255
  int id = cv::COLORMAP_JET;
  for (const auto& c : kColormaps)
    if (c.colormap == colormap) id = c.opencv_id;
  cv::applyColorMap(levels, colours, id);
  return colours;
}

cv::Mat overlay(const cv::Mat& image_bgr, const cv::Mat& map, Colormap colormap, double alpha) {
  CV_Assert(image_bgr.type() == CV_8UC3 && map.size() == image_bgr.size());
  cv::Mat blended;
  cv::addWeighted(image_bgr, 1.0 - alpha, colorize(map, colormap), alpha, 0.0, blended);
  return blended;
}

namespace {

// Pixels whose right or lower neighbour belongs to another segment.
cv::Mat segment_boundaries(const cv::Mat& segments) {
  cv::Mat edges = cv::Mat::zeros(segments.size(), CV_8UC1);
  for (int y = 0; y < segments.rows; ++y)
    for (int x = 0; x < segments.cols; ++x) {
      const int s = segments.at<int>(y, x);
      if ((x + 1 < segments.cols && segments.at<int>(y, x + 1) != s) ||
          (y + 1 < segments.rows && segments.at<int>(y + 1, x) != s))
        edges.at<uchar>(y, x) = 255;
    }
  return edges;
}

}  // namespace

cv::Mat render_signed_map(const cv::Mat& image_bgr, const cv::Mat& values, double scale, SignedColormap colormap) {
  CV_Assert(image_bgr.type() == CV_8UC3 && values.type() == CV_32FC1 && values.size() == image_bgr.size());
  cv::Mat out = image_bgr.clone();
  const cv::Vec3d positive = positive_colour(colormap), negative = negative_colour(colormap);
  for (int y = 0; y < out.rows; ++y)
    for (int x = 0; x < out.cols; ++x) {
      const double w = values.at<float>(y, x);
      const double strength = scale > 0 ? 0.6 * std::min(1.0, std::abs(w) / scale) : 0.0;
      const cv::Vec3d& colour = w >= 0 ? positive : negative;
      cv::Vec3b& p = out.at<cv::Vec3b>(y, x);
      for (int c = 0; c < 3; ++c) p[c] = cv::saturate_cast<uchar>((1 - strength) * p[c] + strength * colour[c]);
    }
  return out;
}

double robust_magnitude(const cv::Mat& values) {
  CV_Assert(values.type() == CV_32FC1);
  std::vector<float> magnitudes;
  magnitudes.reserve(values.total());
  for (int y = 0; y < values.rows; ++y)
    for (int x = 0; x < values.cols; ++x) magnitudes.push_back(std::abs(values.at<float>(y, x)));
  if (magnitudes.empty()) return 0;
  const size_t k = std::min(magnitudes.size() - 1, static_cast<size_t>(0.995 * magnitudes.size()));
  std::nth_element(magnitudes.begin(), magnitudes.begin() + k, magnitudes.end());
  const double q = magnitudes[k];
  return q > 0 ? q : *std::max_element(magnitudes.begin(), magnitudes.end());
}

cv::Mat render_signed_segments(const cv::Mat& image_bgr, const cv::Mat& segments, const std::vector<double>& weights,
                               double limit, SignedColormap colormap) {
  CV_Assert(image_bgr.type() == CV_8UC3 && segments.size() == image_bgr.size());
  double largest = 0;
  for (double w : weights) largest = std::max(largest, std::abs(w));
  cv::Mat out = render_signed_map(image_bgr, segment_value_map(segments, weights), limit > 0 ? limit : largest, colormap);
  out.setTo(cv::Scalar(0, 255, 255), segment_boundaries(segments));
  return out;
}

cv::Mat render_top_segments(const cv::Mat& image_bgr, const cv::Mat& segments, const std::vector<double>& weights,
                            int count, bool negative) {
  CV_Assert(image_bgr.type() == CV_8UC3 && segments.size() == image_bgr.size());
  std::vector<int> order(weights.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  const double sign = negative ? -1.0 : 1.0;
  std::sort(order.begin(), order.end(), [&](int a, int b) { return sign * weights[a] > sign * weights[b]; });
  std::vector<bool> shown(weights.size(), false);
  for (int i = 0; i < count && i < static_cast<int>(order.size()) && sign * weights[order[i]] > 0; ++i)
    shown[order[i]] = true;
  cv::Mat keep = cv::Mat::zeros(segments.size(), CV_8UC1);
  for (int y = 0; y < segments.rows; ++y)
    for (int x = 0; x < segments.cols; ++x) keep.at<uchar>(y, x) = shown[segments.at<int>(y, x)] ? 255 : 0;
  cv::Mat out = image_bgr * 0.25;
  image_bgr.copyTo(out, keep);
  cv::Mat shown_segments = segments.clone();
  shown_segments.setTo(-1, ~keep);
  out.setTo(negative ? cv::Scalar(255, 255, 0) : cv::Scalar(0, 255, 255), segment_boundaries(shown_segments) & keep);
  return out;
}

std::string encode_png(const cv::Mat& image, const std::string& what) {
  std::vector<uchar> bytes;
  bool ok = false;
  try {
    ok = cv::imencode(".png", image, bytes);
  } catch (const cv::Exception& e) {
    throw output_error(what + ": cannot encode PNG (" + first_line(e.msg) + ")");
  }
  if (!ok) throw output_error(what + ": cannot encode PNG");
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace xai
