#include "xai/target.hpp"

#include <algorithm>
#include <cctype>
#include <numeric>

#include "xai/error.hpp"

namespace xai {
namespace {

std::string lowercase(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string joined(const std::vector<std::string>& labels) {
  std::string out;
  for (size_t i = 0; i < labels.size(); ++i) out += (i ? ", " : "") + std::to_string(i) + "=" + labels[i];
  return out;
}

}  // namespace

int parse_class(const std::string& text, const std::vector<std::string>& labels) {
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] == text) return static_cast<int>(i);
  for (size_t i = 0; i < labels.size(); ++i)
    if (lowercase(labels[i]) == lowercase(text)) return static_cast<int>(i);
  if (!text.empty() && std::all_of(text.begin(), text.end(), ::isdigit) && text.size() < 9) {
    const int index = std::stoi(text);
    if (index < static_cast<int>(labels.size())) return index;
    throw usage_error("--target-class " + text + ": out of range, the model has " +
                      std::to_string(labels.size()) + " classes (" + joined(labels) + ")");
  }
  throw usage_error("--target-class " + text + ": not a class index or label (" + joined(labels) + ")");
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
        throw usage_error("--top-k " + std::to_string(spec.k) + ": must be between 1 and the number of classes (" +
                          std::to_string(label_count) + ")");
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
