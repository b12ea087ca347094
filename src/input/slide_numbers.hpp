// Internal: numbers as slide files write them.
#pragma once

#include <optional>

namespace xai {

// A finite, positive decimal number; none for null, empty, garbage, zero or negative text.
std::optional<double> positive_number(const char* text);

}  // namespace xai
