// No option is ever silently ignored. What each subcommand can never apply is one table
// (flag_policy.cpp): a flag group it does not take is not registered on it at all, and a single flag
// of a group it does take is hidden from its --help; given anyway, either is refused with exit 2 and
// the table's reason. Refusals that depend on the other flags given (a setting that no chosen method
// reads, drawing flags when nothing is drawn) stay with the code that decides them.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace xai::cli {

// Hides from `command`'s --help the flags the table refuses it; call once its flags are registered.
// Throws std::logic_error for a table entry that names a flag xai does not have (it would refuse nothing).
void hide_refused_flags(CLI::App& command);
// Throws usage_error "FLAG: REASON" for the first flag the table refuses that `command` was given.
void check_refused_flags(const CLI::App& command);
// After a parse error: "FLAG: REASON" for the first word of `args` (the words after the subcommand's
// name) that is a flag the table refuses `command` (a group it does not register, a retired flag);
// empty when there is none.
std::string refusal_in(const std::string& command, const std::vector<std::string>& args);

// The first long name of an option, for messages ("--top-k").
std::string flag_name(const CLI::Option* option);

}  // namespace xai::cli
