// Figures for a journal, drawn with cairo: the panels, titles, header and colour bar of compose_figure
// laid out in points for a journal column (85 mm; 174 mm when more than two panels sit side by side),
// text at 7-8 pt, then written as PDF (cairo: selectable text, a vector colour bar, images embedded at
// their full resolution), SVG (written here: <text> elements, a linearGradient bar, embedded PNGs) or
// PNG at a stated dpi (cairo, with the dpi recorded in the file).
#pragma once

#include <opencv2/core.hpp>
#include <optional>
#include <string>
#include <vector>

#include "output/figure.hpp"
#include "xai/settings.hpp"

namespace xai {

FigureFormat parse_figure_format(const std::string& name);  // throws usage_error
std::string to_string(FigureFormat format);                  // also the file extension

// Where the parts are, in the file's units: pixels for PNG, points (1/72 inch) for PDF and SVG.
struct PrintLayout {
  double width = 0, height = 0;
  std::vector<cv::Rect2d> panels;
  cv::Rect2d bar;  // the figure's: its top edge is `high`, its bottom edge `low` (empty without one)
  std::vector<cv::Rect2d> panel_bars;  // per panel, its own bar (empty without): left edge `low`, right `high`
  std::string units;  // "px" or "pt"
  double dpi = 0;     // PNG: the resolution it was drawn at (and records)
};

// One panel of a figure: an image, its title under it ('\n' separates lines) and, for a map on a
// scale of its own, its own colour bar (under the title) with the scale's units.
struct FigurePanel {
  cv::Mat image;  // 8-bit BGR
  std::string title;
  std::optional<ColourScale> scale;
};

// The file's bytes. `dpi` for PNG (ignored for the vector formats, which take none); a PNG without
// one is drawn at the resolution that shows its largest panel pixel for pixel.
std::string print_figure(const std::vector<cv::Mat>& panels, const std::vector<std::string>& titles,
                         const std::vector<std::string>& header, const ColourScale* scale, int columns,
                         FigureFormat format, double dpi, PrintLayout* layout = nullptr);

// Panels with their own colour bars, and, when `scale` is given, the figure's one bar at the right.
std::string print_panels(const std::vector<FigurePanel>& panels, const std::vector<std::string>& header,
                         const ColourScale* scale, int columns, FigureFormat format, double dpi,
                         PrintLayout* layout = nullptr);

// A table of numbers coloured by value (an agreement table: rows = model pairs, columns = metrics), with
// the scale's bar at the right and notes under it.
struct TableFigure {
  std::vector<std::string> header;
  std::vector<std::string> row_labels, column_labels;
  std::vector<std::vector<double>> values;        // per row and column: the colour (NaN: no value, gray)
  std::vector<std::vector<std::string>> cells;    // per row and column: the text ("0.82 ± 0.05")
  ColourScale scale;
  std::vector<std::string> notes;
};
std::string print_table(const TableFigure& table, FigureFormat format, double dpi, PrintLayout* layout = nullptr);

// A grid of tiles (tile_grid's: `tile_size` a cell, captions under each) as a file of `format`: the
// screen PNG when png without a dpi, else laid out for print by print_figure (tiles at full resolution).
std::string encode_grid(const std::vector<cv::Mat>& tiles, const std::vector<std::string>& captions, int columns,
                        int tile_size, const std::vector<std::string>& header, const ColourScale* scale,
                        FigureFormat format, double dpi, const std::string& what);

}  // namespace xai
