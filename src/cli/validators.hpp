// Integer range checks for flags. CLI11's PositiveNumber/NonNegativeNumber check against the
// double range and print a 309-digit upper bound in their messages; these say what is expected.
#pragma once

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>
#include <string>

namespace xai::cli {

inline CLI::Validator integer_at_least(long long minimum, const std::string& name) {
  return CLI::Validator(
      [minimum](std::string& value) -> std::string {
        long long number = 0;
        if (!CLI::detail::lexical_cast(value, number) || number < minimum)
          return "expected an integer >= " + std::to_string(minimum) + ", got '" + value + "'";
        return {};
      },
      name);
}

// Real numbers: NaN and infinities are refused (CLI::Range lets NaN through: every comparison with
// NaN is false).
inline CLI::Validator finite_between(double low, double high, const std::string& name) {
  return CLI::Validator(
      [low, high](std::string& value) -> std::string {
        double number = 0;
        if (!CLI::detail::lexical_cast(value, number) || !std::isfinite(number) || number < low || number > high) {
          std::ostringstream range;
          range << "expected a finite number in [" << low << ", " << high << "], got '" << value << "'";
          return range.str();
        }
        return {};
      },
      name);
}

inline const CLI::Validator kPositiveReal = CLI::Validator(
    [](std::string& value) -> std::string {
      double number = 0;
      if (!CLI::detail::lexical_cast(value, number) || !(number > 0) || !std::isfinite(number))
        return "expected a finite number > 0, got '" + value + "'";
      return {};
    },
    "POSITIVE");

// Seeds: 0..2^64-1 exactly. CLI11's unsigned conversion turned "-1" and "18446744073709551616" both
// into 2^64-1.
inline const CLI::Validator kSeed = CLI::Validator(
    [](std::string& value) -> std::string {
      const std::string expected = "expected an integer in 0..18446744073709551615, got '" + value + "'";
      if (value.empty() || value.size() > 20 || value.find_first_not_of("0123456789") != std::string::npos) return expected;
      errno = 0;
      std::strtoull(value.c_str(), nullptr, 10);
      if (errno == ERANGE) return expected;
      return {};
    },
    "SEED");

inline const CLI::Validator kPositive = integer_at_least(1, "POSITIVE");
inline const CLI::Validator kNonNegative = integer_at_least(0, "NONNEGATIVE");

}  // namespace xai::cli
