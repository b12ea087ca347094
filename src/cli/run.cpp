// The command line of xai: parses it, runs one subcommand, and maps failures to the documented exit
// codes (README, "Exit codes") with a one-line message. main.cpp only calls run(); the tests' CLI
// server (tests/support/cli_server.cpp) calls it in forked children.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <thread>
#include <vector>

#include "cli/commands.hpp"
#include "cli/decoder_noise_filter.hpp"
#include "cli/flag_policy.hpp"
#include "cli/setting_names.hpp"
#include "cli/validators.hpp"
#include "xai/error.hpp"
#include "output/report.hpp"
#include "model/runtime.hpp"

namespace xai::cli {

void log_skipped(const char* command, size_t outputs, size_t masks, const std::string& output_dir) {
  if (outputs > 0)
    spdlog::info("{}: skipped {} file(s) that are xai outputs ({}xai-out/ folders, or named like STEM.gradcam.png): "
                 "outputs are never inputs",
                 command, outputs, output_dir.empty() ? "" : "in " + output_dir + ", ");
  if (masks > 0)
    spdlog::info("{}: skipped {} ground-truth mask(s) (STEM.mask.png, masks/ folders{}): masks are not explained as images",
                 command, masks, std::string(command) == "eval" ? ", --masks" : "");
}

namespace {

// The table's refusal for a word after the subcommand's name, if any (empty when there is none).
std::string refusal_after_subcommand(const CLI::App& app, int argc, char** argv) {
  const auto subcommands = app.get_subcommands([](const CLI::App*) { return true; });
  for (int i = 1; i < argc; ++i)
    for (const CLI::App* sub : subcommands)
      if (sub->get_name() == argv[i])
        return refusal_in(sub->get_name(), std::vector<std::string>(argv + i + 1, argv + argc));
  return {};
}

}  // namespace

int run(int argc, char** argv) {
  filter_decoder_noise();
  name_settings_by_flags();  // the library's messages name settings by the flags that set them
  CLI::App app{"xai: explain image classifiers (CAM methods, LIME) on TorchScript models"};
  app.require_subcommand(1);
  app.fallthrough();  // -q, -v and --threads also after the subcommand
  // Computed when asked: it asks the CUDA driver for GPUs.
  app.set_version_flag("--version", [] { return xai::runtime_summary(xai::xai_version()); });
  bool quiet = false, verbose = false;
  int threads = 0;
  // More threads than cores only adds contention (1000 threads: 22 s instead of 1.4 s): at most 4 per core.
  const long long max_threads = 4LL * std::max(1u, std::thread::hardware_concurrency());
  app.add_option("--threads", threads, "Threads for model execution (default: one per CPU core; at most 4 per core)")
      ->check(integer_at_least(0, "NONNEGATIVE"))
      ->check(CLI::Validator(
          [max_threads](std::string& value) -> std::string {
            long long n = 0;
            if (CLI::detail::lexical_cast(value, n) && n > max_threads)
              return "at most " + std::to_string(max_threads) + " on this machine (4 per core), got '" + value + "'";
            return {};
          },
          "MAX"));
  app.add_flag("-q,--quiet", quiet, "Only errors on stderr");
  app.add_flag("-v,--verbose", verbose, "Debug messages on stderr");

  const std::vector<Command> commands = {add_explain(app), add_layers(app),
                                                    add_bench(app), add_eval(app),
                                                    add_batch(app), add_merge(app),
                                                    add_compare(app), add_sanity(app),
                                                    add_diff(app), add_card(app), add_slide(app)};
  for (const auto& command : commands) hide_refused_flags(*command.app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // A flag the command never takes (flag_policy.cpp) gets its reason rather than CLI11's "not expected".
    const std::string refusal = refusal_after_subcommand(app, argc, argv);
    std::cerr << "xai: error: " << (refusal.empty() ? std::string(e.what()) + " (see --help)" : refusal) << "\n";
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
      if (command.app->parsed()) {
        check_refused_flags(*command.app);
        return command.run();
      }
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

void exit_process(int code) {
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  std::exit(code);
#else
  std::_Exit(code);
#endif
}

}  // namespace xai::cli
