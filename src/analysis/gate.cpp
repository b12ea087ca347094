#include "analysis/gate.hpp"

#include "core/text.hpp"

#include <cmath>
#include <cstdlib>
#include <sstream>

#include "xai/error.hpp"

namespace xai {
namespace {

const char* symbol(Comparison c) {
  switch (c) {
    case Comparison::less: return "<";
    case Comparison::less_equal: return "<=";
    case Comparison::greater: return ">";
    case Comparison::greater_equal: return ">=";
    case Comparison::equal: return "==";
    case Comparison::not_equal: return "!=";
  }
  return "?";
}

bool holds(double value, Comparison c, double threshold) {
  switch (c) {
    case Comparison::less: return value < threshold;
    case Comparison::less_equal: return value <= threshold;
    case Comparison::greater: return value > threshold;
    case Comparison::greater_equal: return value >= threshold;
    case Comparison::equal: return value == threshold;
    case Comparison::not_equal: return value != threshold;
  }
  return false;
}

std::string trimmed(const std::string& s) {
  const size_t first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

}  // namespace

GateCondition parse_condition(const std::string& text, const std::vector<std::string>& known_metrics) {
  auto bad = [&](const std::string& why) {
    return usage_error(setting_name("fail_if") + " '" + text + "': " + why);
  };
  const size_t op_at = text.find_first_of("<>=!");
  // Unquoted, `--fail-if flagged>0` reaches xai as "flagged": the shell took ">0" as a redirection
  // (and wrote a file named 0).
  if (op_at == std::string::npos)
    throw bad("no comparison in it: expected METRIC<NUMBER (or <=, >, >=, ==, !=), e.g. 'pointing<0.9'. Quote the "
              "condition: unquoted, the shell reads < and > as redirections (and may have written a file named after "
              "the number)");
  GateCondition c;
  c.text = text;
  std::string name = trimmed(text.substr(0, op_at));
  size_t op_length = 1;
  const std::string rest = text.substr(op_at);
  if (rest.rfind("<=", 0) == 0) c.comparison = Comparison::less_equal, op_length = 2;
  else if (rest.rfind(">=", 0) == 0) c.comparison = Comparison::greater_equal, op_length = 2;
  else if (rest.rfind("==", 0) == 0) c.comparison = Comparison::equal, op_length = 2;
  else if (rest.rfind("!=", 0) == 0) c.comparison = Comparison::not_equal, op_length = 2;
  else if (rest[0] == '<') c.comparison = Comparison::less;
  else if (rest[0] == '>') c.comparison = Comparison::greater;
  else throw bad("'" + rest.substr(0, 1) + "' is not a comparison (use <, <=, >, >=, == or !=)");
  const std::string value = trimmed(rest.substr(op_length));
  char* end = nullptr;
  c.threshold = std::strtod(value.c_str(), &end);
  if (value.empty() || end != value.c_str() + value.size() || !std::isfinite(c.threshold))
    throw bad("'" + value + "' is not a finite number");
  const size_t dot = name.find('.');
  if (dot != std::string::npos) {
    c.method = name.substr(0, dot);
    name = name.substr(dot + 1);
    if (c.method.empty()) throw bad("nothing before '.' (use METHOD.METRIC, e.g. gradcam.pointing<0.9)");
  }
  c.metric = name;
  bool known = false;
  for (const auto& m : known_metrics) known = known || m == name;
  if (!known) {
    std::string list;
    for (const auto& m : known_metrics) list += (list.empty() ? "" : ", ") + m;
    throw bad(name.empty() ? "no metric before the comparison" : "unknown metric '" + name + "' (known: " + list + ")");
  }
  return c;
}

std::vector<GateCheck> check_gate(const std::vector<GateCondition>& conditions, const std::vector<MetricRow>& rows) {
  std::vector<GateCheck> checks;
  for (const auto& condition : conditions) {
    bool matched = false;
    for (const auto& row : rows) {
      if (!condition.method.empty() && row.method != condition.method) continue;
      for (const auto& [name, value] : row.metrics) {
        if (name != condition.metric) continue;
        matched = true;
        GateCheck check{condition.text, row.name, value, false, ""};
        if (!value) {
          check.failed = true;
          check.message = row.name + ": " + condition.metric + " is n/a (nothing could be measured), so '" +
                          condition.text + "' cannot pass";
        } else if (holds(*value, condition.comparison, condition.threshold)) {
          check.failed = true;
          check.message = row.name + ": " + condition.metric + " = " + significant_digits(*value, 4) + " " +
                          symbol(condition.comparison) + " " + significant_digits(condition.threshold, 4);
        }
        checks.push_back(check);
      }
    }
    if (!matched)
      checks.push_back({condition.text, condition.method.empty() ? "run" : condition.method, std::nullopt, true,
                        "'" + condition.text + "': no row has " +
                            (condition.method.empty() ? "" : "method " + condition.method + " with ") + "metric " +
                            condition.metric + " in this run"});
  }
  return checks;
}

std::string junit_xml(const std::string& suite, const std::vector<GateCheck>& checks) {
  size_t failures = 0;
  for (const auto& c : checks) failures += c.failed ? 1 : 0;
  std::ostringstream xml;
  xml << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<testsuites name=\"xai\" tests=\"" << checks.size() << "\" failures=\"" << failures << "\" errors=\"0\">\n"
      << "  <testsuite name=\"" << markup_escaped(suite) << "\" tests=\"" << checks.size() << "\" failures=\"" << failures
      << "\" errors=\"0\" skipped=\"0\">\n";
  for (const auto& c : checks) {
    xml << "    <testcase classname=\"" << markup_escaped(suite + "." + c.row) << "\" name=\""
        << markup_escaped("fail-if " + c.condition) << "\">";
    if (c.failed)
      xml << "\n      <failure message=\"" << markup_escaped(c.message) << "\">" << markup_escaped(c.message)
          << "</failure>\n    ";
    else
      xml << "<system-out>"
          << markup_escaped(c.row + ": " + (c.value ? significant_digits(*c.value, 4) : std::string("n/a")))
          << "</system-out>";
    xml << "</testcase>\n";
  }
  xml << "  </testsuite>\n</testsuites>\n";
  return xml.str();
}

}  // namespace xai
