#include "output/figure.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace xai {
namespace {

const cv::Vec3b kNeutral(128, 128, 128);  // "the image" under a signed colour: mid gray

}  // namespace

std::string short_number(double value) {
  if (value == 0) return "0";
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", value);
  return text;
}

namespace {

// The colours of a column of values (CV_32FC1, N x 1) in one call: a colour map's table is built per
// call, ~0.5 ms, too slow to build once per row of a bar.
cv::Mat scale_colours(const ColourScale& scale, const cv::Mat& values) {
  if (scale.kind == ColourScale::Kind::colormap) {
    const double span = scale.high - scale.low;
    cv::Mat levels = span > 0 ? cv::Mat((values - scale.low) / span) : cv::Mat(values.size(), CV_32FC1, cv::Scalar(1.0));
    levels = cv::max(cv::min(levels, 1.0), 0.0);
    return colorize(levels, scale.colormap);
  }
  // As render_signed_map draws a value over the image, drawn over mid gray.
  const double limit = std::max(std::abs(scale.low), std::abs(scale.high));
  const cv::Mat gray(values.size(), CV_8UC3, cv::Scalar(kNeutral[0], kNeutral[1], kNeutral[2]));
  return render_signed_map(gray, values, limit, scale.signed_colormap);
}

}  // namespace

cv::Mat scale_colour_column(const ColourScale& scale, int rows) {
  cv::Mat values(rows, 1, CV_32FC1);
  for (int row = 0; row < rows; ++row) {
    const double t = rows > 1 ? static_cast<double>(row) / (rows - 1) : 0.0;
    values.at<float>(row, 0) = static_cast<float>(scale.high - t * (scale.high - scale.low));
  }
  return scale_colours(scale, values);
}

cv::Vec3b scale_colour(const ColourScale& scale, double value) {
  return scale_colours(scale, cv::Mat(1, 1, CV_32FC1, cv::Scalar(value))).at<cv::Vec3b>(0, 0);
}

}  // namespace xai
