#include "output/print_figure.hpp"

#include <cairo-pdf.h>
#include <cairo.h>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <sstream>

#include "core/image_geometry.hpp"
#include "core/text.hpp"
#include "output/render.hpp"
#include "xai/error.hpp"

namespace xai {
namespace {

constexpr double kPointsPerMm = 72.0 / 25.4;
constexpr double kNarrowWidth = 85 * kPointsPerMm;  // one journal column
constexpr double kWideWidth = 174 * kPointsPerMm;   // a page's two columns
constexpr double kMargin = 4, kGap = 4, kBarWidth = 8, kBarGap = 3;
constexpr double kHeaderSize = 8, kTitleSize = 7, kLabelSize = 6.5, kSmallestSize = 5;
constexpr const char* kFontFamily = "DejaVu Sans";
constexpr int kBarRows = 257;
// Screen PNGs (png without a dpi): drawn at this resolution, their cells as wide as their panels'
// pixels, so that every data pixel is one pixel of the file and 7-pt text is 15 px high.
constexpr double kScreenDpi = 150;  // the bar's colours; every 8th is a stop of the vector gradient

// A cairo context that only measures text.
class TextMeter {
 public:
  TextMeter()
      : surface_(cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 1, 1)), cr_(cairo_create(surface_)) {
    cairo_select_font_face(cr_, kFontFamily, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  }
  ~TextMeter() {
    cairo_destroy(cr_);
    cairo_surface_destroy(surface_);
  }
  TextMeter(const TextMeter&) = delete;
  TextMeter& operator=(const TextMeter&) = delete;
  double width(const std::string& text, double size) {
    cairo_set_font_size(cr_, size);
    cairo_text_extents_t extents;
    cairo_text_extents(cr_, text.c_str(), &extents);
    return extents.x_advance;
  }
  // The size at most `size` at which `text` fits in `room` (never below kSmallestSize).
  double fitted(const std::string& text, double size, double room) {
    const double w = width(text, size);
    return w <= room || w <= 0 ? size : std::max(kSmallestSize, size * room / w);
  }

 private:
  cairo_surface_t* surface_;
  cairo_t* cr_;
};

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

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The header's lines at the top, each fitted to the page's width; returns the baseline below them.
double add_header(Scene& scene, TextMeter& meter, const std::vector<std::string>& header) {
  double y = kMargin;
  for (const auto& line : header) {
    y += kHeaderSize * 1.3;
    scene.texts.push_back({line, kMargin, y - kHeaderSize * 0.3, meter.fitted(line, kHeaderSize, scene.width - 2 * kMargin)});
  }
  return y;
}

// The words of `text` in lines of at most `room` points at `size`.
std::vector<std::string> wrapped(TextMeter& meter, const std::string& text, double size, double room) {
  std::vector<std::string> lines;
  std::stringstream in(text);
  for (std::string word; in >> word;) {
    if (!lines.empty() && meter.width(lines.back() + " " + word, size) <= room)
      lines.back() += " " + word;
    else
      lines.push_back(word);
  }
  return lines;
}

struct BarLabels {
  std::string high, mid, low;
};

BarLabels bar_labels(const ColourScale& scale) {
  return {(scale.saturates ? "≥" : "") + short_number(scale.high), short_number((scale.low + scale.high) / 2),
          (scale.saturates ? "≤" : "") + short_number(scale.low)};
}

// A panel's own bar under it: the strip, its end and middle values, and its units in at most two lines.
constexpr double kPanelBarHeight = 5, kPanelBarGap = 2;
constexpr int kPanelUnitLines = 2;
double panel_bar_block(int unit_lines) {
  return kPanelBarGap + kPanelBarHeight + 1 + kLabelSize * 1.2 + unit_lines * kLabelSize * 1.15;
}

// `screen_zoom` > 0: a screen figure, its cells as wide as the widest panel drawn pixel for pixel at that
// zoom (pixels per point); 0: a journal page, one column or two wide.
Scene lay_out(const std::vector<FigurePanel>& panels, const std::vector<std::string>& header, const ColourScale* scale,
              int columns, double screen_zoom) {
  CV_Assert(!panels.empty());
  TextMeter meter;
  Scene scene;
  const int count = static_cast<int>(panels.size());
  columns = columns > 0 ? std::min(columns, count) : count;
  const int rows = (count + columns - 1) / columns;
  int panel_px_w = 1, panel_px_h = 1;
  size_t title_lines = 1;
  bool panel_scales = false;
  for (const auto& panel : panels) {
    panel_px_w = std::max(panel_px_w, panel.image.cols), panel_px_h = std::max(panel_px_h, panel.image.rows);
    title_lines = std::max(title_lines, lines_of(panel.title).size());
    panel_scales = panel_scales || panel.scale.has_value();
  }
  BarLabels labels;
  double bar_block = 0;
  if (scale) {
    labels = bar_labels(*scale);
    bar_block = kGap + kBarWidth + kBarGap +
                std::max({meter.width(labels.high, kLabelSize), meter.width(labels.low, kLabelSize),
                          meter.width(labels.mid, kLabelSize)});
  }
  double cell_w = 0;
  if (screen_zoom > 0) {
    cell_w = panel_px_w / screen_zoom;
    scene.width = 2 * kMargin + columns * cell_w + (columns - 1) * kGap + bar_block;
  } else {
    scene.width = columns <= 2 ? kNarrowWidth : kWideWidth;
    cell_w = (scene.width - 2 * kMargin - (columns - 1) * kGap - bar_block) / columns;
  }
  const double panel_h = std::min(cell_w * panel_px_h / panel_px_w, 2 * cell_w);
  const double title_line = kTitleSize * 1.25;
  // Panels' own bars: as many unit lines as the longest needs (at most two).
  int unit_lines = 0;
  for (const auto& panel : panels)
    if (panel.scale)
      unit_lines = std::max(unit_lines, std::min<int>(kPanelUnitLines,
                                                      wrapped(meter, panel.scale->units, kLabelSize, cell_w).size()));
  const double own_bar_h = panel_scales ? panel_bar_block(unit_lines) : 0;
  const double cell_h = panel_h + own_bar_h + 2 + title_lines * title_line;
  double y = add_header(scene, meter, header);
  if (!header.empty()) y += 2;
  const double top = y;
  for (int i = 0; i < count; ++i) {
    const FigurePanel& panel = panels[i];
    const double x = kMargin + (i % columns) * (cell_w + kGap), cell_y = top + (i / columns) * (cell_h + kGap);
    // The panel at its own aspect, as large as the cell allows, centred in it.
    const double fit = std::min(cell_w / panel.image.cols, panel_h / panel.image.rows);
    const double w = panel.image.cols * fit, h = panel.image.rows * fit;
    scene.images.push_back({panel.image, cv::Rect2d(x + (cell_w - w) / 2, cell_y + (panel_h - h) / 2, w, h)});
    scene.panel_bars.emplace_back();
    const double titles_h = 2 + title_lines * title_line;
    if (panel.scale) {
      const double bar_y = cell_y + panel_h + titles_h + kPanelBarGap;
      scene.panel_bars.back() = scene.bars.size();
      scene.bars.push_back({*panel.scale, cv::Rect2d(x, bar_y, cell_w, kPanelBarHeight), true});
      const BarLabels own = bar_labels(*panel.scale);
      const double label_y = bar_y + kPanelBarHeight + 1 + kLabelSize;
      scene.texts.push_back({own.low, x, label_y, kLabelSize});
      scene.texts.push_back({own.high, x + cell_w, label_y, kLabelSize, true});
      const auto units = wrapped(meter, panel.scale->units, kLabelSize, cell_w);
      for (size_t l = 0; l < units.size() && l < kPanelUnitLines; ++l) {
        // A second line that would not be the last keeps what is left of the text, fitted.
        std::string line = units[l];
        if (l + 1 == kPanelUnitLines)
          for (size_t rest = l + 1; rest < units.size(); ++rest) line += " " + units[rest];
        scene.texts.push_back({line, x, label_y + (l + 1) * kLabelSize * 1.15, meter.fitted(line, kLabelSize, cell_w)});
      }
    }
    const std::vector<std::string> lines = lines_of(panel.title);
    for (size_t l = 0; l < lines.size(); ++l)
      scene.texts.push_back({lines[l], x, cell_y + panel_h + 2 + (l + 1) * title_line - kTitleSize * 0.25,
                             meter.fitted(lines[l], kTitleSize, cell_w)});
  }
  const double grid_w = columns * cell_w + (columns - 1) * kGap;
  const double grid_h = rows * cell_h + (rows - 1) * kGap;
  y = top + grid_h;
  if (scale) {
    const double bar_x = kMargin + grid_w + kGap;
    scene.figure_bar = scene.bars.size();
    scene.bars.push_back({*scale, cv::Rect2d(bar_x, top, kBarWidth, panel_h), false});
    const double label_x = bar_x + kBarWidth + kBarGap;
    scene.texts.push_back({labels.high, label_x, top + kLabelSize * 0.75, kLabelSize});
    scene.texts.push_back({labels.mid, label_x, top + panel_h / 2 + kLabelSize * 0.35, kLabelSize});
    scene.texts.push_back({labels.low, label_x, top + panel_h, kLabelSize});
    y += kLabelSize * 1.5;
    scene.texts.push_back({scale->units, scene.width - kMargin, y,
                           meter.fitted(scale->units, kLabelSize, scene.width - 2 * kMargin), true});
  }
  scene.height = y + kMargin;
  return scene;
}

Scene lay_out_table(const TableFigure& table) {
  CV_Assert(table.values.size() == table.row_labels.size() && table.cells.size() == table.row_labels.size());
  TextMeter meter;
  Scene scene;
  const size_t columns = std::max<size_t>(1, table.column_labels.size());
  double label_w = 0;
  for (const auto& label : table.row_labels) label_w = std::max(label_w, meter.width(label, kTitleSize));
  scene.width = columns <= 3 && label_w < kNarrowWidth / 3 ? kNarrowWidth : kWideWidth;
  label_w = std::min(label_w, 0.45 * scene.width) + 2 * kGap;
  const BarLabels labels = bar_labels(table.scale);
  const double bar_block = kGap + kBarWidth + kBarGap +
                           std::max({meter.width(labels.high, kLabelSize), meter.width(labels.low, kLabelSize),
                                     meter.width(labels.mid, kLabelSize)});
  const double cell_w = (scene.width - 2 * kMargin - label_w - bar_block) / columns;
  const double cell_h = 14;
  double y = add_header(scene, meter, table.header);
  y += kTitleSize * 1.6;
  const double left = kMargin + label_w;
  for (size_t c = 0; c < table.column_labels.size(); ++c) {
    Text heading{table.column_labels[c], left + (c + 0.5) * cell_w, y - 2,
                 meter.fitted(table.column_labels[c], kTitleSize, cell_w - 2)};
    heading.centred = true;
    scene.texts.push_back(heading);
  }
  const double top = y;
  for (size_t r = 0; r < table.row_labels.size(); ++r) {
    const double row_y = top + r * cell_h;
    scene.texts.push_back({table.row_labels[r], left - kGap, row_y + cell_h / 2 + kTitleSize * 0.35,
                           meter.fitted(table.row_labels[r], kTitleSize, label_w - kGap), true});
    for (size_t c = 0; c < columns && c < table.values[r].size(); ++c) {
      const double value = table.values[r][c];
      const cv::Rect2d cell(left + c * cell_w + 0.5, row_y + 0.5, cell_w - 1, cell_h - 1);
      const cv::Vec3b colour = std::isfinite(value) ? scale_colour(table.scale, value) : cv::Vec3b(235, 235, 235);
      scene.rects.push_back({cell, colour});
      // Light text on dark cells (Rec. 601 luma).
      const double luma = 0.299 * colour[2] + 0.587 * colour[1] + 0.114 * colour[0];
      Text text{c < table.cells[r].size() ? table.cells[r][c] : "", cell.x + cell.width / 2,
                row_y + cell_h / 2 + kLabelSize * 0.35, 0};
      text.size = meter.fitted(text.text, kLabelSize, cell_w - 3);
      text.centred = true;
      text.ink = luma < 110 ? cv::Vec3b(255, 255, 255) : cv::Vec3b(30, 30, 30);
      scene.texts.push_back(text);
    }
  }
  const double rows_h = std::max(40.0, table.row_labels.size() * cell_h);
  const double bar_x = left + columns * cell_w + kGap;
  scene.figure_bar = scene.bars.size();
  scene.bars.push_back({table.scale, cv::Rect2d(bar_x, top, kBarWidth, rows_h), false});
  const double label_x = bar_x + kBarWidth + kBarGap;
  scene.texts.push_back({labels.high, label_x, top + kLabelSize * 0.75, kLabelSize});
  scene.texts.push_back({labels.mid, label_x, top + rows_h / 2 + kLabelSize * 0.35, kLabelSize});
  scene.texts.push_back({labels.low, label_x, top + rows_h, kLabelSize});
  y = top + rows_h + kLabelSize * 1.5;
  scene.texts.push_back({table.scale.units, scene.width - kMargin, y,
                         meter.fitted(table.scale.units, kLabelSize, scene.width - 2 * kMargin), true});
  for (const auto& note : table.notes) {
    y += kLabelSize * 1.3;
    scene.texts.push_back({note, kMargin, y, meter.fitted(note, kLabelSize, scene.width - 2 * kMargin)});
  }
  scene.height = y + kMargin;
  return scene;
}

// Okabe and Ito's colours (yellow left out: it does not show on white), as BGR.
const std::vector<cv::Vec3b>& palette() {
  static const std::vector<cv::Vec3b> colours = {{178, 114, 0},  {0, 94, 213},   {115, 158, 0}, {167, 121, 204},
                                                 {0, 159, 230},  {233, 180, 86}, {0, 0, 0}};
  return colours;
}

cv::Vec3b series_colour(const PlotSeries& series, size_t index) {
  if (series.colour == -2) return {153, 153, 153};
  return plot_colour(series.colour >= 0 ? series.colour : static_cast<int>(index));
}

Scene lay_out_plot(const PlotFigure& figure) {
  CV_Assert(!figure.plots.empty());
  TextMeter meter;
  Scene scene;
  const int count = static_cast<int>(figure.plots.size());
  scene.width = count == 1 ? kNarrowWidth : kWideWidth;
  const double y_axis_w = 22, x_axis_h = kLabelSize * 3.2, title_h = kTitleSize * 1.6;
  double y = add_header(scene, meter, figure.header);
  const double cell_w = (scene.width - 2 * kMargin - (count - 1) * 2 * kGap) / count;
  const double plot_w = cell_w - y_axis_w, plot_h = std::min(plot_w * 0.7, 150.0);
  const double top = y + title_h;
  const cv::Vec3b ink(30, 30, 30), grid(225, 225, 225);
  for (int p = 0; p < count; ++p) {
    const Plot& plot = figure.plots[p];
    const double left = kMargin + p * (cell_w + 2 * kGap) + y_axis_w;
    const auto fx = [&](double v) {
      const double a = plot.log_x ? std::log10(std::max(v, 1e-12)) : v;
      const double lo = plot.log_x ? std::log10(plot.x_min) : plot.x_min, hi = plot.log_x ? std::log10(plot.x_max) : plot.x_max;
      return left + std::clamp((a - lo) / (hi - lo), 0.0, 1.0) * plot_w;
    };
    const auto fy = [&](double v) {
      return top + (1 - std::clamp((v - plot.y_min) / (plot.y_max - plot.y_min), 0.0, 1.0)) * plot_h;
    };
    // The title at the top left, the y axis's label at the top right: the title keeps clear of it.
    const double y_label_size = meter.fitted(plot.y_label, kLabelSize, plot_w / 2);
    const double title_room = plot_w - meter.width(plot.y_label, y_label_size) - kGap;
    scene.texts.push_back({plot.title, left, top - kTitleSize * 0.6, meter.fitted(plot.title, kTitleSize, title_room)});
    for (double t : plot.y_ticks) {
      scene.strokes.push_back({{{left, fy(t)}, {left + plot_w, fy(t)}}, grid, 0.4, false});
      scene.texts.push_back({short_number(t), left - 2, fy(t) + kLabelSize * 0.35, kLabelSize, true});
    }
    for (double t : plot.x_ticks) {
      scene.strokes.push_back({{{fx(t), top}, {fx(t), top + plot_h}}, grid, 0.4, false});
      Text label{short_number(t), fx(t), top + plot_h + kLabelSize * 1.2, kLabelSize};
      label.centred = true;
      scene.texts.push_back(label);
    }
    scene.strokes.push_back({{{left, top}, {left + plot_w, top}, {left + plot_w, top + plot_h}, {left, top + plot_h}, {left, top}},
                             ink, 0.5, false});
    Text x_label{plot.x_label, left + plot_w / 2, top + plot_h + kLabelSize * 2.5, meter.fitted(plot.x_label, kLabelSize, plot_w)};
    x_label.centred = true;
    scene.texts.push_back(x_label);
    scene.texts.push_back({plot.y_label, left + plot_w, top - kTitleSize * 0.6, y_label_size, true});
    for (size_t s = 0; s < figure.series.size(); ++s) {
      const PlotSeries& series = figure.series[s];
      if (series.plot != p) continue;
      const cv::Vec3b colour = series_colour(series, s);
      std::vector<cv::Point2d> points;
      for (const auto& point : series.points) points.emplace_back(fx(point.x), fy(point.y));
      if (series.joined)
        scene.strokes.push_back({points, colour, series.dashed ? 0.6 : 0.9, series.dashed});
      else
        for (const auto& point : points) scene.markers.push_back({point, 1.3, colour, false});
      if (series.emphasised) scene.markers.push_back({{fx(series.emphasised->x), fy(series.emphasised->y)}, 3, colour, true});
    }
  }
  // The legend: one line per series (several plots share a series' name: listed once).
  y = top + plot_h + x_axis_h + kLabelSize;
  std::vector<std::string> listed;
  for (size_t s = 0; s < figure.series.size(); ++s) {
    const PlotSeries& series = figure.series[s];
    const std::string text = series.name + (series.note.empty() ? "" : "   " + series.note);
    if (std::find(listed.begin(), listed.end(), text) != listed.end()) continue;
    listed.push_back(text);
    const cv::Vec3b colour = series_colour(series, s);
    const double sample_y = y - kLabelSize * 0.35;
    if (series.joined)
      scene.strokes.push_back({{{kMargin, sample_y}, {kMargin + 12, sample_y}}, colour, series.dashed ? 0.6 : 0.9, series.dashed});
    else
      scene.markers.push_back({{kMargin + 6, sample_y}, 1.3, colour, false});
    if (series.emphasised) scene.markers.push_back({{kMargin + 6, sample_y}, 2.5, colour, true});
    // Name and numbers on one line when they fit, else the numbers on a second.
    const double room = scene.width - 2 * kMargin - 16;
    if (meter.width(text, kLabelSize) <= room || series.note.empty()) {
      scene.texts.push_back({text, kMargin + 16, y, meter.fitted(text, kLabelSize, room)});
    } else {
      scene.texts.push_back({series.name, kMargin + 16, y, meter.fitted(series.name, kLabelSize, room)});
      y += kLabelSize * 1.2;
      scene.texts.push_back({series.note, kMargin + 16, y, meter.fitted(series.note, kLabelSize, room)});
    }
    y += kLabelSize * 1.4;
  }
  scene.height = y + kMargin;
  return scene;
}

// ---- cairo: PDF and PNG ----

struct CairoImage {
  std::vector<unsigned char> pixels;
  cairo_surface_t* surface = nullptr;
  explicit CairoImage(const cv::Mat& bgr) {
    CV_Assert(bgr.type() == CV_8UC3);
    const int stride = cairo_format_stride_for_width(CAIRO_FORMAT_RGB24, bgr.cols);
    pixels.assign(static_cast<size_t>(stride) * bgr.rows, 255);
    for (int y = 0; y < bgr.rows; ++y)
      for (int x = 0; x < bgr.cols; ++x) {
        const cv::Vec3b p = bgr.at<cv::Vec3b>(y, x);
        unsigned char* out = &pixels[static_cast<size_t>(y) * stride + 4 * x];  // B, G, R, unused (little-endian)
        out[0] = p[0], out[1] = p[1], out[2] = p[2];
      }
    surface = cairo_image_surface_create_for_data(pixels.data(), CAIRO_FORMAT_RGB24, bgr.cols, bgr.rows, stride);
  }
  ~CairoImage() { cairo_surface_destroy(surface); }
  CairoImage(const CairoImage&) = delete;
  CairoImage& operator=(const CairoImage&) = delete;
};

void paint_image(cairo_t* cr, const cv::Mat& bgr, const cv::Rect2d& at, cairo_filter_t filter) {
  if (bgr.empty() || !(at.width > 0) || !(at.height > 0)) return;  // nothing to draw (cairo needs an invertible scale)
  const CairoImage image(bgr);
  cairo_save(cr);
  cairo_translate(cr, at.x, at.y);
  cairo_scale(cr, at.width / bgr.cols, at.height / bgr.rows);
  cairo_set_source_surface(cr, image.surface, 0, 0);
  cairo_pattern_set_filter(cairo_get_source(cr), filter);
  cairo_paint(cr);
  cairo_restore(cr);
}

// A bar's colours in drawing order: top to bottom (high first) for the figure's, left to right (low
// first, a 1-row image) for a panel's.
cv::Mat bar_colours(const PlacedBar& bar) {
  const cv::Mat column = scale_colour_column(bar.scale, bar.raster_pixels > 1 ? bar.raster_pixels : kBarRows);
  if (!bar.horizontal) return column;
  cv::Mat flipped;
  cv::flip(column, flipped, 0);
  return flipped.t();
}

// `raster`: the bar as an image of its colours (exact at its ends after scaling to pixels); otherwise
// a vector gradient.
void draw_scene(cairo_t* cr, const Scene& scene, bool raster) {
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  for (const auto& image : scene.images) paint_image(cr, image.bgr, image.at, raster ? CAIRO_FILTER_GOOD : CAIRO_FILTER_NEAREST);
  for (const auto& rect : scene.rects) {
    cairo_rectangle(cr, rect.at.x, rect.at.y, rect.at.width, rect.at.height);
    cairo_set_source_rgb(cr, rect.bgr[2] / 255.0, rect.bgr[1] / 255.0, rect.bgr[0] / 255.0);
    cairo_fill(cr);
  }
  for (const auto& stroke : scene.strokes) {
    if (stroke.points.size() < 2) continue;
    cairo_set_source_rgb(cr, stroke.bgr[2] / 255.0, stroke.bgr[1] / 255.0, stroke.bgr[0] / 255.0);
    cairo_set_line_width(cr, stroke.width);
    const double dash[] = {2.5, 1.5};
    cairo_set_dash(cr, dash, stroke.dashed ? 2 : 0, 0);
    cairo_move_to(cr, stroke.points[0].x, stroke.points[0].y);
    for (size_t i = 1; i < stroke.points.size(); ++i) cairo_line_to(cr, stroke.points[i].x, stroke.points[i].y);
    cairo_stroke(cr);
    cairo_set_dash(cr, nullptr, 0, 0);
  }
  for (const auto& marker : scene.markers) {
    cairo_set_source_rgb(cr, marker.bgr[2] / 255.0, marker.bgr[1] / 255.0, marker.bgr[0] / 255.0);
    if (marker.diamond) {
      const double r = marker.radius;
      cairo_move_to(cr, marker.at.x, marker.at.y - r);
      cairo_line_to(cr, marker.at.x + r, marker.at.y);
      cairo_line_to(cr, marker.at.x, marker.at.y + r);
      cairo_line_to(cr, marker.at.x - r, marker.at.y);
      cairo_close_path(cr);
      cairo_fill(cr);
    } else {
      cairo_set_line_width(cr, 0.5);
      cairo_new_sub_path(cr);
      cairo_arc(cr, marker.at.x, marker.at.y, marker.radius, 0, 2 * M_PI);
      cairo_stroke(cr);
    }
  }
  for (const auto& bar : scene.bars) {
    const cv::Mat colours = bar_colours(bar);
    if (raster) {
      paint_image(cr, colours, bar.at, CAIRO_FILTER_NEAREST);
    } else {
      cairo_pattern_t* gradient =
          bar.horizontal ? cairo_pattern_create_linear(bar.at.x, 0, bar.at.x + bar.at.width, 0)
                         : cairo_pattern_create_linear(0, bar.at.y, 0, bar.at.y + bar.at.height);
      const int n = static_cast<int>(colours.total());
      for (int i = 0; i < n; i += 8) {
        const cv::Vec3b c = colours.at<cv::Vec3b>(i);
        cairo_pattern_add_color_stop_rgb(gradient, static_cast<double>(i) / (n - 1), c[2] / 255.0, c[1] / 255.0,
                                         c[0] / 255.0);
      }
      cairo_rectangle(cr, bar.at.x, bar.at.y, bar.at.width, bar.at.height);
      cairo_set_source(cr, gradient);
      cairo_fill(cr);
      cairo_pattern_destroy(gradient);
    }
    cairo_rectangle(cr, bar.at.x - 0.25, bar.at.y - 0.25, bar.at.width + 0.5, bar.at.height + 0.5);
    cairo_set_source_rgb(cr, 90 / 255.0, 90 / 255.0, 90 / 255.0);
    cairo_set_line_width(cr, 0.5);
    cairo_stroke(cr);
  }
  cairo_select_font_face(cr, kFontFamily, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  for (const auto& text : scene.texts) {
    cairo_set_source_rgb(cr, text.ink[2] / 255.0, text.ink[1] / 255.0, text.ink[0] / 255.0);
    cairo_set_font_size(cr, text.size);
    double x = text.x;
    if (text.right_aligned || text.centred) {
      cairo_text_extents_t extents;
      cairo_text_extents(cr, text.text.c_str(), &extents);
      x -= text.centred ? extents.x_advance / 2 : extents.x_advance;
    }
    cairo_move_to(cr, x, text.y);
    cairo_show_text(cr, text.text.c_str());
  }
}

cairo_status_t append_to_string(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

void check(cairo_status_t status, const std::string& what) {
  if (status != CAIRO_STATUS_SUCCESS) throw output_error(what + ": cairo: " + cairo_status_to_string(status));
}

std::string pdf_of(const Scene& scene, const std::string& title) {
  std::string bytes;
  cairo_surface_t* surface = cairo_pdf_surface_create_for_stream(append_to_string, &bytes, scene.width, scene.height);
  cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_TITLE, title.c_str());
  cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATOR, "xai");
  cairo_t* cr = cairo_create(surface);
  draw_scene(cr, scene, false);
  const cairo_status_t drawn = cairo_status(cr);
  cairo_destroy(cr);
  cairo_surface_finish(surface);
  const cairo_status_t finished = cairo_surface_status(surface);
  cairo_surface_destroy(surface);
  check(drawn, "PDF figure");
  check(finished, "PDF figure");
  return bytes;
}

uint32_t crc32_of(const std::string& bytes) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  uint32_t c = 0xffffffffu;
  for (unsigned char b : bytes) c = table[(c ^ b) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

void append_big_endian(std::string& out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((value >> shift) & 0xff));
}

// The PNG with a pHYs chunk after its header, so that layout programs place it at `dpi`.
std::string with_resolution(const std::string& png, double dpi) {
  constexpr size_t kAfterHeader = 8 + 25;  // signature, then IHDR (length, type, 13 bytes, CRC)
  if (png.size() < kAfterHeader || png.compare(12, 4, "IHDR") != 0) return png;
  const uint32_t per_metre = static_cast<uint32_t>(std::lround(dpi / 0.0254));
  std::string body = "pHYs";
  append_big_endian(body, per_metre);
  append_big_endian(body, per_metre);
  body.push_back(1);  // the unit: metres
  std::string chunk;
  append_big_endian(chunk, 9);
  chunk += body;
  append_big_endian(chunk, crc32_of(body));
  return png.substr(0, kAfterHeader) + chunk + png.substr(kAfterHeader);
}

std::string png_of(const Scene& scene, double dpi) {
  const double zoom = dpi / 72.0;
  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, static_cast<int>(std::ceil(scene.width * zoom)),
                                                        static_cast<int>(std::ceil(scene.height * zoom)));
  cairo_t* cr = cairo_create(surface);
  cairo_scale(cr, zoom, zoom);
  draw_scene(cr, scene, true);
  const cairo_status_t drawn = cairo_status(cr);
  cairo_destroy(cr);
  cairo_surface_flush(surface);
  // Encoded as xai's other PNGs are (OpenCV: fast deflate, run-length strategy), not by cairo: libpng's
  // defaults (level 6, every row filter tried) took 60 % of a whole `xai slide` run for its ~2000 px
  // overlays, for files ~8 % smaller. RGB24 pixels are 32-bit words, B, G, R and an unused byte in memory.
  std::string bytes;
  if (drawn == CAIRO_STATUS_SUCCESS) {
    static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "RGB24 words read as B, G, R, X bytes");
    const cv::Mat bgrx(cairo_image_surface_get_height(surface), cairo_image_surface_get_width(surface), CV_8UC4,
                       cairo_image_surface_get_data(surface),
                       static_cast<size_t>(cairo_image_surface_get_stride(surface)));
    cv::Mat bgr;
    cv::cvtColor(bgrx, bgr, cv::COLOR_BGRA2BGR);
    bytes = encode_png(bgr, "PNG figure");
  }
  cairo_surface_destroy(surface);
  check(drawn, "PNG figure");
  return with_resolution(bytes, dpi);
}

