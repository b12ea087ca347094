#include "xai/statistics.hpp"

#include <algorithm>
#include <cmath>

namespace xai {

std::vector<double> quantiles(std::vector<double> values, const std::vector<double>& qs) {
  std::vector<double> out;
  if (values.empty()) return std::vector<double>(qs.size(), 0.0);
  std::sort(values.begin(), values.end());
  for (double q : qs) {
    const double position = std::clamp(q, 0.0, 1.0) * static_cast<double>(values.size() - 1);
    const size_t below = static_cast<size_t>(std::floor(position));
    const size_t above = std::min(below + 1, values.size() - 1);
    out.push_back(values[below] + (position - static_cast<double>(below)) * (values[above] - values[below]));
  }
  return out;
}

double quantile(std::vector<double> values, double q) { return quantiles(std::move(values), {q}).front(); }

}  // namespace xai
