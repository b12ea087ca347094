#include "analysis/faithfulness.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "xai/error.hpp"

namespace xai {

using json = nlohmann::ordered_json;

std::vector<int> removal_ranks(const cv::Mat& map, uint64_t seed) {
  CV_Assert(map.type() == CV_32FC1);
  const cv::Mat values = map.isContinuous() ? map : map.clone();
  const int pixels = static_cast<int>(values.total());
  const float* v = values.ptr<float>();
  // A seeded shuffle first, then a stable sort by value: equal values keep the shuffled order.
  std::vector<int> order(pixels);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed);
  for (int i = pixels - 1; i > 0; --i) std::swap(order[i], order[static_cast<int>(rng() % static_cast<uint64_t>(i + 1))]);
  // NaN last: it is no evidence (maps are checked finite, but a rank must exist for every pixel).
  auto key = [&](int p) { return std::isnan(v[p]) ? -INFINITY : v[p]; };
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return key(a) > key(b); });
  std::vector<int> ranks(pixels);
  for (int r = 0; r < pixels; ++r) ranks[order[r]] = r;
  return ranks;
}

int pixels_at_step(int step, int steps, int pixels) {
  return static_cast<int>(std::llround(static_cast<double>(step) * pixels / steps));
}

double curve_area(const std::vector<double>& values) {
  if (values.size() < 2) return values.empty() ? 0.0 : values.front();
  double area = 0;
  for (size_t k = 1; k < values.size(); ++k) area += (values[k - 1] + values[k]) / 2;
  return area / static_cast<double>(values.size() - 1);
}

json Faithfulness::to_json() const {
  auto curve = [](const FaithfulnessCurve& c) { return json{{"auc", c.auc}, {"probabilities", c.probabilities}}; };
  return {{"steps", steps},
          {"deletion_auc", deletion.auc},
          {"insertion_auc", insertion.auc},
          {"random_deletion_auc", random_deletion.auc},
          {"random_insertion_auc", random_insertion.auc},
          // > 0: the map removes the evidence faster / restores it faster than a random order.
          {"deletion_gain", random_deletion.auc - deletion.auc},
          {"insertion_gain", insertion.auc - random_insertion.auc},
          {"deletion", curve(deletion)},
          {"insertion", curve(insertion)},
          {"random_deletion", curve(random_deletion)},
          {"random_insertion", curve(random_insertion)}};
}

Faithfulness measure_faithfulness(const Classifier& classify, const PerturbationBase& base, const cv::Mat& map,
                                  int class_index, const FaithfulnessOptions& options, BatchTuner* tuner,
                                  const RandomOrderCurves* known_random) {
  if (options.steps < 1) throw usage_error(setting_name("faithfulness_steps") + " must be at least 1");
  const cv::Size size(base.original.width, base.original.height);
  if (map.size() != size || map.type() != CV_32FC1)
    throw Error(ExitCode::internal, "faithfulness: the map is not at the model's input size");
  const int pixels = size.area();
  const int points = options.steps + 1;
  // Orders: the map's, and (unless known) a random one (ranks of a constant map are a seeded shuffle).
  std::vector<std::vector<int>> ranks = {removal_ranks(map, options.seed)};
  if (!known_random) ranks.push_back(removal_ranks(cv::Mat::zeros(size, CV_32FC1), options.seed + 1));
  std::vector<int> cut(points);
  for (int k = 0; k < points; ++k) cut[k] = pixels_at_step(k, options.steps, pixels);
  // Sample s: order s / (2 · points), deletion or insertion, step s % points. 1 shows the pixel.
  const MaskWriter masks = [&](int first, int count, float* out) {
    for (int s = first; s < first + count; ++s) {
      const int order = s / (2 * points), insertion = (s / points) % 2, k = s % points;
      const std::vector<int>& r = ranks[order];
      float* m = out + static_cast<size_t>(s - first) * pixels;
      for (int p = 0; p < pixels; ++p) {
        const bool removed_first = r[p] < cut[k];
        m[p] = (insertion ? removed_first : !removed_first) ? 1.0f : 0.0f;
      }
    }
  };
  const int samples = 2 * points * static_cast<int>(ranks.size());
  const MaskedProbabilities probs = masked_probabilities(classify, base, samples, masks, options.batch_size, tuner);
  if (class_index < 0 || class_index >= probs.classes)
    throw Error(ExitCode::internal, "faithfulness: class index out of range");
  auto curve = [&](int order, int insertion) {
    FaithfulnessCurve c;
    for (int k = 0; k < points; ++k)
      c.probabilities.push_back(probs.values[static_cast<size_t>((order * 2 + insertion) * points + k) * probs.classes + class_index]);
    c.auc = curve_area(c.probabilities);
    return c;
  };
  Faithfulness f;
  f.steps = options.steps;
  f.deletion = curve(0, 0);
  f.insertion = curve(0, 1);
  f.random_deletion = known_random ? known_random->deletion : curve(1, 0);
  f.random_insertion = known_random ? known_random->insertion : curve(1, 1);
  return f;
}

}  // namespace xai
