// Every figure xai draws, drawn with cairo: panels under a header, each titled, with a colour bar
// for the figure or one per panel, laid out in points with text at 7-8 pt. For a journal (svg, pdf,
// or png at a stated dpi) the page is one column (85 mm) or two (174 mm) wide and the images are
// embedded at their full resolution: PDF (cairo: selectable text, vector colour bars), SVG (written
// here: <text> elements, linearGradient bars, embedded PNGs) or PNG (the dpi recorded in the file).
// On screen (png without a dpi) the cells are as wide as the panels, drawn at 150 dpi pixel for pixel.
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

// Line plots side by side (faithfulness curves: deletion, insertion; the fidelity plot), each series in
// its own colour and style, with a legend under them.
struct PlotSeries {
  std::string name;                  // the legend's first line
  std::string note;                  // its second (numbers: areas, medians); may be empty
  std::vector<cv::Point2d> points;   // in data units
  int plot = 0;                      // which plot it is drawn in
  bool joined = true;                // a line through the points (false: markers only)
  bool dashed = false;               // a reference (random order)
  std::optional<cv::Point2d> emphasised;  // one point drawn large (a median)
  int colour = -1;                   // index into the palette; -1: the series' own index; -2: gray
};
struct Plot {
  std::string title, x_label, y_label;
  double x_min = 0, x_max = 1, y_min = 0, y_max = 1;
  bool log_x = false;
  std::vector<double> x_ticks, y_ticks;
};
struct PlotFigure {
  std::vector<std::string> header;
  std::vector<Plot> plots;
  std::vector<PlotSeries> series;
};
std::string print_plot(const PlotFigure& figure, FigureFormat format, double dpi);
// The palette's colours (8-bit BGR): Okabe and Ito's, which colour-blind readers tell apart.
cv::Vec3b plot_colour(int index);

// A grid of tiles, captions under each, as a file of `format`: on screen (png without a dpi) every tile
// scaled to `tile_size` on its longer side (small ones enlarged by nearest neighbour); for print the
// tiles at their full resolution.
std::string encode_grid(const std::vector<cv::Mat>& tiles, const std::vector<std::string>& captions, int columns,
                        int tile_size, const std::vector<std::string>& header, const ColourScale* scale,
                        FigureFormat format, double dpi, const std::string& what);

}  // namespace xai
