// A CI gate on measured numbers: `--fail-if pointing<0.9` fails the run (exit 9) when a metric of any
// row it applies to meets the condition, with one line per failed check and optional JUnit XML that
// GitLab, Jenkins and GitHub show as test results. A metric that could not be measured (n/a) fails
// its check too: a gate must never pass because nothing was measured.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace xai {

enum class Comparison { less, less_equal, greater, greater_equal, equal, not_equal };

// "[METHOD.]METRIC OP NUMBER", OP one of < <= > >= == !=; e.g. "gradcam.deletion_auc>0.25".
struct GateCondition {
  std::string text;    // as given
  std::string method;  // empty: every row
  std::string metric;
  Comparison comparison = Comparison::less;
  double threshold = 0;
};

// Throws usage_error naming the expression and, for an unknown metric, the known ones.
GateCondition parse_condition(const std::string& text, const std::vector<std::string>& known_metrics);

// Named numbers of one thing measured: a method × layer row, or the run as a whole (method empty).
struct MetricRow {
  std::string name;    // "gradcam layer3", "run"
  std::string method;  // for METHOD.metric conditions; empty for run-wide metrics
  std::vector<std::pair<std::string, std::optional<double>>> metrics;
};

struct GateCheck {
  std::string condition;  // the expression
  std::string row;        // the row's name
  std::optional<double> value;
  bool failed = false;    // the condition holds, or the value is n/a
  std::string message;    // one line: "gradcam layer3: pointing = 0.667 < 0.9"
};

// Every condition against every row that has its metric (and its method, when named). A condition
// that matches no row at all is one failed check ("no row has ..."): a typo must not pass.
std::vector<GateCheck> check_gate(const std::vector<GateCondition>& conditions, const std::vector<MetricRow>& rows);

// JUnit XML: one <testsuite> named `suite`, one <testcase> per check (a <failure> when it failed).
std::string junit_xml(const std::string& suite, const std::vector<GateCheck>& checks);

}  // namespace xai
