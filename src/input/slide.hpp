// Whole-slide images (Aperio .svs, Hamamatsu .ndpi, MIRAX, tiled pyramidal TIFF, ...) through
// OpenSlide, and DICOM whole-slide images (Supplement 145) through DCMTK: the pyramid's levels, microns
// per pixel, regions as 8-bit BGR, and a thumbnail.
// Properties that could identify a patient (labels, barcodes, dates, free text) are never exposed:
// only an allow-list of technical ones.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <opencv2/core.hpp>
#include <optional>
#include <string>
#include <vector>

namespace xai {

struct SlideLevel {
  int64_t width = 0, height = 0;
  double downsample = 1;  // level-0 pixels per pixel of this level
};

struct SlideInfo {
  std::string path;
  std::string vendor;                 // OpenSlide's format name ("aperio", "generic-tiff", ...)
  std::vector<SlideLevel> levels;     // level 0 first (full resolution)
  std::optional<double> mpp_x, mpp_y; // microns per level-0 pixel, when the file says
  std::optional<double> objective_power;
  std::map<std::string, std::string> properties;  // the allow-listed technical properties only
  std::vector<std::string> warnings;              // what was read but not believed (an implausible resolution)
};

// Microns per pixel no microscope scans at: coarser than this is a file's default (a TIFF's 72 dpi is
// 353 µm per pixel), not a scan's resolution, and is treated as unknown.
constexpr double kCoarsestPlausibleMpp = 100.0;
// Finer than light microscopy resolves (~0.1 µm): also a default or a unit mix-up, not a scan.
constexpr double kFinestPlausibleMpp = 0.01;

// Where a slide's pixels come from: OpenSlide (src/input/slide.cpp) or a DICOM series (slide_dicom.cpp).
class SlideSource {
 public:
  virtual ~SlideSource() = default;
  // As Slide::read_region; safe to call from several threads at once.
  virtual cv::Mat read_region(int64_t x0, int64_t y0, int level, int width, int height) const = 0;
  SlideInfo info;
};

// Each throws input_error("PATH: ...") when it cannot read the slide (or was built without its library).
std::unique_ptr<SlideSource> open_openslide(const std::string& path);
// A DICOM whole-slide image: a folder of its instances (one per pyramid level), or one of them (its
// folder's instances of the same series are the other levels).
std::unique_ptr<SlideSource> open_dicom_slide(const std::string& path);
// Whether `path` is read as a DICOM whole-slide image: a folder, or a file with DICOM's "DICM" marker.
bool is_dicom_slide_path(const std::string& path);

class Slide {
 public:
  // Throws input_error("PATH: ...") when the file cannot be read as a slide (with the reason).
  static Slide open(const std::string& path);
  Slide(Slide&&) noexcept;
  Slide& operator=(Slide&&) noexcept;
  ~Slide();

  const SlideInfo& info() const;
  // `width` x `height` pixels of `level`, top-left at level-0 coordinates (x0, y0) (OpenSlide's
  // convention), 8-bit BGR; pixels outside the scanned area (transparent) are white, like glass.
  // Safe to call from several threads at once.
  cv::Mat read_region(int64_t x0, int64_t y0, int level, int width, int height) const;
  // The level whose downsample is the largest not above `downsample`.
  int level_for_downsample(double downsample) const;
  // The whole slide, its longer side at most `longest` pixels, read from the smallest level that is
  // still at least that large and shrunk by area averaging; `downsample` gets level-0 pixels per pixel.
  cv::Mat thumbnail(int longest, double* downsample = nullptr) const;

 private:
  struct Impl;
  explicit Slide(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Microns per pixel from TIFF resolution tags when the format gives no mpp (generic TIFF written by
// libvips or tifffile): `resolution` pixels per `unit` ("centimeter" or "inch"); none otherwise.
std::optional<double> mpp_from_resolution(const std::string& resolution, const std::string& unit);

}  // namespace xai
