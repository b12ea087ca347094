#include "output/print_figure.hpp"

#include "output/figure_scene.hpp"

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

constexpr double kNarrowWidth = 85 * kPointsPerMm;  // one journal column
constexpr double kWideWidth = 174 * kPointsPerMm;   // a page's two columns
constexpr double kMargin = 4, kGap = 4, kBarWidth = 8, kBarGap = 3;
constexpr double kHeaderSize = 8, kLabelSize = 6.5, kSmallestSize = 5;

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
