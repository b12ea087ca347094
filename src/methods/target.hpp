// Which class an explanation is about: the predicted one, a given one, or the top k.
#pragma once

#include <string>
#include <vector>

#include "xai/model.hpp"
#include "xai/settings.hpp"

namespace xai {

// The classes to explain for one prediction, in rank order. Throws usage_error for an
// out-of-range class or k.
std::vector<int> resolve_targets(const TargetSpec& spec, const Prediction& prediction, size_t label_count);

// The threshold of "above:P", 0 < P <= 1 (TargetSpec::Kind::above). Throws usage_error.
double parse_above_threshold(const std::string& text);

// Why the classes explained are not what the spec asked for (no class reaches an `above` threshold, so
// the most probable is explained), or empty.
std::string target_warning(const TargetSpec& spec, const Prediction& prediction, const std::vector<std::string>& labels);

}  // namespace xai
