// xai eval: do the explanations point at the lesion? A table per method and layer, and JSON.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <iomanip>
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/gate_flags.hpp"
#include "cli/flag_policy.hpp"
#include "cli/method_flags.hpp"
#include "cli/model_flags.hpp"
#include "cli/validators.hpp"
#include "xai/atomic_file.hpp"
#include "xai/error.hpp"
#include "pipelines/evaluate.hpp"
#include "analysis/gate.hpp"

namespace xai::cli {
namespace {

struct EvalFlags {
  ModelFlags model;
  MethodFlags method;
  EvalOptions options;
  std::string json_path;
  GateFlags gate;
  std::vector<std::string> inputs;
};

std::vector<GateCondition> parse_gate(const EvalFlags& flags) {
  std::vector<std::string> known = kLocalisationMetrics;
  known.insert(known.end(), kFaithfulnessMetrics.begin(), kFaithfulnessMetrics.end());
  const std::vector<GateCondition> conditions = flags.gate.parse(known);
  for (const auto& c : conditions)
    if (!flags.method.faithfulness &&
        std::find(kFaithfulnessMetrics.begin(), kFaithfulnessMetrics.end(), c.metric) != kFaithfulnessMetrics.end())
      throw usage_error("--fail-if '" + c.text + "': " + c.metric + " is measured with --faithfulness");
  return conditions;
}

std::string number_or_na(const std::optional<double>& value) {
  if (!value) return "n/a";
  std::ostringstream out;
  out << std::fixed << std::setprecision(3) << *value;
  return out.str();
}

std::string joined(const std::vector<std::string>& names, const char* separator = ", ") {
  std::string text;
  for (const auto& n : names) text += (text.empty() ? "" : separator) + n;
  return text;
}

// A method's parameters as "key value, key value" (nested values compact): a line a person reads.
std::string readable_parameters(const nlohmann::ordered_json& parameters) {
  std::string text;
  for (const auto& [key, value] : parameters.items())
    text += (text.empty() ? "" : ", ") + key + " " + (value.is_string() ? value.get<std::string>() : value.dump());
  return text;
}

// The classification numbers, each named for what it is.
void print_classification(std::ostream& out, const EvalResult& result, const std::vector<std::string>& labels) {
  const ClassificationScores& c = result.classification;
  const std::string positive = joined(c.positive_classes, "+");
  out << "images " << result.images << ", positives " << result.positives << " (" << positive << "), top-1 accuracy "
      << (c.top1_accuracy ? number_or_na(c.top1_accuracy) + " (" + std::to_string(labels.size()) + " classes)"
                          : "n/a (the true class of " + std::to_string(result.images - c.known_classes) +
                                " image(s) is unknown: give --labels-csv or class-named folders)")
      << "\n"
      << positive << " vs rest: accuracy " << number_or_na(c.positive_vs_rest_accuracy) << ", ROC AUC "
      << (c.positive_vs_rest_roc_auc ? number_or_na(c.positive_vs_rest_roc_auc) : "n/a (one side only)") << "\n";
  if (labels.size() > 2 && c.top1_accuracy) {
    out << "ROC AUC one-vs-rest:";
    for (size_t k = 0; k < labels.size(); ++k) out << " " << labels[k] << " " << number_or_na(c.one_vs_rest_roc_auc[k]);
    out << "; macro " << number_or_na(c.macro_roc_auc) << "\n";
  }
}

void print_table(std::ostream& out, const EvalResult& result, const EvalOptions& options,
                 const std::vector<std::string>& labels) {
  const double top_fraction = options.top_fraction;
  out << "model " << result.model_path << " (" << result.output_kind
      << " outputs), positive class(es) '" << joined(result.classification.positive_classes, "', '") << "', "
      << options.batch_size << " images per pass"
      << ", inference " << result.inference
      << (result.gradient_passes.empty() ? "" : ", captures " + result.gradient_passes) << "\n";
  for (size_t m = 0; m < result.methods.size(); ++m)
    out << "settings of " << result.methods[m] << ": " << readable_parameters(result.parameters[m]) << "\n";
  print_classification(out, result, labels);
  out << std::left << std::setw(12) << "method" << std::setw(28) << "layer" << std::setw(8) << "n" << std::setw(10)
      << "pointing" << std::setw(16) << "energy_in_mask" << "iou_top" << static_cast<int>(top_fraction * 100) << "%\n";
  for (const auto& row : result.rows)
    out << std::setw(12) << row.method << std::setw(28) << row.layer << std::setw(8) << row.count << std::setw(10)
        << number_or_na(row.pointing_game) << std::setw(16) << number_or_na(row.energy_inside)
        << number_or_na(row.iou_top) << "\n";
  if (result.faithfulness.empty()) return;
  out << "faithfulness (images predicted '" << joined(result.classification.positive_classes, "' or '")
      << "'; deletion: lower is better, insertion: higher; random: a random pixel order)\n"
      << std::setw(12) << "method" << std::setw(28) << "layer" << std::setw(8) << "n" << std::setw(10) << "deletion"
      << std::setw(10) << "random" << std::setw(11) << "insertion" << std::setw(10) << "random"
      << "better than random (del/ins)\n";
  for (const auto& row : result.faithfulness)
    out << std::setw(12) << row.method << std::setw(28) << row.layer << std::setw(8) << row.count << std::setw(10)
        << number_or_na(row.deletion_auc) << std::setw(10) << number_or_na(row.random_deletion_auc) << std::setw(11)
        << number_or_na(row.insertion_auc) << std::setw(10) << number_or_na(row.random_insertion_auc)
        << number_or_na(row.deletion_better_than_random) << " / " << number_or_na(row.insertion_better_than_random)
        << "\n";
}

int run_eval(EvalFlags& flags) {
  // The look of overlays applies to the overlays --save-overlays writes; without them eval draws nothing.
  if (flags.options.overlays_dir.empty())
    for (const CLI::Option* option : flags.method.drawing)
      if (option->count() > 0) throw usage_error(flag_name(option) + ": eval writes no images unless --save-overlays DIR");
  const std::vector<GateCondition> gate = parse_gate(flags);
  Model model = flags.model.load();
  flags.options.explain = flags.method.to_options(model);
  log_plan(flags.options.explain, model);
  const EvalResult result = evaluate_localisation(model, flags.inputs, flags.options);
  for (const auto& warning : result.warnings) spdlog::warn("{}", warning);
  log_skipped("eval", result.skipped_outputs, result.skipped_masks);
  // With the report on stdout, the table goes to stderr: stdout stays one JSON document (| jq).
  print_table(flags.json_path == "-" ? std::cerr : std::cout, result, flags.options, model.labels());
  if (!flags.json_path.empty()) {
    const std::string text = result.report.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    if (flags.json_path == "-")
      std::cout << text;
    else
      write_file_atomic(flags.json_path, text);
  }
  return flags.gate.finish(gate, evaluation_metric_rows(result), "xai eval");
}

}  // namespace

Command add_eval(CLI::App& app) {
  auto flags = std::make_shared<EvalFlags>();
  CLI::App* sub = app.add_subcommand("eval", "Measure how well explanations point at ground-truth masks");
  flags->model.add_to(*sub);
  flags->method.add_to(*sub);
  sub->add_option("--save-overlays", flags->options.overlays_dir,
                  "Write every map over its image with the mask's outline into this folder (STEM.METHOD.png)");
  sub->add_option("--masks", flags->options.masks_dir,
                  "Mask folder (MASKS/STEM.png or STEM.mask.png; default: STEM.mask.png beside each image)");
  sub->add_option("--labels-csv", flags->options.labels_csv,
                  "CSV of name,label (default: a folder named like a class names its images' class, else an image is "
                  "positive when its mask has pixels)");
  sub->add_option("--positive-class", flags->options.positive_labels,
                  "The lesion class(es), comma-separated (default: label 1 of a binary model)")
      ->delimiter(',');
  sub->add_option("--top-fraction", flags->options.top_fraction, "Top fraction of the map for IoU")
      ->check(finite_between(0.001, 1.0, "[0.001,1]"))
      ->capture_default_str();
  sub->add_option("--batch-size", flags->options.batch_size, "Images per forward pass")
      ->check(kPositive)
      ->capture_default_str();
  sub->add_option("--json", flags->json_path, "Write the full report (per image too) here; '-' for stdout");
  flags->gate.add_to(*sub, "pointing<0.9, gradcam.deletion_auc>0.25",
                     "accuracy (top-1) roc_auc (macro one-vs-rest) positive_accuracy positive_roc_auc pointing "
                     "energy_inside iou_top, with --faithfulness deletion_auc "
                     "insertion_auc deletion_gain insertion_gain random_deletion_auc random_insertion_auc");
  sub->add_option("inputs", flags->inputs, "Image files or folders")->required();
  return {sub, [flags] { return run_eval(*flags); }};
}

}  // namespace xai::cli
