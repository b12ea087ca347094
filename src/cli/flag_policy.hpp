// No option is ever silently ignored: every subcommand takes the shared option groups, and a flag
// that a subcommand (or the chosen methods) cannot apply is refused with exit 2 and the reason.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <utility>
#include <vector>

namespace xai::cli {

class FlagPolicy {
 public:
  // `name` as registered ("--colormap"); the option must exist on `app`.
  void refuse(CLI::App& app, const std::string& name, const std::string& reason);
  void refuse(const CLI::Option* option, const std::string& reason);
  // Every option of a group.
  void refuse(const std::vector<CLI::Option*>& options, const std::string& reason);
  // Throws usage_error for the first refused flag that was given.
  void check() const;

 private:
  std::vector<std::pair<const CLI::Option*, std::string>> refused_;
};

// The first long name of an option, for messages ("--top-k").
std::string flag_name(const CLI::Option* option);

}  // namespace xai::cli
