// Range checks for the flags that are not method settings, made from the same value checks as the
// declared ones (xai/method_settings.hpp: check_value), so every flag says what it expects the same way.
// CLI11's PositiveNumber/NonNegativeNumber check against the double range and print a 309-digit upper
// bound; CLI::Range lets NaN through; its unsigned conversion turned "-1" into 2^64-1.
#pragma once

#include <limits>

#include <CLI/CLI.hpp>
#include <cmath>
#include <string>

#include "xai/method_settings.hpp"

namespace xai::cli {

inline CLI::Validator value_check(const ValueSpec& spec, const std::string& name) {
  return CLI::Validator([spec](std::string& value) { return check_value(spec, value); }, name);
}

// A spec of `type` in [low, high] with ValueSpec's other defaults (named, so no member goes unset unseen).
inline ValueSpec value_spec(ValueSpec::Type type, double low = -std::numeric_limits<double>::infinity(),
                            double high = std::numeric_limits<double>::infinity()) {
  ValueSpec spec;
  spec.type = type;
  spec.low = low;
  spec.high = high;
  return spec;
}

// Integers (int or long long flags: no upper bound but the type's).
inline CLI::Validator integer_at_least(long long minimum, const std::string& name) {
  return value_check(value_spec(ValueSpec::Type::integer, double(minimum)), name);
}

// Real numbers in [low, high]; NaN and infinities are refused.
inline CLI::Validator finite_between(double low, double high, const std::string& name) {
  return value_check(value_spec(ValueSpec::Type::real, low, high), name);
}

// Seeds: 0..2^64-1 exactly.
inline const CLI::Validator kSeed = value_check(value_spec(ValueSpec::Type::seed), "SEED");

inline const CLI::Validator kPositive = integer_at_least(1, "POSITIVE");
inline const CLI::Validator kNonNegative = integer_at_least(0, "NONNEGATIVE");

}  // namespace xai::cli
