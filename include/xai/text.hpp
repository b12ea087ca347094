// Small text helpers shared by error messages ("did you mean ...").
#pragma once

#include <string>

namespace xai {

// Levenshtein distance: insertions, deletions and substitutions each cost 1.
size_t edit_distance(const std::string& a, const std::string& b);

}  // namespace xai
