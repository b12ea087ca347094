// What a map's colours mean, for the colour bars of every figure (print_figure.hpp draws them with
// cairo): the scale, the colour a value gets, and the short numbers of labels.
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

// A short number for labels: 3 significant digits, no trailing zeros ("0.0342", "-12.5", "1").
std::string short_number(double value);

}  // namespace xai