// ---- SVG, written here: cairo draws SVG text as glyph outlines; journals want <text> ----

std::string hex_colour(const cv::Vec3b& bgr) {
  char text[8];
  std::snprintf(text, sizeof text, "#%02x%02x%02x", bgr[2], bgr[1], bgr[0]);
  return text;
}

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", value);
  return text;
}

std::string svg_of(const Scene& scene, const std::string& title) {
  std::ostringstream out;
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" width=\""
      << number(scene.width / kPointsPerMm) << "mm\" height=\"" << number(scene.height / kPointsPerMm)
      << "mm\" viewBox=\"0 0 " << number(scene.width) << " " << number(scene.height) << "\">\n"
      << "<title>" << markup_escaped(title) << "</title>\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  for (const auto& image : scene.images)
    out << "<image x=\"" << number(image.at.x) << "\" y=\"" << number(image.at.y) << "\" width=\"" << number(image.at.width)
        << "\" height=\"" << number(image.at.height)
        << "\" preserveAspectRatio=\"none\" style=\"image-rendering:pixelated\" xlink:href=\"data:image/png;base64,"
        << base64_encode(encode_png(image.bgr, "figure panel")) << "\"/>\n";
  for (const auto& rect : scene.rects)
    out << "<rect x=\"" << number(rect.at.x) << "\" y=\"" << number(rect.at.y) << "\" width=\"" << number(rect.at.width)
        << "\" height=\"" << number(rect.at.height) << "\" fill=\"" << hex_colour(rect.bgr) << "\"/>\n";
  for (const auto& stroke : scene.strokes) {
    out << "<polyline fill=\"none\" stroke=\"" << hex_colour(stroke.bgr) << "\" stroke-width=\"" << number(stroke.width)
        << "\"" << (stroke.dashed ? " stroke-dasharray=\"2.5 1.5\"" : "") << " points=\"";
    for (const auto& p : stroke.points) out << number(p.x) << "," << number(p.y) << " ";
    out << "\"/>\n";
  }
  for (const auto& marker : scene.markers) {
    const double r = marker.radius;
    if (marker.diamond)
      out << "<polygon fill=\"" << hex_colour(marker.bgr) << "\" points=\"" << number(marker.at.x) << ","
          << number(marker.at.y - r) << " " << number(marker.at.x + r) << "," << number(marker.at.y) << " "
          << number(marker.at.x) << "," << number(marker.at.y + r) << " " << number(marker.at.x - r) << ","
          << number(marker.at.y) << "\"/>\n";
    else
      out << "<circle fill=\"none\" stroke=\"" << hex_colour(marker.bgr) << "\" stroke-width=\"0.5\" cx=\""
          << number(marker.at.x) << "\" cy=\"" << number(marker.at.y) << "\" r=\"" << number(r) << "\"/>\n";
  }
  for (size_t b = 0; b < scene.bars.size(); ++b) {
    const PlacedBar& bar = scene.bars[b];
    // The figure's bar keeps the plain ids; a panel's bar is numbered.
    const bool figure_bar = scene.figure_bar == b;
    const std::string id = figure_bar ? "colour-bar" : "colour-bar-" + std::to_string(b);
    const cv::Mat colours = bar_colours(bar);
    const int n = static_cast<int>(colours.total());
    out << "<defs><linearGradient id=\"" << id << "\" x1=\"0\" y1=\"0\" x2=\"" << (bar.horizontal ? 1 : 0)
        << "\" y2=\"" << (bar.horizontal ? 0 : 1) << "\">";
    for (int i = 0; i < n; i += 8)
      out << "<stop offset=\"" << static_cast<double>(i) / (n - 1) << "\" stop-color=\""
          << hex_colour(colours.at<cv::Vec3b>(i)) << "\"/>";
    out << "</linearGradient></defs>\n"
        << "<rect id=\"" << id << "-strip\" x=\"" << number(bar.at.x) << "\" y=\"" << number(bar.at.y) << "\" width=\""
        << number(bar.at.width) << "\" height=\"" << number(bar.at.height) << "\" fill=\"url(#" << id
        << ")\" stroke=\"#5a5a5a\" stroke-width=\"0.5\"/>\n";
  }
  for (const auto& text : scene.texts)
    out << "<text x=\"" << number(text.x) << "\" y=\"" << number(text.y) << "\" font-family=\"" << kFontFamily
        << ", sans-serif\" font-size=\"" << number(text.size) << "\" fill=\"" << hex_colour(text.ink) << "\""
        << (text.right_aligned ? " text-anchor=\"end\"" : text.centred ? " text-anchor=\"middle\"" : "") << ">"
        << markup_escaped(text.text) << "</text>\n";
  out << "</svg>\n";
  return out.str();
}

