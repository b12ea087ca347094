#include "cli/flag_policy.hpp"

#include "xai/error.hpp"

namespace xai::cli {

std::string flag_name(const CLI::Option* option) {
  if (!option->get_lnames().empty()) return "--" + option->get_lnames().front();
  if (!option->get_snames().empty()) return "-" + option->get_snames().front();
  return option->get_name();
}

void FlagPolicy::refuse(CLI::App& app, const std::string& name, const std::string& reason) {
  refuse(app.get_option(name), reason);
}

void FlagPolicy::refuse(const CLI::Option* option, const std::string& reason) { refused_.emplace_back(option, reason); }

void FlagPolicy::refuse(const std::vector<CLI::Option*>& options, const std::string& reason) {
  for (const auto* option : options) refused_.emplace_back(option, reason);
}

void FlagPolicy::check() const {
  for (const auto& [option, reason] : refused_)
    if (option->count() > 0) throw usage_error(flag_name(option) + ": " + reason);
}

}  // namespace xai::cli
