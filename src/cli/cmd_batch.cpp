// xai batch: thousands of images, resumable, sharded, with a gallery; and xai merge for shards.
#include <algorithm>
#include <atomic>
#include <csignal>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>

#include <spdlog/spdlog.h>

#include "cli/annotation_flags.hpp"
#include "cli/commands.hpp"
#include "cli/figure_flags.hpp"
#include "cli/method_flags.hpp"
#include "cli/model_flags.hpp"
#include "cli/stop_signals.hpp"
#include "xai/batch.hpp"
#include "pipelines/slide_run.hpp"
#include "cli/validators.hpp"

namespace xai::cli {
namespace {

struct BatchFlags {
  bool figures = false;
  bool panel = false;
  FigureFlags figure;
  std::string labels_csv;
  ModelFlags model;
  MethodFlags method;
  std::string output_dir;
  std::vector<std::string> include, exclude;
  std::string shard;
  int batch_size = 8;
  int workers = 0;
  bool fail_fast = false;
  std::vector<std::string> inputs;
};

std::string duration_text(double seconds) {
  const long s = static_cast<long>(seconds + 0.5);
  char buffer[32];
  if (s >= 3600)
    std::snprintf(buffer, sizeof buffer, "%ldh%02ldm", s / 3600, (s / 60) % 60);
  else
    std::snprintf(buffer, sizeof buffer, "%ldm%02lds", s / 60, s % 60);
  return buffer;
}

// A live bar on a terminal; a plain line every 10 s (and at the end) for CI logs.
class ProgressPrinter {
 public:
  explicit ProgressPrinter(bool quiet) : quiet_(quiet), tty_(isatty(STDERR_FILENO)) {}
  void operator()(const BatchProgress& p) {
    if (quiet_) return;
    if (p.finished == p.total && printed_final_) return;  // the runner reports the end once more
    printed_final_ = p.finished == p.total;
    const size_t remaining = p.total - p.finished;
    const double eta = p.rate > 0 ? remaining / p.rate : 0;
    char line[256];
    if (tty_) {
      const int width = 30, filled = p.total ? static_cast<int>(width * p.finished / p.total) : width;
      std::snprintf(line, sizeof line, "\r[%s%s] %zu/%zu  %.1f img/s  ETA %s  %zu failed  ",
                    std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(), p.finished, p.total,
                    p.rate, duration_text(eta).c_str(), p.failed);
      std::cerr << line << (p.finished == p.total ? "\n" : "") << std::flush;
      return;
    }
    if (p.seconds - last_print_ < 10.0 && p.finished != p.total) return;
    last_print_ = p.seconds;
    std::snprintf(line, sizeof line, "xai: batch: %zu/%zu (%.0f%%), %.1f img/s, ETA %s, %zu skipped, %zu failed\n",
                  p.finished, p.total, p.total ? 100.0 * p.finished / p.total : 100.0, p.rate,
                  duration_text(eta).c_str(), p.skipped, p.failed);
    std::cerr << line << std::flush;
  }