// In the file's units; a PNG's snapped parts on their whole pixels exactly.
cv::Rect2d scaled(const cv::Rect2d& r, double zoom, bool whole_pixels) {
  const auto to = [&](double v) { return whole_pixels ? std::round(v * zoom) : v * zoom; };
  return {to(r.x), to(r.y), to(r.width), to(r.height)};
}

// A PNG's bars on whole pixels, one colour per pixel: the first and last are exactly the scale's ends.
void snap_bars(Scene& scene, double zoom) {
  for (auto& bar : scene.bars) {
    const double x0 = std::round(bar.at.x * zoom), y0 = std::round(bar.at.y * zoom);
    const double x1 = std::round(bar.at.br().x * zoom), y1 = std::round(bar.at.br().y * zoom);
    bar.at = cv::Rect2d(x0 / zoom, y0 / zoom, (x1 - x0) / zoom, (y1 - y0) / zoom);
    bar.raster_pixels = static_cast<int>(bar.horizontal ? x1 - x0 : y1 - y0);
  }
}

// A PNG's images on whole pixels: one drawn at its own size is copied pixel for pixel.
void snap_images(Scene& scene, double zoom) {
  for (auto& image : scene.images) {
    const double x0 = std::round(image.at.x * zoom), y0 = std::round(image.at.y * zoom);
    // At least a pixel a side: a 2000x1 image's panel is a line, not nothing.
    const double w = std::max(1.0, std::round(image.at.width * zoom)), h = std::max(1.0, std::round(image.at.height * zoom));
    image.at = cv::Rect2d(x0 / zoom, y0 / zoom, w / zoom, h / zoom);
  }
}

