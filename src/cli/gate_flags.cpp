#include "cli/gate_flags.hpp"

#include <spdlog/spdlog.h>

#include <iostream>

#include "xai/atomic_file.hpp"
#include "xai/error.hpp"

namespace xai::cli {

void GateFlags::add_to(CLI::App& command, const std::string& examples, const std::string& metrics_help) {
  command
      .add_option("--fail-if", fail_if,
                  "Exit 9 when [METHOD.]METRIC OP NUMBER holds for a row (repeatable), e.g. " + examples +
                      "; metrics: " + metrics_help)
      ->allow_extra_args(false);
  command.add_option("--junit", junit_path, "Write the --fail-if checks as JUnit XML (one test case per check and row)");
}

std::vector<GateCondition> GateFlags::parse(const std::vector<std::string>& known_metrics) const {
  std::vector<GateCondition> conditions;
  for (const auto& text : fail_if) conditions.push_back(parse_condition(text, known_metrics));
  if (!junit_path.empty() && conditions.empty())
    throw usage_error("--junit " + junit_path + ": needs at least one --fail-if (the JUnit cases are its checks)");
  return conditions;
}

int GateFlags::finish(const std::vector<GateCondition>& conditions, const std::vector<MetricRow>& rows,
                      const std::string& suite) const {
  if (conditions.empty()) return 0;
  const std::vector<GateCheck> checks = check_gate(conditions, rows);
  if (!junit_path.empty()) write_file_atomic(junit_path, junit_xml(suite, checks));
  size_t failed = 0;
  for (const auto& check : checks)
    if (check.failed) std::cerr << "xai: gate failed: " << check.message << "\n", ++failed;
  if (failed == 0) {
    spdlog::info("{}: gate passed ({} check(s))", suite, checks.size());
    return 0;
  }
  return static_cast<int>(ExitCode::gate);
}

}  // namespace xai::cli
