// The subcommands. Each file in src/cli/ only declares flags and calls the library.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace xai::cli {

// A registered subcommand: `run` is called after parsing and returns the exit code. Errors are
// thrown as xai::Error and turned into exit codes by main.
struct Command {
  CLI::App* app;
  std::function<int()> run;
};

// The whole command line: parse, run the subcommand, return the exit code.
int run(int argc, char** argv);
// Ends the process after run(): streams flushed, static destructors skipped — LibTorch deregisters
// thousands of kernels one by one, ~0.4 s of every run. Sanitizer builds exit normally (leak checks).
[[noreturn]] void exit_process(int code);

// One info line for what discovery left out of a run's inputs ("batch: skipped 3 file(s) that are xai
// outputs ..."; "... 18 ground-truth mask(s) ..."): nothing is left out without a word.
void log_skipped(const char* command, size_t outputs, size_t masks, const std::string& output_dir = "");

Command add_explain(CLI::App& app);
Command add_layers(CLI::App& app);
Command add_bench(CLI::App& app);
Command add_eval(CLI::App& app);
Command add_batch(CLI::App& app);
Command add_merge(CLI::App& app);
Command add_compare(CLI::App& app);
Command add_sanity(CLI::App& app);
Command add_diff(CLI::App& app);
Command add_card(CLI::App& app);
Command add_slide(CLI::App& app);

}  // namespace xai::cli
