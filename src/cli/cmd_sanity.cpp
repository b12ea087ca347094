// xai sanity: do the maps change when the model's weights are randomised (Adebayo et al. 2018)?
#include <spdlog/spdlog.h>

#include <iomanip>
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/figure_flags.hpp"
#include "output/print_figure.hpp"
#include "cli/gate_flags.hpp"
#include "cli/method_flags.hpp"
#include "cli/model_flags.hpp"
#include "cli/validators.hpp"
#include "pipelines/sanity.hpp"

namespace xai::cli {
namespace {

struct SanityFlags {
  ModelFlags model;
  MethodFlags method;
  GateFlags gate;
  SanityOptions options;
  bool no_grids = false;
  FigureFlags figure;
  std::vector<std::string> inputs;
};

const std::vector<std::string> kSanityMetrics = {"flagged", "spearman", "ssim", "iou_top", "spearman_full"};

// One row per method × layer: the similarities at the flag step, after the whole cascade, and the flag.
std::vector<MetricRow> gate_rows(const SanityResult& result) {
  std::vector<MetricRow> rows;
  for (const auto& r : result.rows)
    rows.push_back({r.layer.empty() ? r.method : r.method + " " + r.layer,
                    r.method,
                    {{"flagged", r.flagged ? 1.0 : 0.0},
                     {"spearman", r.spearman[result.flag_step]},
                     {"ssim", r.ssim[result.flag_step]},
                     {"iou_top", r.iou_top[result.flag_step]},
                     {"spearman_full", r.spearman.back()}}});
  return rows;
}

void print_table(std::ostream& out, const SanityResult& result, const SanityOptions& options) {
  out << "sanity: " << result.images << " image(s); cascade from the output (each step randomises one more stage):";
  for (size_t s = 0; s < result.cascade.size(); ++s) out << " " << s + 1 << "=" << result.cascade[s].name;
  out << "\nSpearman rho of |map| to the trained model's, per step (flagged: above " << options.max_similarity
      << " after step " << result.flag_step + 1 << ")\n";
  out << std::left << std::setw(24) << "method" << std::setw(6 * static_cast<int>(result.cascade.size()) + 2)
      << "rho per step" << "flagged\n";
  out << std::fixed << std::setprecision(2);
  for (const auto& row : result.rows) {
    out << std::setw(24) << (row.layer.empty() ? row.method : row.method + " " + row.layer);
    for (double rho : row.spearman) out << std::setw(6) << rho;
    out << "  " << (row.flagged ? "FLAGGED" : "no") << "\n";
  }
  out << "-> " << result.report_path << ", " << result.csv_path
      << (result.grids.empty() ? "" : ", " + std::to_string(result.grids.size()) + " grid(s) *.sanity." +
                                                                   to_string(options.explain.figure_format)) << "\n";
}

int run_sanity(SanityFlags& flags) {
  const std::vector<GateCondition> gate = flags.gate.parse(kSanityMetrics);
  Model model = flags.model.load();
  flags.options.explain = flags.method.to_options(model);
  flags.options.grids = !flags.no_grids;
  flags.figure.apply(flags.options.explain, flags.no_grids ? "--no-grids" : "");
  log_plan(flags.options.explain, model);
  const SanityResult result = check_sanity(model, flags.inputs, flags.options);
  for (const auto& warning : result.warnings) spdlog::warn("{}", warning);
  log_skipped("sanity", result.skipped_outputs, result.skipped_masks);
  print_table(std::cout, result, flags.options);
  return flags.gate.finish(gate, gate_rows(result), "xai sanity");
}

}  // namespace

Command add_sanity(CLI::App& app) {
  auto flags = std::make_shared<SanityFlags>();
  CLI::App* sub = app.add_subcommand(
      "sanity", "Randomise the model's weights stage by stage from the output and flag methods whose maps stay the same");
  flags->model.add_to(*sub);
  flags->method.add_to(*sub);
  sub->add_option("-o,--output-dir", flags->options.output_dir, "Output folder: sanity.json, sanity.csv, STEM.sanity.png")
      ->required();
  sub->add_option("--max-similarity", flags->options.max_similarity,
                  "Flag a method whose mean Spearman rho stays above this after --flag-after steps")
      ->check(finite_between(-1.0, 1.0, "[-1,1]"))
      ->capture_default_str();
  sub->add_option("--flag-after", flags->options.flag_after,
                  "Cascade steps (stages from the output: the head, then the last stage, ...) before the flag is decided")
      ->check(kPositive)
      ->capture_default_str();
  sub->add_option("--randomise-seed", flags->options.seed, "Seed of the re-initialised weights")
      ->check(kSeed)
      ->capture_default_str();
  sub->add_option("--top-fraction", flags->options.top_fraction, "Top fraction of each map for the IoU")
      ->check(finite_between(0.001, 1.0, "[0.001,1]"))
      ->capture_default_str();
  sub->add_option("--batch-size", flags->options.batch_size, "Images per forward pass")->check(kPositive)->capture_default_str();
  flags->figure.add_to(*sub);
  sub->add_flag("--no-grids", flags->no_grids, "Do not write the per-image grids (STEM.sanity.png)");
  flags->gate.add_to(*sub, "flagged>0, gradcam.spearman>0.3", "flagged (0/1) spearman ssim iou_top (at --flag-after) spearman_full (after every stage)");
  sub->add_option("inputs", flags->inputs, "Image files or folders")->required();
  return {sub, [flags] { return run_sanity(*flags); }};
}

}  // namespace xai::cli
