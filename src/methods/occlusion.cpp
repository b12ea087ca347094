#include "methods/occlusion.hpp"

#include <algorithm>

#include "xai/error.hpp"

namespace xai {

OcclusionOptions resolve_occlusion(const OcclusionOptions& options, const cv::Size& size) {
  OcclusionOptions r = options;
  const int side = std::min(size.width, size.height);
  if (r.window == 0) r.window = std::max(1, side / 8);
  if (r.stride == 0) r.stride = std::max(1, r.window / 2);
  if (r.window < 1) throw usage_error(setting_name("window") + " must be positive (got " + std::to_string(r.window) + ")");
  if (r.stride < 1) throw usage_error(setting_name("stride") + " must be positive (got " + std::to_string(r.stride) + ")");
  if (r.window > side)
    throw usage_error(setting_name("window") + " " + std::to_string(r.window) + ": larger than the model's input (" +
                      std::to_string(size.width) + "x" + std::to_string(size.height) + ")");
  return r;
}

namespace {

std::vector<int> positions(int length, int window, int stride) {
  std::vector<int> p;
  for (int at = 0; at + window <= length; at += stride) p.push_back(at);
  if (p.back() + window < length) p.push_back(length - window);
  return p;
}

}  // namespace

std::vector<cv::Rect> occlusion_windows(const cv::Size& size, int window, int stride) {
  std::vector<cv::Rect> windows;
  for (int y : positions(size.height, window, stride))
    for (int x : positions(size.width, window, stride)) windows.emplace_back(x, y, window, window);
  return windows;
}

MaskWriter window_masks(const std::vector<cv::Rect>& windows, const cv::Size& size) {
  return [&windows, size](int first, int count, float* masks) {
    const size_t plane = static_cast<size_t>(size.area());
    for (int s = 0; s < count; ++s) {
      cv::Mat mask(size, CV_32FC1, masks + s * plane);
      mask.setTo(1.0f);
      mask(windows[first + s]).setTo(0.0f);
    }
  };
}

cv::Mat occlusion_map(const std::vector<cv::Rect>& windows, const std::vector<double>& drops, const cv::Size& size) {
  cv::Mat sum = cv::Mat::zeros(size, CV_64FC1), covered = cv::Mat::zeros(size, CV_64FC1);
  for (size_t w = 0; w < windows.size(); ++w) {
    sum(windows[w]) += drops[w];
    covered(windows[w]) += 1.0;
  }
  cv::Mat mean, out;
  cv::divide(sum, cv::max(covered, 1.0), mean);
  mean.convertTo(out, CV_32FC1);
  return out;
}

}  // namespace xai
