// Small text helpers shared by error messages ("did you mean ...").
#pragma once

#include <string>

namespace xai {

// Levenshtein distance: insertions, deletions and substitutions each cost 1.
size_t edit_distance(const std::string& a, const std::string& b);

// A label made safe for file names: each character outside [A-Za-z0-9_-] becomes '_' ("Grade 3/4" →
// "Grade_3_4"); an empty label becomes "_".
std::string file_safe(const std::string& label);

}  // namespace xai
