// --fail-if / --junit, shared by the commands that measure (eval, sanity, diff): the conditions are
// parsed before any work (a typo is exit 2 at once), checked against the command's rows at the end.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "analysis/gate.hpp"

namespace xai::cli {

struct GateFlags {
  std::vector<std::string> fail_if;
  std::string junit_path;

  // `metrics_help`: the command's metrics, for --help.
  void add_to(CLI::App& command, const std::string& examples, const std::string& metrics_help);
  // Throws usage_error for a bad expression, an unknown metric, or --junit without --fail-if.
  std::vector<GateCondition> parse(const std::vector<std::string>& known_metrics) const;
  // Checks, writes the JUnit file (suite `suite`), prints one line per failed check on stderr;
  // returns the exit code: 0, or ExitCode::gate when any check failed.
  int finish(const std::vector<GateCondition>& conditions, const std::vector<MetricRow>& rows,
             const std::string& suite) const;
};

}  // namespace xai::cli
