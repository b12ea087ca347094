// xai eval: do the explanations point at the lesion? A table per method and layer, and JSON.
#include <iomanip>
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/model_flags.hpp"
#include "xai/atomic_file.hpp"
#include "xai/evaluate.hpp"
#include "validators.hpp"

namespace xai::cli {
namespace {

struct EvalFlags {
  ModelFlags model;
  EvalOptions options;
  std::string json_path;
  std::vector<std::string> inputs;
};

int run_eval(EvalFlags& flags) {
  Model model = flags.model.load();
  const EvalResult result = evaluate_localisation(model, flags.inputs, flags.options);
  std::cout << std::fixed << std::setprecision(3) << "images " << result.images << ", positives "
            << result.positives << ", accuracy " << result.accuracy << ", ROC AUC ";
  if (result.roc_auc)
    std::cout << *result.roc_auc;
  else
    std::cout << "n/a (one class only)";
  std::cout << "\n"
            << std::left << std::setw(10) << "method" << std::setw(28) << "layer" << std::setw(8) << "n"
            << std::setw(10) << "pointing" << std::setw(16) << "energy_in_mask" << "iou_top"
            << static_cast<int>(flags.options.top_fraction * 100) << "%\n";
  for (const auto& row : result.rows)
    std::cout << std::setw(10) << row.method << std::setw(28) << row.layer << std::setw(8) << row.count
              << std::setw(10) << row.pointing_game << std::setw(16) << row.energy_inside << row.iou_top << "\n";
  if (!flags.json_path.empty()) {
    const std::string text = result.report.dump(2) + "\n";
    if (flags.json_path == "-")
      std::cout << text;
    else
      write_file_atomic(flags.json_path, text);
  }
  return 0;
}

}  // namespace

Command add_eval(CLI::App& app) {
  auto flags = std::make_shared<EvalFlags>();
  CLI::App* sub = app.add_subcommand("eval", "Measure how well explanations point at ground-truth masks");
  flags->model.add_to(*sub);
  sub->add_option("--method", flags->options.method, "Explanation method (a CAM method or lime)")->capture_default_str();
  sub->add_option("--samples", flags->options.lime.samples, "LIME: samples")->capture_default_str();
  sub->add_option("--segments", flags->options.lime.superpixels.segments, "LIME: superpixels")->capture_default_str();
  sub->add_option("--seed", flags->options.lime.seed, "LIME: seed")->capture_default_str();
  sub->add_option("-l,--layer", flags->options.layers, "Layer(s) to evaluate (repeatable)")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  sub->add_option("--masks", flags->options.masks_dir,
                  "Mask folder (MASKS/STEM.png or STEM.mask.png; default: STEM.mask.png beside each image)");
  sub->add_option("--labels-csv", flags->options.labels_csv,
                  "CSV of name,label (default: an image is positive when its mask has pixels)");
  sub->add_option("--positive-class", flags->options.positive_label, "The lesion class (default: label 1)");
  sub->add_option("--top-fraction", flags->options.top_fraction, "Top fraction of the map for IoU")
      ->check(CLI::Range(0.001, 1.0))
      ->capture_default_str();
  sub->add_option("--batch-size", flags->options.batch_size, "Images per forward pass")
      ->check(kPositive)
      ->capture_default_str();
  sub->add_option("--json", flags->json_path, "Write the full report (per image too) here; '-' for stdout");
  sub->add_option("inputs", flags->inputs, "Image files or folders")->required();
  return {sub, [flags] { return run_eval(*flags); }};
}

}  // namespace xai::cli