std::string print_scene(Scene scene, const std::string& title, FigureFormat format, double dpi, PrintLayout* layout) {
  if (format == FigureFormat::png && dpi <= 0) dpi = kScreenDpi;
  const bool png = format == FigureFormat::png;
  const double zoom = png ? dpi / 72.0 : 1.0;
  if (png) snap_bars(scene, zoom), snap_images(scene, zoom);
  if (layout) {
    layout->width = scene.width * zoom, layout->height = scene.height * zoom;
    layout->dpi = format == FigureFormat::png ? dpi : 0;
    layout->panels.clear();
    layout->panel_bars.clear();
    for (const auto& image : scene.images) layout->panels.push_back(scaled(image.at, zoom, png));
    for (const auto& bar : scene.panel_bars)
      layout->panel_bars.push_back(bar ? scaled(scene.bars[*bar].at, zoom, png) : cv::Rect2d());
    layout->bar = scene.figure_bar ? scaled(scene.bars[*scene.figure_bar].at, zoom, png) : cv::Rect2d();
    layout->units = format == FigureFormat::png ? "px" : "pt";
  }
  switch (format) {
    case FigureFormat::png: return png_of(scene, dpi);
    case FigureFormat::pdf: return pdf_of(scene, title);
    case FigureFormat::svg: return svg_of(scene, title);
  }
  return {};
}

}  // namespace