 private:
  bool quiet_, tty_;
  double last_print_ = -1e9;
  bool printed_final_ = false;
};

int run_batch_command(const BatchFlags& flags) {
  Model model = flags.model.load();
  BatchOptions options;
  options.explain = flags.method.to_options(model);
  options.explain.figures = flags.figures;
  options.explain.panel = flags.panel;
  flags.figure.apply(options.explain, flags.figures || flags.panel ? "" : "batch writes figures with --figures or --panel");
  options.labels_csv = flags.labels_csv;
  options.output_dir = flags.output_dir;
  log_plan(options.explain, model);
  options.selection.include = flags.include;
  options.selection.exclude = flags.exclude;
  if (!flags.shard.empty()) options.shard = parse_shard(flags.shard);
  options.batch_size = flags.batch_size;
  options.workers = flags.workers;
  options.fail_fast = flags.fail_fast;
  const bool quiet = spdlog::default_logger()->level() > spdlog::level::info;  // -q, before or after `batch`
  auto printer = std::make_shared<ProgressPrinter>(quiet);
  options.on_progress = [printer](const BatchProgress& p) { (*printer)(p); };
  const StopSignals signals;
  options.stop = signals.flag();
  const BatchSummary summary = run_batch(model, flags.inputs, options);
  if (summary.stopped) {
    std::cerr << "xai: batch: stopped by " << signals.name() << " after "
              << summary.explained << " explained (" << summary.progress.finished << "/" << summary.progress.total
              << " done); summary and gallery written; the same command resumes -> " << flags.output_dir
              << "/index.html\n";
    return signals.exit_code();
  }
  if (summary.progress.total == 0)
    spdlog::warn("batch: no images found in the inputs (xai reads files named .png, .jpg, .jpeg, .tif, .tiff, .bmp, "
                 ".ppm, .pgm, .pbm, .webp; --include selects other names)");
  log_skipped("batch", summary.skipped_outputs, summary.skipped_masks, flags.output_dir);
  if (summary.unlisted_results > 0)
    spdlog::info("batch: {} earlier result(s) of inputs or methods not in this run stay in {}/results.jsonl; "
                 "summary and gallery list this run's inputs and methods only",
                 summary.unlisted_results, flags.output_dir);
  if (!quiet)
    std::cerr << "xai: batch: " << summary.explained << " explained, " << summary.progress.skipped
              << " already done, " << summary.progress.failed << " failed -> " << flags.output_dir << "/index.html\n";
  if (summary.code != ExitCode::ok && !summary.first_error.empty())
    std::cerr << "xai: error: " << summary.first_error
              << (summary.code == ExitCode::partial ? " (and see results.jsonl for every failure)" : "") << "\n";
  return static_cast<int>(summary.code);
}

}  // namespace

Command add_batch(CLI::App& app) {
  auto flags = std::make_shared<BatchFlags>();
  CLI::App* sub = app.add_subcommand("batch", "Explain folders of images: resumable, sharded, with a gallery");
  flags->model.add_to(*sub);
  flags->method.add_to(*sub);
  sub->add_option("-o,--output-dir", flags->output_dir, "Output folder (mirrors the input tree)")->required();
  sub->add_option("--include", flags->include, "Only files matching this glob (path or name); repeatable")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  sub->add_option("--exclude", flags->exclude, "Skip files matching this glob; repeatable")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  sub->add_option("--shard", flags->shard, "I/N: this job's part of the inputs (0-based), e.g. $SLURM_ARRAY_TASK_ID/N");
  sub->add_option("--batch-size", flags->batch_size, "Images per forward pass")->check(kPositive)->capture_default_str();
  sub->add_option("--workers", flags->workers, "Decoding threads (default: one per core)")->check(kNonNegative);
  sub->add_flag("--fail-fast", flags->fail_fast, "Stop at the first failed input");
  sub->add_option("--labels-csv", flags->labels_csv,
                  "True labels, name,label lines (else from folders named like a class: benign/, malignant/): the "
                  "gallery's misclassified filter and summary.csv's truth column");
  flags->figure.add_to(*sub);
  sub->add_flag("--figures", flags->figures,
                "Also STEM.METHOD.figure.png per map (the original beside the overlay, a header, a colour bar)");
  sub->add_flag("--panel", flags->panel, kPanelHelp);
  sub->add_option("inputs", flags->inputs, "Folders (recursive), files, or @LIST files of paths")->required();
  return {sub, [flags] { return run_batch_command(*flags); }};
}

// merge loads no model and explains nothing: it takes neither shared group (flag_policy.cpp says why,
// should one be given).
struct MergeFlags {
  std::vector<std::string> dirs;
  std::string out;
  AnnotationFlags annotations;  // slide shards: scored once merged
};

Command add_merge(CLI::App& app) {
  auto flags = std::make_shared<MergeFlags>();
  CLI::App* sub = app.add_subcommand(
      "merge", "Combine batch outputs (e.g. shards) into one folder; or the shards of one `xai slide` run");
  sub->add_option("-o,--output-dir", flags->out, "Merged output folder")->required();
  flags->annotations.add_to(*sub);
  sub->add_option("runs", flags->dirs, "Batch output folders, or slide output folders")->required();
  return {sub, [flags] {
            const std::vector<GateCondition> gate = flags->annotations.parse();
            const size_t slides = std::count_if(flags->dirs.begin(), flags->dirs.end(), is_slide_output);
            if (slides > 0 && slides < flags->dirs.size())
              throw usage_error("merge: some folders hold slide runs and some batch runs: merge one kind at a time");
            if (slides > 0) {
              const size_t n = merge_slide_outputs(flags->dirs, flags->out);
              std::cerr << "xai: merge: " << n << " tiles -> " << flags->out << "/slide.json\n";
              return flags->annotations.given() ? flags->annotations.score(flags->out, gate) : 0;
            }
            if (flags->annotations.given())
              throw usage_error("--annotations scores slide runs; these are batch outputs (score images with `xai eval`)");
            const size_t n = merge_batch_outputs(flags->dirs, flags->out);
            std::cerr << "xai: merge: " << n << " results -> " << flags->out << "/index.html\n";
            return 0;
          }};
}

}  // namespace xai::cli
