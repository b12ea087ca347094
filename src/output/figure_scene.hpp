// Internal: a figure laid out in points (images, texts, rectangles, strokes, markers, colour bars), as
// print_figure.cpp's layouts place it, and its printing in any format: PDF and PNG through cairo, SVG
// written here (journals want <text> elements; cairo draws text as outlines).
#pragma once

#include <opencv2/core.hpp>

#include <optional>
#include <string>
#include <vector>

#include "output/figure.hpp"
#include "output/print_figure.hpp"

namespace xai {

inline constexpr double kPointsPerMm = 72.0 / 25.4;
inline constexpr double kTitleSize = 7;  // points
inline constexpr const char* kFontFamily = "DejaVu Sans";
inline constexpr int kBarRows = 257;  // the bar's colours; every 8th is a stop of the vector gradient
// Screen PNGs (png without a dpi): drawn at this resolution, their cells as wide as their panels'
// pixels, so that every data pixel is one pixel of the file and 7-pt text is 15 px high.
inline constexpr double kScreenDpi = 150;

struct Text {
  std::string text;
  double x = 0, y = 0;  // the baseline's start (its end when right-aligned, its middle when centred)
  double size = kTitleSize;
  bool right_aligned = false;
  bool centred = false;
  cv::Vec3b ink{30, 30, 30};  // BGR
};

struct FilledRect {
  cv::Rect2d at;
  cv::Vec3b bgr;
};

struct Stroke {
  std::vector<cv::Point2d> points;
  cv::Vec3b bgr;
  double width = 0.75;
  bool dashed = false;
};

struct Marker {
  cv::Point2d at;
  double radius = 1.5;
  cv::Vec3b bgr;
  bool diamond = false;  // a filled diamond (a median); otherwise an open circle
};

struct PlacedImage {
  cv::Mat bgr;
  cv::Rect2d at;
};

// A colour bar: the figure's (vertical, `high` at the top) or a panel's own (horizontal, under it,
// `low` at the left).
struct PlacedBar {
  ColourScale scale;
  cv::Rect2d at;
  bool horizontal = false;
  int raster_pixels = 0;  // PNG: its length in whole pixels (one colour each, the ends exact); 0: vector
};

// The figure in points, for any backend.
struct Scene {
  double width = 0, height = 0;
  std::vector<PlacedImage> images;
  std::vector<Text> texts;
  std::vector<FilledRect> rects;
  std::vector<Stroke> strokes;
  std::vector<Marker> markers;
  std::vector<PlacedBar> bars;
  std::optional<size_t> figure_bar;        // index into bars
  std::vector<std::optional<size_t>> panel_bars;  // per panel
};

// The file's bytes; `layout` (optional) gets where the parts landed, in the file's units. A PNG without
// a `dpi` is drawn at kScreenDpi.
std::string print_scene(Scene scene, const std::string& title, FigureFormat format, double dpi, PrintLayout* layout);

}  // namespace xai
