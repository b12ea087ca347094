#include "xai/map_stats.hpp"

#include <algorithm>
#include <opencv2/imgproc.hpp>
#include <cmath>
#include <vector>

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

  // Threshold = value of the k-th largest pixel, k = ceil(fraction * count).
  cv::Mat continuous = map.isContinuous() ? map : map.clone();
  std::vector<float> values(continuous.begin<float>(), continuous.end<float>());
  const size_t count = values.size();
  const size_t k = std::clamp<size_t>(static_cast<size_t>(std::ceil(top_fraction * count)), 1, count);
  std::nth_element(values.begin(), values.begin() + (k - 1), values.end(), std::greater<float>());
  const float threshold = values[k - 1];
  cv::Mat top = map >= threshold;
  stats.top_box = cv::boundingRect(top);
  return stats;
}

}  // namespace xai
