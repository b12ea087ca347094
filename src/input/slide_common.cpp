// The parts of slide reading that need no slide library: resolution tags, level choice, the thumbnail
// (from read_region). Built with and without OpenSlide (-DXAI_WITH_SLIDES).
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "input/slide_numbers.hpp"
#include "xai/error.hpp"
#include "input/slide.hpp"

namespace xai {

std::optional<double> positive_number(const char* text) {
  if (!text) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(text, &end);
  if (end == text || !std::isfinite(v) || v <= 0) return std::nullopt;
  return v;
}

std::optional<double> mpp_from_resolution(const std::string& resolution, const std::string& unit) {
  const auto per_unit = positive_number(resolution.c_str());
  if (!per_unit) return std::nullopt;
  if (unit == "centimeter") return 1e4 / *per_unit;
  if (unit == "inch") return 25.4e3 / *per_unit;
  return std::nullopt;
}

int Slide::level_for_downsample(double downsample) const {
  int best = 0;
  const auto& levels = info().levels;
  for (size_t l = 0; l < levels.size(); ++l)
    if (levels[l].downsample <= downsample * (1 + 1e-9)) best = static_cast<int>(l);
  return best;
}

cv::Mat Slide::thumbnail(int longest, double* downsample) const {
  const SlideLevel& full = info().levels.front();
  const double wanted = std::max(1.0, static_cast<double>(std::max(full.width, full.height)) / longest);
  const int level = level_for_downsample(wanted);
  const SlideLevel& l = info().levels[level];
  if (l.width > 32768 || l.height > 32768)
    throw input_error(info().path + ": no level small enough for a " + std::to_string(longest) + "-px thumbnail");
  const cv::Mat region = read_region(0, 0, level, static_cast<int>(l.width), static_cast<int>(l.height));
  const double f = std::min(1.0, static_cast<double>(longest) / std::max(l.width, l.height));
  cv::Mat out = region;
  if (f < 1.0)
    cv::resize(region, out, cv::Size(std::max(1, static_cast<int>(std::lround(l.width * f))),
                                     std::max(1, static_cast<int>(std::lround(l.height * f)))), 0, 0, cv::INTER_AREA);
  if (downsample) *downsample = static_cast<double>(full.width) / out.cols;
  return out;
}

}  // namespace xai
