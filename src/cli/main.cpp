// xai: explain image classifiers. Parses the command line, runs one subcommand, and maps
// failures to the documented exit codes (README, "Exit codes") with a one-line message.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>
#include <vector>

#include "cli/commands.hpp"
#include "cli/decoder_noise_filter.hpp"
#include "cli/validators.hpp"
#include "xai/error.hpp"
#include "xai/report.hpp"
#include "xai/runtime.hpp"

int main(int argc, char** argv) {
  xai::cli::filter_decoder_noise();
  CLI::App app{"xai: explain image classifiers (CAM methods, LIME) on TorchScript models"};
  app.require_subcommand(1);
  app.fallthrough();  // -q, -v and --threads also after the subcommand
  app.set_version_flag("--version", std::string("xai ") + xai::xai_version());
  bool quiet = false, verbose = false;
  int threads = 0;
  app.add_option("--threads", threads, "Threads for model execution (default: one per CPU core)")
      ->check(xai::cli::kNonNegative);
  app.add_flag("-q,--quiet", quiet, "Only errors on stderr");
  app.add_flag("-v,--verbose", verbose, "Debug messages on stderr");

  const std::vector<xai::cli::Command> commands = {xai::cli::add_explain(app), xai::cli::add_layers(app),
                                                    xai::cli::add_bench(app), xai::cli::add_eval(app),
                                                    xai::cli::add_batch(app), xai::cli::add_merge(app),
                                                    xai::cli::add_compare(app)};

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "xai: error: " << e.what() << " (see --help)\n";
    return static_cast<int>(xai::ExitCode::usage);
  }

  // Diagnostics go to stderr: stdout carries results (e.g. `--json -` for jq).
  spdlog::set_default_logger(spdlog::stderr_color_mt("xai"));
  spdlog::set_pattern("xai: %l: %v");
  spdlog::set_level(quiet ? spdlog::level::err : verbose ? spdlog::level::debug : spdlog::level::info);

  try {
    xai::set_thread_count(threads);
    xai::keep_freed_memory();
    for (const auto& command : commands)
      if (command.app->parsed()) return command.run();
    return static_cast<int>(xai::ExitCode::usage);
  } catch (const xai::Error& e) {
    std::cerr << "xai: error: " << e.what() << "\n";
    return static_cast<int>(e.code());
  } catch (const std::bad_alloc&) {
    std::cerr << "xai: error: out of memory\n";
    return static_cast<int>(xai::ExitCode::internal);
  } catch (const std::exception& e) {
    std::cerr << "xai: internal error: " << xai::first_line(e.what()) << "\n";
    return static_cast<int>(xai::ExitCode::internal);
  }
}
