// Kernel SHAP's coalitions and its constrained weighted least squares (shapley.hpp).
#include <cmath>
#include <map>
#include <numeric>
#include <random>

#include "xai/error.hpp"
#include "methods/shapley.hpp"

namespace xai {
namespace {

double binomial(int n, int k) {
  double r = 1;
  for (int i = 1; i <= k; ++i) r = r * (n - k + i) / i;
  return r;
}

// Uniform in [0, 1) from the top 53 bits: the same numbers with every standard library (unlike
// std::uniform_real_distribution and std::discrete_distribution, whose algorithms are unspecified).
double uniform(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

int choose_index(std::mt19937_64& rng, const std::vector<double>& cumulative) {
  const double u = uniform(rng) * cumulative.back();
  for (size_t i = 0; i < cumulative.size(); ++i)
    if (u < cumulative[i]) return static_cast<int>(i);
  return static_cast<int>(cumulative.size()) - 1;
}

class CoalitionBuilder {
 public:
  explicit CoalitionBuilder(Coalitions& c) : c_(c) {}
  void add(const std::vector<uint8_t>& on, double weight, int draw = -1) {
    c_.switches.insert(c_.switches.end(), on.begin(), on.end());
    c_.weights.push_back(weight);
    c_.draw.push_back(draw);
    ++c_.rows;
  }

 private:
  Coalitions& c_;
};

std::vector<uint8_t> complement(std::vector<uint8_t> on) {
  for (auto& v : on) v = static_cast<uint8_t>(1 - v);
  return on;
}

}  // namespace

int kernel_shap_default_samples(int features) { return 2 * features + 2048; }

Coalitions kernel_shap_coalitions(int features, int budget, uint64_t seed) {
  if (features < 1) throw usage_error("Kernel SHAP needs at least one region");
  if (budget < 2) throw usage_error(setting_name("samples") + " must be at least 2 (got " + std::to_string(budget) + ")");
  const int M = features;
  Coalitions c;
  c.features = M;
  CoalitionBuilder builder(c);
  if (M == 1) {  // one player: φ = f_full − f_empty, nothing to sample
    c.exhaustive = true;
    return c;
  }
  // The kernel's mass on each coalition size s: (M−1) / (s (M−s)), shared by its C(M, s) coalitions.
  auto size_weight = [M](int s) { return (M - 1.0) / (s * double(M - s)); };

  if (M < 31 && (1LL << M) - 2 <= budget) {
    for (long long bits = 1; bits < (1LL << M) - 1; ++bits) {
      std::vector<uint8_t> on(M);
      int s = 0;
      for (int j = 0; j < M; ++j) s += on[j] = static_cast<uint8_t>((bits >> j) & 1);
      builder.add(on, size_weight(s) / binomial(M, s));
    }
    c.exhaustive = true;
    c.enumerated_sizes = M / 2;
    return c;
  }

  // shap's KernelExplainer: sizes s and M−s form a pair (one size in the middle when M is even).
  const int sizes = (M - 1 + 1) / 2;    // ceil((M−1)/2)
  const int paired_sizes = (M - 1) / 2;  // floor((M−1)/2)
  std::vector<double> weight(sizes);
  for (int s = 1; s <= sizes; ++s) weight[s - 1] = size_weight(s) * (s <= paired_sizes ? 2 : 1);
  const double total = std::accumulate(weight.begin(), weight.end(), 0.0);
  for (auto& w : weight) w /= total;

  std::vector<double> remaining = weight;
  double samples_left = budget;
  int full = 0;
  for (int s = 1; s <= sizes; ++s) {
    double subsets = binomial(M, s) * (s <= paired_sizes ? 2 : 1);
    if (samples_left * remaining[s - 1] / subsets < 1.0 - 1e-8) break;
    ++full;
    samples_left -= subsets;
    const double enumerated = remaining[s - 1];
    if (enumerated < 1.0)
      for (auto& r : remaining) r /= 1.0 - enumerated;
    const double w = weight[s - 1] / binomial(M, s) / (s <= paired_sizes ? 2.0 : 1.0);
    // Every subset of size s, in lexicographic order of its indices.
    std::vector<int> index(s);
    std::iota(index.begin(), index.end(), 0);
    while (true) {
      std::vector<uint8_t> on(M, 0);
      for (int i : index) on[i] = 1;
      builder.add(on, w);
      if (s <= paired_sizes) builder.add(complement(on), w);
      int i = s - 1;
      while (i >= 0 && index[i] == M - s + i) --i;
      if (i < 0) break;
      ++index[i];
      for (int j = i + 1; j < s; ++j) index[j] = index[j - 1] + 1;
    }
  }
  c.enumerated_sizes = full;
  const int fixed_rows = c.rows;
  int left = budget - fixed_rows;
  if (full < sizes && left > 0) {
    std::vector<double> cumulative;
    double acc = 0;
    for (int s = full + 1; s <= sizes; ++s)
      cumulative.push_back(acc += weight[s - 1] / (s <= paired_sizes ? 2.0 : 1.0));  // pairs count twice below
    std::mt19937_64 rng(seed);
    std::map<std::vector<uint8_t>, int> row_of;
    std::vector<int> order(M);
    for (long long draw = 0; draw < 4LL * (budget - fixed_rows) && left > 0; ++draw) {
      const int s = choose_index(rng, cumulative) + full + 1;
      std::iota(order.begin(), order.end(), 0);
      for (int i = 0; i < s; ++i) {  // the first s of a random permutation
        const int j = i + static_cast<int>(uniform(rng) * (M - i));
        std::swap(order[i], order[j]);
      }
      std::vector<uint8_t> on(M, 0);
      for (int i = 0; i < s; ++i) on[order[i]] = 1;
      const auto found = row_of.find(on);
      const bool fresh = found == row_of.end();
      if (fresh) {
        row_of[on] = c.rows;
        builder.add(on, 1.0, static_cast<int>(draw));
        --left;
      } else {
        c.weights[found->second] += 1.0;
      }
      if (left > 0 && s <= paired_sizes) {
        if (fresh) {
          builder.add(complement(on), 1.0, static_cast<int>(draw));
          --left;
        } else {
          c.weights[found->second + 1] += 1.0;
        }
      }
    }
    // The sampled rows share the kernel mass of the sizes not enumerated.
    double weight_left = 0, sampled = 0;
    for (int s = full + 1; s <= sizes; ++s) weight_left += weight[s - 1];
    for (int r = fixed_rows; r < c.rows; ++r) sampled += c.weights[r];
    for (int r = fixed_rows; r < c.rows; ++r) c.weights[r] *= weight_left / sampled;
  }
  return c;
}

Coalitions half_of(const Coalitions& c, int stride, int half) {
  Coalitions h;
  h.features = c.features;
  h.enumerated_sizes = c.enumerated_sizes;
  double sampled_all = 0, sampled_kept = 0;
  for (int r = 0; r < c.rows; ++r) {
    const bool sampled = c.draw[r] >= 0;
    if (sampled) sampled_all += c.weights[r];
    if (sampled && (c.draw[r] / stride) % 2 != half) continue;
    if (sampled) sampled_kept += c.weights[r];
    h.switches.insert(h.switches.end(), c.switches.begin() + static_cast<ptrdiff_t>(r) * c.features,
                      c.switches.begin() + static_cast<ptrdiff_t>(r + 1) * c.features);
    h.weights.push_back(c.weights[r]);
    h.draw.push_back(c.draw[r]);
    ++h.rows;
  }
  if (sampled_kept > 0)
    for (int r = 0; r < h.rows; ++r)
      if (h.draw[r] >= 0) h.weights[r] *= sampled_all / sampled_kept;
  return h;
}

KernelShapSolver::KernelShapSolver(const Coalitions& coalitions) : c_(coalitions) {
  const int M = c_.features;
  if (M < 2) return;
  // Efficiency eliminates the last region: φ_last = (f_full − f_empty) − Σ φ_j, so row z enters as
  // (z_j − z_last) for j < last.
  cv::Mat normal = cv::Mat::zeros(M - 1, M - 1, CV_64FC1);
  std::vector<double> x(M - 1);
  for (int r = 0; r < c_.rows; ++r) {
    const uint8_t* z = c_.switches.data() + static_cast<size_t>(r) * M;
    for (int j = 0; j < M - 1; ++j) x[j] = double(z[j]) - z[M - 1];
    const double w = c_.weights[r];
    for (int a = 0; a < M - 1; ++a) {
      if (x[a] == 0) continue;
      double* row = normal.ptr<double>(a);
      for (int b = 0; b < M - 1; ++b) row[b] += w * x[a] * x[b];
    }
  }
  cv::invert(normal, inverse_, cv::DECOMP_SVD);  // a pseudo-inverse when fewer coalitions than regions
}

std::vector<double> KernelShapSolver::solve(const std::vector<double>& values, double f_full, double f_empty) const {
  const int M = c_.features;
  const double gap = f_full - f_empty;
  if (M == 1) return {gap};
  if (static_cast<int>(values.size()) != c_.rows) throw Error(ExitCode::internal, "Kernel SHAP: one value per coalition");
  std::vector<double> b(M - 1, 0.0);
  for (int r = 0; r < c_.rows; ++r) {
    const uint8_t* z = c_.switches.data() + static_cast<size_t>(r) * M;
    const double y = values[r] - f_empty - z[M - 1] * gap;
    const double wy = c_.weights[r] * y;
    for (int j = 0; j < M - 1; ++j) b[j] += (double(z[j]) - z[M - 1]) * wy;
  }
  std::vector<double> phi(M, 0.0);
  double sum = 0;
  for (int a = 0; a < M - 1; ++a) {
    const double* row = inverse_.ptr<double>(a);
    for (int j = 0; j < M - 1; ++j) phi[a] += row[j] * b[j];
    sum += phi[a];
  }
  phi[M - 1] = gap - sum;
  return phi;
}

}  // namespace xai
