#include "xai/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace xai {

cv::Mat top_fraction_mask(const cv::Mat& map, double fraction) {
  CV_Assert(map.type() == CV_32FC1 && !map.empty());
  const cv::Mat continuous = map.isContinuous() ? map : map.clone();
  std::vector<float> values(continuous.begin<float>(), continuous.end<float>());
  const size_t count = values.size();
  const size_t k = std::clamp<size_t>(static_cast<size_t>(std::ceil(fraction * count)), 1, count);
  std::nth_element(values.begin(), values.begin() + (k - 1), values.end(), std::greater<float>());
  const float threshold = values[k - 1];
  // Maps are often mostly zero after the ReLU: ties at the minimum are background, not "top",
  // unless the whole map is constant.
  double lo, hi;
  cv::minMaxLoc(map, &lo, &hi);
  if (threshold <= lo && hi > lo) return map > lo;
  return map >= threshold;
}

MaskAgreement mask_agreement(const cv::Mat& map, const cv::Mat& mask, double top_fraction) {
  CV_Assert(map.type() == CV_32FC1 && mask.type() == CV_8UC1 && map.size() == mask.size());
  MaskAgreement a;
  a.top_fraction = top_fraction;
  const cv::Mat inside = mask != 0;
  a.mask_empty = cv::countNonZero(inside) == 0;

  double lo, hi;
  cv::Point peak;
  cv::minMaxLoc(map, &lo, &hi, nullptr, &peak);
  a.map_constant = !(hi > lo);
  a.pointing_hit = !a.map_constant && inside.at<uchar>(peak) != 0;

  const double total = cv::sum(map)[0];
  cv::Mat map_inside = cv::Mat::zeros(map.size(), CV_32FC1);
  map.copyTo(map_inside, inside);
  a.energy_inside = total > 0 ? cv::sum(map_inside)[0] / total : 0.0;
  if (!std::isfinite(a.energy_inside)) a.energy_inside = 0.0;

  const cv::Mat top = top_fraction_mask(map, top_fraction);
  const int intersection = cv::countNonZero(top & inside);
  const int union_count = cv::countNonZero(top | inside);
  a.iou_top = union_count > 0 ? static_cast<double>(intersection) / union_count : 0.0;
  return a;
}

namespace {

std::vector<double> ranks(const std::vector<double>& values) {
  std::vector<size_t> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return values[a] < values[b]; });
  std::vector<double> r(values.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && values[order[j + 1]] == values[order[i]]) ++j;
    const double average = (i + j) / 2.0 + 1.0;  // ties share their mean rank
    for (size_t k = i; k <= j; ++k) r[order[k]] = average;
    i = j + 1;
  }
  return r;
}

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  const double n = static_cast<double>(a.size());
  const double ma = std::accumulate(a.begin(), a.end(), 0.0) / n, mb = std::accumulate(b.begin(), b.end(), 0.0) / n;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : 0.0;
}

}  // namespace

double spearman(const std::vector<double>& a, const std::vector<double>& b) { return pearson(ranks(a), ranks(b)); }

double top_fraction_iou(const cv::Mat& a, const cv::Mat& b, double fraction) {
  const cv::Mat top_a = top_fraction_mask(a, fraction), top_b = top_fraction_mask(b, fraction);
  const int union_count = cv::countNonZero(top_a | top_b);
  return union_count ? static_cast<double>(cv::countNonZero(top_a & top_b)) / union_count : 0.0;
}

}  // namespace xai
