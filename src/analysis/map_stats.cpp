#include "xai/map_stats.hpp"

#include "analysis/metrics.hpp"

#include <opencv2/imgproc.hpp>

namespace xai {

MapStats compute_map_stats(const cv::Mat& map, double top_fraction) {
  CV_Assert(map.type() == CV_32FC1 && !map.empty());
  MapStats stats;
  stats.top_fraction = top_fraction;
  double lo, hi;
  cv::Point lo_at, hi_at;
  cv::minMaxLoc(map, &lo, &hi, &lo_at, &hi_at);
  stats.peak = hi_at;
  stats.peak_value = static_cast<float>(hi);
  stats.mean = static_cast<float>(cv::mean(map)[0]);

  stats.top_box = cv::boundingRect(top_fraction_mask(map, top_fraction));
  return stats;
}

}  // namespace xai
