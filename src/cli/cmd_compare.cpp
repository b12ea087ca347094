// xai compare: the same images through several models, side by side.
#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <memory>

#include "cli/commands.hpp"
#include "cli/figure_flags.hpp"
#include "cli/method_flags.hpp"
#include "cli/model_flags.hpp"
#include "xai/inputs.hpp"
#include "pipelines/compare.hpp"
#include "xai/error.hpp"
#include "pipelines/evaluate.hpp"

namespace xai::cli {
namespace {

struct CompareFlags {
  ModelFlags model;
  MethodFlags method;
  std::string output_dir;
  std::string label;
  std::string labels_csv;
  std::vector<std::string> images;
  FigureFlags figure;
};

int run_compare(const CompareFlags& flags) {
  std::vector<Model> owned = flags.model.load_all();
  std::vector<Model*> models;
  for (auto& model : owned) models.push_back(&model);
  CompareOptions options;
  // Label names for --target-class resolve against the first model; indices work for all.
  options.explain = flags.method.to_options(*models.front());
  options.matched_stages = flags.method.value_of("layer_set") == "stages";
  options.explain.output_dir = flags.output_dir;
  flags.figure.apply(options.explain, "");
  for (Model* model : models) log_plan(options.explain, *model);
  const auto truths = flags.labels_csv.empty() ? std::map<std::string, std::string>{} : read_labels_csv(flags.labels_csv);
  InputSelection selection;
  if (!flags.output_dir.empty()) selection.output_dirs.push_back(flags.output_dir);
  const std::vector<InputFile> inputs = discover_inputs(flags.images, selection);
  if (inputs.empty()) throw usage_error("compare: no images found in " + flags.images.front());
  std::vector<ImageAgreement> agreements;
  std::vector<std::string> failed;
  for (const auto& input : inputs) {
    const std::string& image = input.path;
    options.true_label = flags.label;
    auto it = truths.find(input_stem(image));
    if (it != truths.end()) options.true_label = it->second;
    try {
      const CompareOutcome outcome = compare_models(models, image, options);
      for (const auto& warning : outcome.warnings) spdlog::warn("{}: {}", image, warning);
      std::cout << image << " -> " << outcome.grid_path << "\n";
      agreements.push_back({input.id(), outcome.report.at("agreement")});
    } catch (const Error& e) {
      // One image of many goes on past its failure, as explain and batch do; a single image fails the run.
      if (inputs.size() == 1 || e.code() == ExitCode::usage) throw;
      std::cerr << "xai: error: " << e.what() << "\n";
      failed.push_back(input.id());
    }
  }
  if (inputs.size() > 1) {
    const std::string dir = output_dir_for(inputs.front().path, flags.output_dir);
    const AgreementSummary summary = summarise_agreement(agreements, failed, dir, options);
    std::cout << "agreement over " << agreements.size() << " images -> " << summary.json_path << "\n";
  }
  if (failed.empty()) return 0;
  std::cerr << "xai: compare: " << agreements.size() << " compared, " << failed.size() << " failed\n";
  return static_cast<int>(ExitCode::partial);
}

}  // namespace

Command add_compare(CLI::App& app) {
  auto flags = std::make_shared<CompareFlags>();
  CLI::App* sub = app.add_subcommand("compare", "Explain the same images with several models, side by side");
  flags->model.add_to(*sub, ModelFlags::Mode::several);
  flags->method.matches_stages = true;
  flags->method.add_to(*sub);
  sub->add_option("-o,--output-dir", flags->output_dir, "Output directory (default: xai-out beside each image)");
  flags->figure.add_to(*sub);
  sub->add_option("--label", flags->label, "The true label of the image(s), shown in captions");
  sub->add_option("--labels-csv", flags->labels_csv, "CSV of name,label with true labels");
  sub->add_option("images", flags->images,
                  "Image files or folders; with several images, also compare.agreement.csv/.json and a table figure "
                  "(each metric's mean and spread per model pair)")
      ->required();
  return {sub, [flags] { return run_compare(*flags); }};
}

}  // namespace xai::cli
