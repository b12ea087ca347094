#include "methods/target.hpp"

#include <algorithm>
#include <cctype>
#include <numeric>

#include "xai/error.hpp"

namespace xai {
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
      std::vector<int> order(prediction.probabilities.size());
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
        return prediction.probabilities[a] > prediction.probabilities[b];
      });
      order.resize(spec.k);
      return order;
    }
  }
  return {prediction.predicted};
}

}  // namespace xai
