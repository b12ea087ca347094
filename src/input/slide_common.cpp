// The parts of slide reading that need no slide library: which reader a path goes to, resolution tags,
// level choice, the thumbnail (from read_region). Built with and without OpenSlide (-DXAI_WITH_SLIDES).
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

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

bool is_dicom_slide_path(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return true;
  std::ifstream in(path, std::ios::binary);
  char marker[132] = {};
  return in.read(marker, sizeof marker) && std::string(marker + 128, 4) == "DICM";
}

struct Slide::Impl {
  std::unique_ptr<SlideSource> source;
};

Slide::Slide(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Slide::Slide(Slide&&) noexcept = default;
Slide& Slide::operator=(Slide&&) noexcept = default;
Slide::~Slide() = default;

Slide Slide::open(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->source = is_dicom_slide_path(path) ? open_dicom_slide(path) : open_openslide(path);
  return Slide(std::move(impl));
}

const SlideInfo& Slide::info() const { return impl_->source->info; }

cv::Mat Slide::read_region(int64_t x0, int64_t y0, int level, int width, int height) const {
  CV_Assert(level >= 0 && level < static_cast<int>(info().levels.size()) && width > 0 && height > 0);
  return impl_->source->read_region(x0, y0, level, width, height);
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
