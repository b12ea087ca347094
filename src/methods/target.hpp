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

}  // namespace xai
