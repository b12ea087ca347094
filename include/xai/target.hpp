// Which class an explanation is about: the predicted one, a given one, or the top k.
#pragma once

#include <string>
#include <vector>

#include "xai/model.hpp"

namespace xai {

struct TargetSpec {
  enum class Kind { predicted, given, top_k };
  Kind kind = Kind::predicted;
  int class_index = -1;  // for Kind::given
  int k = 1;             // for Kind::top_k
};

// "--target-class" accepts an index or a label name (exact, then case-insensitive).
// Throws usage_error listing the labels when neither matches.
int parse_class(const std::string& text, const std::vector<std::string>& labels);

// The classes to explain for one prediction, in rank order. Throws usage_error for an
// out-of-range class or k.
std::vector<int> resolve_targets(const TargetSpec& spec, const Prediction& prediction, size_t label_count);

}  // namespace xai
