// Figures a reader can take as they are: panels side by side under a header, with a colour bar that
// says what the colours mean (xai's own layout: OpenCV drawing, no plotting library).
#pragma once

#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "output/render.hpp"

namespace xai {

// What a map's colours stand for, for the colour bar.
struct ColourScale {
  enum class Kind {
    colormap,  // [low, high] through the colour map (CAMs: 0..1 relative; RISE: its own range)
    signed_,   // -limit..+limit: the negative colour through the image to the positive one, as render_signed_map
  };
  Kind kind = Kind::colormap;
  Colormap colormap = Colormap::viridis;
  SignedColormap signed_colormap = SignedColormap::orange_blue;
  double alpha = 0.5;  // the overlay's opacity: the bar shows the colours as blended over mid gray
  double low = 0, high = 1;  // colormap: the values at the bar's ends; signed_: -limit, +limit
  std::string units;         // under the bar ("relative", "LIME weight", ...)
  bool saturates = false;    // values beyond the ends exist and are drawn as the ends ("≥" labels)
};

// The colour a value gets on the bar (8-bit BGR), for tests and for the bar itself.
cv::Vec3b scale_colour(const ColourScale& scale, double value);
// The bar's colours top (`high`) to bottom (`low`), `rows` x 1, 8-bit BGR.
cv::Mat scale_colour_column(const ColourScale& scale, int rows);

// Where the parts of a composed figure are, in its pixels.
struct FigureLayout {
  std::vector<cv::Rect> panels;
  cv::Rect bar;  // the colour strip: its top row is `high`, its bottom row `low`
};

// Panels (8-bit BGR, placed at their own size, centred in equal cells) `columns` to a row (0: all in
// one row), each titled underneath ('\n' separates lines), under a header of text lines, with a
// vertical colour bar at the right when `scale` is given.
cv::Mat compose_figure(const std::vector<cv::Mat>& panels, const std::vector<std::string>& titles,
                       const std::vector<std::string>& header, const ColourScale* scale, int columns = 0,
                       FigureLayout* layout = nullptr);

// A short number for labels: 3 significant digits, no trailing zeros ("0.0342", "-12.5", "1").
std::string short_number(double value);

}  // namespace xai
