// Summary numbers of one explanation map, reported in JSON so scripts need not load the map.
#pragma once

#include <opencv2/core.hpp>

namespace xai {

struct MapStats {
  cv::Point peak;           // first pixel (raster order) holding the maximum
  float peak_value = 0;
  float mean = 0;
  cv::Rect top_box;         // bounding box of the top `top_fraction` of pixels by value
  double top_fraction = 0.2;
};

// `map` is CV_32FC1. The top pixels are those at or above the (1 - top_fraction) quantile;
// for a constant map that is every pixel.
MapStats compute_map_stats(const cv::Mat& map, double top_fraction = 0.2);

}  // namespace xai