FigureFormat parse_figure_format(const std::string& name) {
  if (name == "png") return FigureFormat::png;
  if (name == "svg") return FigureFormat::svg;
  if (name == "pdf") return FigureFormat::pdf;
  throw usage_error(setting_name("figure_format") + " " + name + ": expected png, svg or pdf");
}

std::string to_string(FigureFormat format) {
  switch (format) {
    case FigureFormat::png: return "png";
    case FigureFormat::svg: return "svg";
    case FigureFormat::pdf: return "pdf";
  }
  return "";
}

std::string print_figure(const std::vector<cv::Mat>& panels, const std::vector<std::string>& titles,
                         const std::vector<std::string>& header, const ColourScale* scale, int columns,
                         FigureFormat format, double dpi, PrintLayout* layout) {
  CV_Assert(panels.size() == titles.size());
  std::vector<FigurePanel> described;
  for (size_t i = 0; i < panels.size(); ++i) described.push_back({panels[i], titles[i], std::nullopt});
  return print_panels(described, header, scale, columns, format, dpi, layout);
}

std::string print_panels(const std::vector<FigurePanel>& panels, const std::vector<std::string>& header,
                         const ColourScale* scale, int columns, FigureFormat format, double dpi, PrintLayout* layout) {
  const bool screen = format == FigureFormat::png && dpi <= 0;
  return print_scene(lay_out(panels, header, scale, columns, screen ? kScreenDpi / 72.0 : 0),
                     header.empty() ? "xai figure" : header.front(), format, dpi, layout);
}

