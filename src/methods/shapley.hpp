// Shapley values of image regions, the engines behind `kernelshap` and `partitionshap`:
// Kernel SHAP (Lundberg & Lee 2017, sampling as the `shap` package's KernelExplainer does) and Owen
// values over a binary hierarchy of pixels (the `shap` package's PartitionExplainer, its default for
// images). Both are pure: the model is a callback, so tests check them against the definitions.
#pragma once

#include <cstdint>
#include <functional>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "xai/settings.hpp"

namespace xai {

PartitionKind parse_partition(const std::string& name);  // throws usage_error
std::string to_string(PartitionKind kind);

// shap's automatic budget: 2·features + 2048.
int kernel_shap_default_samples(int features);

// The coalitions Kernel SHAP evaluates, each with its Shapley kernel weight. When every coalition
// fits the budget (2^M − 2 ≤ budget) all are enumerated and the result is the exact Shapley value;
// otherwise coalition sizes are enumerated completely from the ends inwards (1 and M−1, 2 and M−2,
// ...) while the budget covers them, and the rest is sampled in complementary pairs by the kernel's
// size distribution, repeats adding weight (the shap package's scheme).
struct Coalitions {
  int features = 0;
  int rows = 0;
  std::vector<uint8_t> switches;  // rows × features, 1 = shown
  std::vector<double> weights;    // one per row
  bool exhaustive = false;        // every coalition enumerated: exact Shapley values
  int enumerated_sizes = 0;       // sizes (counted in pairs) enumerated completely
  std::vector<int> draw;          // per row: the random draw that added it (a pair shares one); -1 if enumerated
};
Coalitions kernel_shap_coalitions(int features, int budget, uint64_t seed);
// The enumerated rows and the sampled rows of every other draw (draw / stride % 2 == half), the
// sampled rows' weights scaled back to the kernel mass they carry: two independent half-estimates
// (complementary pairs stay together) for --samples auto.
Coalitions half_of(const Coalitions& coalitions, int stride, int half);

// Solves the weighted least squares with efficiency as a hard constraint (Σφ = f_full − f_empty):
// one factorisation, any number of outputs.
class KernelShapSolver {
 public:
  explicit KernelShapSolver(const Coalitions& coalitions);
  // `values[r]`: the output on coalition r; `f_full` with every region shown, `f_empty` with none.
  std::vector<double> solve(const std::vector<double>& values, double f_full, double f_empty) const;

 private:
  const Coalitions& c_;
  cv::Mat inverse_;  // (M−1)×(M−1) pseudo-inverse of the reduced normal matrix
};

// A binary hierarchy over pixels: every node covers the pixels pixel_order[begin, end); a node
// without children is a leaf (a pixel, or a superpixel).
struct Hierarchy {
  struct Node {
    int left = -1, right = -1;
    int begin = 0, end = 0;
    bool leaf() const { return left < 0; }
  };
  std::vector<Node> nodes;  // the root is nodes[0]
  std::vector<int> pixel_order;
  int height = 0, width = 0;
};
Hierarchy axis_hierarchy(int height, int width);
// Leaves are the segments of `segments` (CV_32SC1, labels 0..count-1); `view` (the model's view,
// [0,1]) gives their mean colours. Adjacent segments with the closest mean colours (weighted by
// size, Ward's criterion) merge first; disconnected groups merge last.
Hierarchy merge_hierarchy(const cv::Mat& view, const cv::Mat& segments, int count);

// The output for each coalition, given as pixel masks (height × width bytes, 1 = shown).
using CoalitionValue = std::function<std::vector<double>(const std::vector<std::vector<uint8_t>>& masks)>;

struct OwenResult {
  std::vector<double> pixel_values;  // height × width; Σ = f_full − f_empty exactly
  double f_full = 0, f_empty = 0;
  int evaluations = 0;
  int expanded = 0;    // nodes split into their children
  bool exact = false;  // every node down to the leaves was expanded: the exact Owen values
};

// Owen values by the shap package's recursion: a node's credit (f(node ∪ context) − f(context))·w
// passes to each child in both of the sibling's states with weight w/2; nodes are expanded largest
// |credit| first, `batch` coalitions per call, while the budget lasts; a node left unexpanded spreads
// its credit evenly over its pixels.
OwenResult owen_values(const Hierarchy& hierarchy, const CoalitionValue& value, int max_evals, int batch);

}  // namespace xai
