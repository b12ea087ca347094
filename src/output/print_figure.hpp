// Figures for a journal, drawn with cairo: the panels, titles, header and colour bar of compose_figure
// laid out in points for a journal column (85 mm; 174 mm when more than two panels sit side by side),
// text at 7-8 pt, then written as PDF (cairo: selectable text, a vector colour bar, images embedded at
// their full resolution), SVG (written here: <text> elements, a linearGradient bar, embedded PNGs) or
// PNG at a stated dpi (cairo, with the dpi recorded in the file).
#pragma once

#include <opencv2/core.hpp>
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
  cv::Rect2d bar;  // its top edge is `high`, its bottom edge `low`
  std::string units;  // "px" or "pt"
};

// The file's bytes. `dpi` for PNG (ignored for the vector formats, which take none).
std::string print_figure(const std::vector<cv::Mat>& panels, const std::vector<std::string>& titles,
                         const std::vector<std::string>& header, const ColourScale* scale, int columns,
                         FigureFormat format, double dpi, PrintLayout* layout = nullptr);

// A grid of tiles (tile_grid's: `tile_size` a cell, captions under each) as a file of `format`: the
// screen PNG when png without a dpi, else laid out for print by print_figure (tiles at full resolution).
std::string encode_grid(const std::vector<cv::Mat>& tiles, const std::vector<std::string>& captions, int columns,
                        int tile_size, const std::vector<std::string>& header, const ColourScale* scale,
                        FigureFormat format, double dpi, const std::string& what);

}  // namespace xai
