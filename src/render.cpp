#include "xai/render.hpp"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "xai/error.hpp"

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

}  // namespace

Colormap parse_colormap(const std::string& name) {
  for (const auto& c : kColormaps)
    if (name == c.name) return c.colormap;
  throw usage_error("--colormap " + name + ": expected jet, turbo, viridis or inferno");
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
