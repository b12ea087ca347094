#include "methods/target.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <numeric>
#include <stdexcept>
#include <string>

#include "xai/error.hpp"

namespace xai {
namespace {

std::vector<int> classes_by_probability(const Prediction& prediction) {
  std::vector<int> order(prediction.probabilities.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return prediction.probabilities[a] > prediction.probabilities[b]; });
  return order;
}

}  // namespace

double parse_above_threshold(const std::string& text) {
  const std::string prefix = "above:";
  double p = 0;
  size_t used = 0;
  if (text.compare(0, prefix.size(), prefix) == 0) try {
      p = std::stod(text.substr(prefix.size()), &used);
    } catch (const std::exception&) {
      used = 0;
    }
  if (used == 0 || prefix.size() + used != text.size() || !(p > 0 && p <= 1))
    throw usage_error(setting_name("targets") + " " + text +
                      ": expected above:P with a probability 0 < P <= 1 (e.g. above:0.5)");
  return p;
}

std::string target_warning(const TargetSpec& spec, const Prediction& prediction, const std::vector<std::string>& labels) {
  if (spec.kind != TargetSpec::Kind::above || prediction.probabilities.empty()) return {};
  const int top = classes_by_probability(prediction).front();
  if (prediction.probabilities[top] >= spec.threshold) return {};
  char text[160];
  std::snprintf(text, sizeof text, "no class reaches probability %g: the most probable, %s (p=%.3f), is explained",
                spec.threshold, labels.at(top).c_str(), prediction.probabilities[top]);
  return text;
}

std::vector<int> resolve_targets(const TargetSpec& spec, const Prediction& prediction, size_t label_count) {
  switch (spec.kind) {
    case TargetSpec::Kind::predicted:
      return {prediction.predicted};
    case TargetSpec::Kind::given:
      if (spec.class_index < 0 || static_cast<size_t>(spec.class_index) >= label_count)
        throw usage_error("target class " + std::to_string(spec.class_index) + " is out of range (" +
                          std::to_string(label_count) + " classes)");
      return {spec.class_index};
    case TargetSpec::Kind::top_k: {
      if (spec.k < 1 || static_cast<size_t>(spec.k) > label_count)
        throw usage_error(setting_name("top_k") + " " + std::to_string(spec.k) +
                          ": must be between 1 and the number of classes (" + std::to_string(label_count) + ")");
      std::vector<int> order = classes_by_probability(prediction);
      order.resize(spec.k);
      return order;
    }
    case TargetSpec::Kind::above: {
      std::vector<int> order = classes_by_probability(prediction);
      size_t reached = 0;
      while (reached < order.size() && prediction.probabilities[order[reached]] >= spec.threshold) ++reached;
      order.resize(std::max<size_t>(reached, 1));  // none reached it: the most probable (target_warning says so)
      return order;
    }
  }
  return {prediction.predicted};
}

}  // namespace xai