cv::Vec3b plot_colour(int index) {
  const auto& colours = palette();
  return colours[static_cast<size_t>(std::max(index, 0)) % colours.size()];
}

std::string print_plot(const PlotFigure& figure, FigureFormat format, double dpi) {
  return print_scene(lay_out_plot(figure), figure.header.empty() ? "xai plot" : figure.header.front(), format, dpi,
                     nullptr);
}

std::string print_table(const TableFigure& table, FigureFormat format, double dpi, PrintLayout* layout) {
  // A screen PNG of a table has no pixels of its own to keep: kScreenDpi.
  return print_scene(lay_out_table(table), table.header.empty() ? "xai table" : table.header.front(), format, dpi,
                     layout);
}

std::string encode_grid(const std::vector<cv::Mat>& tiles, const std::vector<std::string>& captions, int columns,
                        int tile_size, const std::vector<std::string>& header, const ColourScale* scale,
                        FigureFormat format, double dpi, const std::string& what) {
  if (format != FigureFormat::png || dpi > 0) return print_figure(tiles, captions, header, scale, columns, format, dpi);
  // A screen grid: every tile at `tile_size` on its longer side (small ones enlarged by nearest
  // neighbour, so that their pixels stay pixels).
  std::vector<cv::Mat> sized(tiles.size());
  for (size_t i = 0; i < tiles.size(); ++i) {
    const bool smaller = std::max(tiles[i].cols, tiles[i].rows) > tile_size;
    cv::resize(tiles[i], sized[i], fitted_size(tiles[i].size(), tile_size), 0, 0,
               smaller ? cv::INTER_AREA : cv::INTER_NEAREST);
  }
  return print_figure(sized, captions, header, scale, columns, format, dpi);
}

}  // namespace xai
