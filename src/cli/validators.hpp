// Integer range checks for flags. CLI11's PositiveNumber/NonNegativeNumber check against the
// double range and print a 309-digit upper bound in their messages; these say what is expected.
#pragma once

#include <CLI/CLI.hpp>
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

inline const CLI::Validator kPositiveReal = CLI::Validator(
    [](std::string& value) -> std::string {
      double number = 0;
      if (!CLI::detail::lexical_cast(value, number) || !(number > 0)) return "expected a number > 0, got '" + value + "'";
      return {};
    },
    "POSITIVE");

inline const CLI::Validator kPositive = integer_at_least(1, "POSITIVE");
inline const CLI::Validator kNonNegative = integer_at_least(0, "NONNEGATIVE");

}  // namespace xai::cli
