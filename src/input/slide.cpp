#include "input/slide.hpp"

#include <openslide.h>
#include <tiffio.h>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "input/slide_numbers.hpp"
#include "xai/error.hpp"

namespace xai {
namespace {

// Technical properties only: everything else (aperio.Filename, .Date, .User, barcodes, label and
// macro images' text, free-text descriptions) may identify a patient.
const char* const kAllowedProperties[] = {
    OPENSLIDE_PROPERTY_NAME_VENDOR, OPENSLIDE_PROPERTY_NAME_MPP_X, OPENSLIDE_PROPERTY_NAME_MPP_Y,
    OPENSLIDE_PROPERTY_NAME_OBJECTIVE_POWER, OPENSLIDE_PROPERTY_NAME_BOUNDS_X, OPENSLIDE_PROPERTY_NAME_BOUNDS_Y,
    OPENSLIDE_PROPERTY_NAME_BOUNDS_WIDTH, OPENSLIDE_PROPERTY_NAME_BOUNDS_HEIGHT, "openslide.level-count",
    "tiff.ResolutionUnit", "tiff.XResolution", "tiff.YResolution",
    // A hash of the slide's pixels and technical metadata: identifies the file for resumes and merges.
    OPENSLIDE_PROPERTY_NAME_QUICKHASH1};

}  // namespace

class OpenSlideSource : public SlideSource {
 public:
  openslide_t* osr = nullptr;
  ~OpenSlideSource() override {
    if (osr) openslide_close(osr);
  }
  cv::Mat read_region(int64_t x0, int64_t y0, int level, int width, int height) const override;
};

std::unique_ptr<SlideSource> open_openslide(const std::string& path) {
  // libtiff prints warnings about harmless oddities of pyramid levels ("Raster width of 256 shall not
  // be larger than image width of 144") straight to stderr; OpenSlide reports real errors itself.
  static std::once_flag quiet;
  std::call_once(quiet, [] { TIFFSetWarningHandler(nullptr); });
  auto impl = std::make_unique<OpenSlideSource>();
  impl->osr = openslide_open(path.c_str());
  if (!impl->osr) throw input_error(path + ": not a slide OpenSlide can read (or not readable)");
  if (const char* error = openslide_get_error(impl->osr)) throw input_error(path + ": " + error);
  SlideInfo& info = impl->info;
  info.path = path;
  const int32_t count = openslide_get_level_count(impl->osr);
  if (count < 1) throw input_error(path + ": the slide has no levels");
  for (int32_t l = 0; l < count; ++l) {
    SlideLevel level;
    openslide_get_level_dimensions(impl->osr, l, &level.width, &level.height);
    level.downsample = openslide_get_level_downsample(impl->osr, l);
    if (level.width <= 0 || level.height <= 0 || !(level.downsample >= 1))
      throw input_error(path + ": level " + std::to_string(l) + " has no valid size");
    info.levels.push_back(level);
  }
  for (const char* name : kAllowedProperties)
    if (const char* value = openslide_get_property_value(impl->osr, name)) info.properties[name] = value;
  if (const char* vendor = openslide_get_property_value(impl->osr, OPENSLIDE_PROPERTY_NAME_VENDOR)) info.vendor = vendor;
  info.mpp_x = positive_number(openslide_get_property_value(impl->osr, OPENSLIDE_PROPERTY_NAME_MPP_X));
  info.mpp_y = positive_number(openslide_get_property_value(impl->osr, OPENSLIDE_PROPERTY_NAME_MPP_Y));
  if (!info.mpp_x && info.properties.count("tiff.XResolution") && info.properties.count("tiff.ResolutionUnit")) {
    info.mpp_x = mpp_from_resolution(info.properties["tiff.XResolution"], info.properties["tiff.ResolutionUnit"]);
    if (info.properties.count("tiff.YResolution"))
      info.mpp_y = mpp_from_resolution(info.properties["tiff.YResolution"], info.properties["tiff.ResolutionUnit"]);
  }
  // A resolution no microscope produces is a writer's default (libvips and most TIFF writers put 72 dpi in
  // every file): believed, it turns a 0.25 µm scan into 353 µm per pixel and refuses the run.
  const auto implausible = [](const std::optional<double>& mpp) {
    return mpp && (*mpp > kCoarsestPlausibleMpp || *mpp < kFinestPlausibleMpp);
  };
  if (implausible(info.mpp_x) || implausible(info.mpp_y)) {
    char given[32];
    std::snprintf(given, sizeof given, "%.4g", info.mpp_x ? *info.mpp_x : *info.mpp_y);
    info.warnings.push_back(std::string("the file gives ") + given +
                            " µm per pixel, which no microscope scans at (a writer's default resolution, such as a "
                            "TIFF's 72 dpi): the slide's resolution is taken as unknown");
    info.mpp_x.reset();
    info.mpp_y.reset();
  }
  info.objective_power = positive_number(openslide_get_property_value(impl->osr, OPENSLIDE_PROPERTY_NAME_OBJECTIVE_POWER));
  return impl;
}

cv::Mat OpenSlideSource::read_region(int64_t x0, int64_t y0, int level, int width, int height) const {
  cv::Mat argb(height, width, CV_32SC1);
  openslide_read_region(osr, reinterpret_cast<uint32_t*>(argb.data), x0, y0, level, width, height);
  if (const char* error = openslide_get_error(osr)) throw input_error(info.path + ": " + error);
  // Premultiplied ARGB over white: colour + (255 - alpha); fully transparent (no scan) becomes white.
  cv::Mat bgr(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y) {
    const uint32_t* in = reinterpret_cast<const uint32_t*>(argb.ptr(y));
    cv::Vec3b* out = bgr.ptr<cv::Vec3b>(y);
    for (int x = 0; x < width; ++x) {
      const uint32_t p = in[x];
      const int white = 255 - static_cast<int>(p >> 24);
      out[x] = cv::Vec3b(static_cast<uchar>(std::min(255, static_cast<int>(p & 0xff) + white)),
                         static_cast<uchar>(std::min(255, static_cast<int>((p >> 8) & 0xff) + white)),
                         static_cast<uchar>(std::min(255, static_cast<int>((p >> 16) & 0xff) + white)));
    }
  }
  return bgr;
}

}  // namespace xai
