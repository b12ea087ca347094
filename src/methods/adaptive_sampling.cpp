#include "methods/adaptive_sampling.hpp"

#include <algorithm>
#include <cmath>

#include "core/statistics.hpp"

namespace xai {

double settled_agreement(double half_agreement) {
  if (!(half_agreement > 0)) return 0.0;
  return std::sqrt(2.0 * half_agreement / (1.0 + half_agreement));
}

double half_agreement(const std::vector<double>& a, const std::vector<double>& b) {
  auto constant = [](const std::vector<double>& v) {
    return std::all_of(v.begin(), v.end(), [&](double x) { return x == v.front(); });
  };
  const bool ca = a.empty() || constant(a), cb = b.empty() || constant(b);
  if (ca || cb) return ca && cb ? 1.0 : 0.0;
  return spearman(a, b);
}

std::vector<int> check_points(int first, int max, int step) {
  step = std::max(step, 1);
  auto round_up = [step](double n) { return static_cast<int>(std::ceil(n / step - 1e-9)) * step; };
  std::vector<int> points;
  double n = std::max(first, 2);
  while (true) {
    const int point = std::min(round_up(n), max);
    if (points.empty() || point > points.back()) points.push_back(point);
    if (point >= max) break;
    n = std::max(point * 1.25, point + 1.0);
  }
  return points;
}

std::vector<int> auto_rounds(int regions, int max_samples, int probe_batch) {
  return check_points(std::max(100, 4 * regions), max_samples, probe_batch > 0 ? probe_batch : 16);
}

bool SamplingOutcome::record_check(double worst_half_agreement, double tolerance) {
  ++checks;
  half_agreement = worst_half_agreement;
  agreement = settled_agreement(worst_half_agreement);
  settled = agreement >= 1 - tolerance;
  return settled;
}

}  // namespace xai
