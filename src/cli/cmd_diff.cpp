// xai diff: the same images through two versions of a model; how far did the explanations move?
#include <spdlog/spdlog.h>

#include <iomanip>
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/figure_flags.hpp"
#include "cli/gate_flags.hpp"
#include "cli/method_flags.hpp"
#include "cli/model_flags.hpp"
#include "cli/validators.hpp"
#include "pipelines/drift.hpp"
#include "xai/error.hpp"

namespace xai::cli {
namespace {

struct DiffFlags {
  ModelFlags model;
  MethodFlags method;
  GateFlags gate;
  FigureFlags figure;
  DiffOptions options;
  std::vector<std::string> inputs;
};

const std::vector<std::string> kDiffMetrics = {
    "prediction_changes", "prediction_change_rate", "old_top1_accuracy", "new_top1_accuracy",  // the run
    "drift_mean", "drift_p50", "drift_p90", "drift_max", "spearman_mean", "iou_top_mean",  // each method
    "drift", "spearman", "iou_top", "probability_change"};                              // each image

std::string row_name(const std::string& method, const std::string& old_layer, const std::string& new_layer) {
  if (old_layer.empty()) return method;
  return method + " " + (old_layer == new_layer ? old_layer : old_layer + "->" + new_layer);
}

// The run, one row per method × layers, and one per image × method (a JUnit case per image).
std::vector<MetricRow> gate_rows(const DiffResult& result) {
  std::vector<MetricRow> rows = {{"run", "",
                                  {{"prediction_changes", static_cast<double>(result.prediction_changes)},
                                   {"prediction_change_rate", result.prediction_change_rate},
                                   {"old_top1_accuracy", result.old_top1_accuracy},
                                   {"new_top1_accuracy", result.new_top1_accuracy}}}};
  for (const auto& r : result.rows)
    rows.push_back({row_name(r.method, r.old_layer, r.new_layer),
                    r.method,
                    {{"drift_mean", r.drift_mean},
                     {"drift_p50", r.drift_p50},
                     {"drift_p90", r.drift_p90},
                     {"drift_max", r.drift_max},
                     {"spearman_mean", r.spearman_mean},
                     {"iou_top_mean", r.iou_top_mean}}});
  for (const auto& image : result.images)
    for (const auto& m : image.maps)
      rows.push_back({image.path + " " + row_name(m.method, m.old_layer, m.new_layer),
                      m.method,
                      {{"drift", m.drift},
                       {"spearman", m.spearman},
                       {"iou_top", m.iou_top},
                       {"probability_change", image.new_probability - image.old_probability}}});
  return rows;
}

void print_table(std::ostream& out, const DiffResult& result) {
  out << "diff: " << result.images.size() << " image(s), " << result.prediction_changes
      << " prediction change(s); drift = 1 - Spearman rho of the two maps of the same class\n"
      << std::left << std::setw(28) << "method" << std::setw(8) << "n" << std::setw(10) << "mean" << std::setw(10)
      << "p50" << std::setw(10) << "p90" << std::setw(10) << "max" << "iou_top\n"
      << std::fixed << std::setprecision(3);
  for (const auto& r : result.rows)
    out << std::setw(28) << row_name(r.method, r.old_layer, r.new_layer) << std::setw(8) << r.count << std::setw(10)
        << r.drift_mean << std::setw(10) << r.drift_p50 << std::setw(10) << r.drift_p90 << std::setw(10)
        << r.drift_max << r.iou_top_mean << "\n";
  if (result.old_top1_accuracy)
    out << "top-1 accuracy over the " << result.images_with_true_label << " image(s) with a true label: old "
        << *result.old_top1_accuracy << ", new " << *result.new_top1_accuracy << "\n";
  out << "-> " << result.gallery_path << " (largest drift first), " << result.report_path << ", " << result.csv_path
      << "\n";
}

int run_diff(DiffFlags& flags) {
  if (flags.model.models.size() != 2)
    throw usage_error("--model: diff takes exactly two models, the old then the new (got " +
                      std::to_string(flags.model.models.size()) + ")");
  const std::vector<GateCondition> gate = flags.gate.parse(kDiffMetrics);
  std::vector<Model> models = flags.model.load_all();
  // Label names for --target-class resolve against the old model; the labels must match anyway.
  flags.options.explain = flags.method.to_options(models[0]);
  flags.figure.apply(flags.options.explain, "");
  for (Model& model : models) log_plan(flags.options.explain, model);
  const DiffResult result = diff_models(models[0], models[1], flags.inputs, flags.options);
  for (const auto& warning : result.warnings) spdlog::warn("{}", warning);
  log_skipped("diff", result.skipped_outputs, result.skipped_masks);
  print_table(std::cout, result);
  return flags.gate.finish(gate, gate_rows(result), "xai diff");
}

}  // namespace

Command add_diff(CLI::App& app) {
  auto flags = std::make_shared<DiffFlags>();
  CLI::App* sub = app.add_subcommand("diff", "Explanation drift: the same images through an old and a new model");
  flags->model.add_to(*sub, ModelFlags::Mode::several);
  flags->method.add_to(*sub);
  sub->add_option("-o,--output-dir", flags->options.output_dir, "Output folder: index.html, diff.json, diff.csv, STEM.diff.png (.svg, .pdf)")
      ->required();
  flags->figure.add_to(*sub);
  sub->add_option("--top-fraction", flags->options.top_fraction, "Top fraction of each map for the IoU")
      ->check(finite_between(0.001, 1.0, "[0.001,1]"))
      ->capture_default_str();
  sub->add_option("--batch-size", flags->options.batch_size, "Images per forward pass")->check(kPositive)->capture_default_str();
  sub->add_option("--labels-csv", flags->options.labels_csv,
                  "CSV of name,label with true labels (also class-named folders): each model's top-1 accuracy");
  flags->gate.add_to(*sub, "drift_p90>0.3, prediction_changes>0, drift>0.8 (per image)",
                     "prediction_changes prediction_change_rate old_top1_accuracy new_top1_accuracy (the run, "
                     "with true labels); drift_mean drift_p50 drift_p90 drift_max "
                     "spearman_mean iou_top_mean (each method); drift spearman iou_top probability_change (each image)");
  sub->add_option("inputs", flags->inputs, "Image files or folders")->required();
  return {sub, [flags] { return run_diff(*flags); }};
}

}  // namespace xai::cli
