#include "analysis/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "core/image_geometry.hpp"
#include "core/statistics.hpp"

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

double top_fraction_iou(const cv::Mat& a, const cv::Mat& b, double fraction) {
  const cv::Mat top_a = top_fraction_mask(a, fraction), top_b = top_fraction_mask(b, fraction);
  const int union_count = cv::countNonZero(top_a | top_b);
  return union_count ? static_cast<double>(cv::countNonZero(top_a & top_b)) / union_count : 0.0;
}

double structural_similarity(const cv::Mat& a, const cv::Mat& b) {
  CV_Assert(a.type() == CV_32FC1 && b.type() == CV_32FC1 && a.size() == b.size() && !a.empty());
  cv::Mat x, y;
  a.convertTo(x, CV_64F);
  b.convertTo(y, CV_64F);
  const auto local_mean = [](const cv::Mat& m) {
    cv::Mat out;
    cv::GaussianBlur(m, out, cv::Size(11, 11), 1.5, 1.5, cv::BORDER_REFLECT);
    return out;
  };
  const cv::Mat mx = local_mean(x), my = local_mean(y);
  const cv::Mat vx = local_mean(x.mul(x)) - mx.mul(mx);
  const cv::Mat vy = local_mean(y.mul(y)) - my.mul(my);
  const cv::Mat cxy = local_mean(x.mul(y)) - mx.mul(my);
  const double c1 = 0.01 * 0.01, c2 = 0.03 * 0.03;
  cv::Mat numerator = (2 * mx.mul(my) + c1).mul(2 * cxy + c2);
  cv::Mat denominator = (mx.mul(mx) + my.mul(my) + c1).mul(vx + vy + c2);
  cv::Mat ssim;
  cv::divide(numerator, denominator, ssim);
  // Away from the border, where the window is all reflection (when the map is large enough to have an inside).
  const int pad = 5;
  if (ssim.rows > 2 * pad && ssim.cols > 2 * pad) ssim = ssim(cv::Rect(pad, pad, ssim.cols - 2 * pad, ssim.rows - 2 * pad));
  return cv::mean(ssim)[0];
}

MapSimilarity map_similarity(const cv::Mat& a, const cv::Mat& b, double top_fraction, bool absolute) {
  CV_Assert(a.type() == CV_32FC1 && b.type() == CV_32FC1 && a.size() == b.size() && !a.empty());
  MapSimilarity s;
  if (cv::norm(a, b, cv::NORM_INF) == 0) return {1.0, 1.0, 1.0};
  cv::Mat x = shrink_to_fit(absolute ? cv::Mat(cv::abs(a)) : a, 128, cv::INTER_AREA);
  cv::Mat y = shrink_to_fit(absolute ? cv::Mat(cv::abs(b)) : b, 128, cv::INTER_AREA);
  if (!x.isContinuous()) x = x.clone();
  if (!y.isContinuous()) y = y.clone();
  s.spearman = spearman(std::vector<double>(x.begin<float>(), x.end<float>()),
                        std::vector<double>(y.begin<float>(), y.end<float>()));
  const auto unit_range = [](const cv::Mat& m) {
    cv::Mat out;
    cv::normalize(m, out, 0.0, 1.0, cv::NORM_MINMAX);  // a constant map becomes 0
    return out;
  };
  s.ssim = structural_similarity(unit_range(x), unit_range(y));
  s.iou_top = top_fraction_iou(x, y, top_fraction);
  return s;
}

}  // namespace xai
