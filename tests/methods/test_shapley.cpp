// Kernel SHAP and Owen values against their definitions, computed here independently: Shapley
// values by the 2^M subset formula, Owen values by averaging marginal contributions over every
// player order that keeps each coalition of the hierarchy together.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <iostream>
#include <numeric>

#include "xai/error.hpp"
#include "analysis/metrics.hpp"
#include "core/statistics.hpp"
#include "methods/shapley.hpp"

namespace xai {
namespace {

using Game = std::function<double(const std::vector<uint8_t>&)>;

// A game with interactions of every order, so that no shortcut gets the values right by accident.
Game interacting_game(int players, unsigned seed) {
  std::vector<double> linear(players), pair(players);
  for (int i = 0; i < players; ++i) {
    linear[i] = std::sin(1.7 * (i + 1) + seed) * 0.3;
    pair[i] = std::cos(0.9 * (i + 2) * (seed + 1)) * 0.2;
  }
  return [=](const std::vector<uint8_t>& on) {
    double z = -0.4;
    for (int i = 0; i < players; ++i) {
      z += linear[i] * on[i];
      z += pair[i] * on[i] * on[(i + 1) % players];  // neighbours interact
    }
    const int count = std::accumulate(on.begin(), on.end(), 0);
    z += 0.05 * count * count / players;  // and so does the coalition's size
    return 1.0 / (1.0 + std::exp(-z));    // a probability, as the methods explain
  };
}

// φ_i = Σ_{S ⊆ N∖{i}} |S|! (M−|S|−1)! / M! · (v(S ∪ {i}) − v(S)).
std::vector<double> shapley_by_definition(const Game& v, int M) {
  std::vector<double> factorial(M + 1, 1.0);
  for (int i = 1; i <= M; ++i) factorial[i] = factorial[i - 1] * i;
  std::vector<double> phi(M, 0.0);
  for (long long bits = 0; bits < (1LL << M); ++bits) {
    std::vector<uint8_t> s(M);
    int size = 0;
    for (int j = 0; j < M; ++j) size += s[j] = static_cast<uint8_t>((bits >> j) & 1);
    const double vs = v(s);
    for (int i = 0; i < M; ++i) {
      if (s[i]) continue;
      std::vector<uint8_t> with = s;
      with[i] = 1;
      phi[i] += factorial[size] * factorial[M - size - 1] / factorial[M] * (v(with) - vs);
    }
  }
  return phi;
}

std::vector<double> kernel_shap(const Game& v, int M, int budget, uint64_t seed, Coalitions* out = nullptr) {
  const Coalitions c = kernel_shap_coalitions(M, budget, seed);
  std::vector<double> values(c.rows);
  for (int r = 0; r < c.rows; ++r)
    values[r] = v(std::vector<uint8_t>(c.switches.begin() + static_cast<size_t>(r) * M,
                                       c.switches.begin() + static_cast<size_t>(r + 1) * M));
  const std::vector<double> phi =
      KernelShapSolver(c).solve(values, v(std::vector<uint8_t>(M, 1)), v(std::vector<uint8_t>(M, 0)));
  if (out) *out = c;
  return phi;
}

double max_abs_difference(const std::vector<double>& a, const std::vector<double>& b) {
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(a[i] - b[i]));
  return d;
}

TEST(KernelShap, EnumerationIsTheExactShapleyValue) {
  for (int M = 1; M <= 12; ++M) {
    SCOPED_TRACE("M = " + std::to_string(M));
    const Game v = interacting_game(M, static_cast<unsigned>(M));
    Coalitions c;
    const std::vector<double> phi = kernel_shap(v, M, (1 << M), 7, &c);
    EXPECT_TRUE(c.exhaustive);
    EXPECT_EQ(c.rows, M == 1 ? 0 : (1 << M) - 2);
    EXPECT_LT(max_abs_difference(phi, shapley_by_definition(v, M)), 1e-6);
    const double gap = v(std::vector<uint8_t>(M, 1)) - v(std::vector<uint8_t>(M, 0));
    EXPECT_NEAR(std::accumulate(phi.begin(), phi.end(), 0.0), gap, 1e-12) << "efficiency";
  }
}

TEST(KernelShap, PairedSamplingConvergesToTheShapleyValue) {
  const int M = 14;
  const Game v = interacting_game(M, 3);
  const std::vector<double> exact = shapley_by_definition(v, M);
  const double gap = v(std::vector<uint8_t>(M, 1)) - v(std::vector<uint8_t>(M, 0));
  std::cout << "Kernel SHAP, " << M << " regions (2^M - 2 = " << (1 << M) - 2 << " coalitions):\n";
  double previous_error = 1e9;
  for (int budget : {100, 400, 1600, 6400}) {
    double error = 0, rho = 0;
    const int seeds = 5;
    for (int seed = 0; seed < seeds; ++seed) {
      Coalitions c;
      const std::vector<double> phi = kernel_shap(v, M, budget, seed, &c);
      EXPECT_FALSE(c.exhaustive);
      EXPECT_LE(c.rows, budget);
      EXPECT_NEAR(std::accumulate(phi.begin(), phi.end(), 0.0), gap, 1e-12) << "efficiency holds in every run";
      error += max_abs_difference(phi, exact) / seeds;
      rho += spearman(phi, exact) / seeds;
    }
    std::cout << "  samples " << budget << ": mean max error " << error << ", mean Spearman rho " << rho << "\n";
    EXPECT_LT(error, previous_error) << "more samples, closer";
    previous_error = error;
    if (budget >= 1600) EXPECT_GT(rho, 0.95);
  }
  EXPECT_LT(previous_error, 0.01);
}

TEST(KernelShap, SamplesComplementaryPairsAndEnumeratesTheSmallSizesFirst) {
  const int M = 20;
  const Coalitions c = kernel_shap_coalitions(M, 500, 1);
  EXPECT_FALSE(c.exhaustive);
  EXPECT_EQ(c.rows, 500);
  // Sizes 1 and 19 (40 coalitions) fit the budget and are enumerated; size 2 and 18 (380) do not.
  EXPECT_EQ(c.enumerated_sizes, 1);
  // Every coalition is followed by its complement, except those of the middle size M/2 (their own
  // size class) and a last row the budget cut off.
  int middle = 0;
  for (int r = 0; r < c.rows;) {
    const uint8_t* row = c.switches.data() + static_cast<size_t>(r) * M;
    if (std::accumulate(row, row + M, 0) == M / 2) {
      ++middle, ++r;
      continue;
    }
    if (r + 1 == c.rows) break;
    for (int j = 0; j < M; ++j) ASSERT_EQ(row[j] + row[M + j], 1) << "row " << r;
    r += 2;
  }
  EXPECT_GT(middle, 0);
  for (double w : c.weights) EXPECT_GT(w, 0);
  // Same seed, same coalitions.
  EXPECT_EQ(kernel_shap_coalitions(M, 500, 1).switches, c.switches);
  EXPECT_NE(kernel_shap_coalitions(M, 500, 2).switches, c.switches);
  EXPECT_THROW(kernel_shap_coalitions(M, 1, 0), Error);
}

// Owen values by definition: the mean marginal contribution over the orders in which every node's
// pixels come one after another.
std::vector<double> owen_by_definition(const Hierarchy& h, const Game& v) {
  const int n = h.height * h.width;
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::vector<double> value(n, 0.0);
  long long kept = 0;
  do {
    std::vector<int> position(n);
    for (int i = 0; i < n; ++i) position[order[i]] = i;
    bool consistent = true;
    for (const auto& node : h.nodes) {
      int lo = n, hi = -1;
      for (int i = node.begin; i < node.end; ++i)
        lo = std::min(lo, position[h.pixel_order[i]]), hi = std::max(hi, position[h.pixel_order[i]]);
      if (hi - lo + 1 != node.end - node.begin) consistent = false;
    }
    if (!consistent) continue;
    ++kept;
    std::vector<uint8_t> on(n, 0);
    double before = v(on);
    for (int p : order) {
      on[p] = 1;
      const double after = v(on);
      value[p] += after - before;
      before = after;
    }
  } while (std::next_permutation(order.begin(), order.end()));
  for (auto& x : value) x /= kept;
  return value;
}

CoalitionValue batch_of(const Game& v, int* calls = nullptr) {
  return [v, calls](const std::vector<std::vector<uint8_t>>& masks) {
    if (calls) ++*calls;
    std::vector<double> out;
    for (const auto& m : masks) out.push_back(v(m));
    return out;
  };
}

TEST(PartitionShap, FullExpansionIsTheExactOwenValue) {
  const Hierarchy h = axis_hierarchy(2, 4);  // 8 pixels: halves, quarters, pairs, pixels
  ASSERT_EQ(h.nodes.size(), 15u);
  const Game v = interacting_game(8, 5);
  const OwenResult owen = owen_values(h, batch_of(v), 1000000, 6);
  EXPECT_TRUE(owen.exact);
  const std::vector<double> expected = owen_by_definition(h, v);
  EXPECT_LT(max_abs_difference(owen.pixel_values, expected), 1e-6);
  EXPECT_NEAR(std::accumulate(owen.pixel_values.begin(), owen.pixel_values.end(), 0.0), owen.f_full - owen.f_empty,
              1e-12);
  // Owen values differ from Shapley values when the hierarchy matters: the test is not vacuous.
  EXPECT_GT(max_abs_difference(expected, shapley_by_definition(v, 8)), 1e-4);
}

TEST(PartitionShap, MergeTreeOverRegionsIsExactOnItsLeaves) {
  // Six regions of a 2x3 image (one pixel each): colours make 0,1 and 3,4 the closest neighbours.
  cv::Mat view(2, 3, CV_32FC3);
  const float grey[6] = {0.10f, 0.12f, 0.90f, 0.50f, 0.52f, 0.30f};
  cv::Mat segments(2, 3, CV_32SC1);
  for (int i = 0; i < 6; ++i) {
    view.at<cv::Vec3f>(i / 3, i % 3) = cv::Vec3f(grey[i], grey[i], grey[i]);
    segments.at<int>(i / 3, i % 3) = i;
  }
  const Hierarchy h = merge_hierarchy(view, segments, 6);
  ASSERT_EQ(h.nodes.size(), 11u);
  auto together = [&](int a, int b) {  // some node holds exactly these two leaves
    for (const auto& n : h.nodes)
      if (n.end - n.begin == 2) {
        std::vector<int> p(h.pixel_order.begin() + n.begin, h.pixel_order.begin() + n.end);
        std::sort(p.begin(), p.end());
        if (p == std::vector<int>{a, b}) return true;
      }
    return false;
  };
  EXPECT_TRUE(together(0, 1));
  EXPECT_TRUE(together(3, 4));
  const Game v = interacting_game(6, 9);
  const OwenResult owen = owen_values(h, batch_of(v), 1000000, 64);
  EXPECT_TRUE(owen.exact);
  EXPECT_LT(max_abs_difference(owen.pixel_values, owen_by_definition(h, v)), 1e-6);
}

TEST(PartitionShap, ABudgetStopsEarlyAndKeepsEfficiency) {
  const Hierarchy h = axis_hierarchy(16, 16);
  std::vector<uint8_t> all(256, 1);
  const Game v = [](const std::vector<uint8_t>& on) {  // only the top-left 4x4 block matters
    double s = 0;
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 4; ++x) s += on[y * 16 + x];
    return s * s / 256.0;
  };
  int calls = 0;
  const OwenResult owen = owen_values(h, batch_of(v, &calls), 40, 8);
  EXPECT_FALSE(owen.exact);
  EXPECT_LE(owen.evaluations, 40);
  EXPECT_LT(calls - 1, owen.expanded) << "expansions are batched";
  EXPECT_NEAR(std::accumulate(owen.pixel_values.begin(), owen.pixel_values.end(), 0.0), owen.f_full - owen.f_empty, 1e-12);
  // The expansion follows the value: the credit lands in the block, not spread over the image.
  double inside = 0;
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) inside += owen.pixel_values[y * 16 + x];
  EXPECT_GT(inside, 0.9 * (owen.f_full - owen.f_empty));
  EXPECT_THROW(owen_values(h, batch_of(v), 1, 8), Error);
}

}  // namespace
}  // namespace xai
