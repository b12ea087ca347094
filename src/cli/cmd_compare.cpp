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
  options.explain.output_dir = flags.output_dir;
  flags.figure.apply(options.explain, "");
  for (Model* model : models) log_plan(options.explain, *model);
  const auto truths = flags.labels_csv.empty() ? std::map<std::string, std::string>{} : read_labels_csv(flags.labels_csv);
  for (const auto& image : flags.images) {
    options.true_label = flags.label;
    auto it = truths.find(input_stem(image));
    if (it != truths.end()) options.true_label = it->second;
    const CompareOutcome outcome = compare_models(models, image, options);
    for (const auto& warning : outcome.warnings) spdlog::warn("{}: {}", image, warning);
    std::cout << image << " -> " << outcome.grid_path << "\n";
  }
  return 0;
}

}  // namespace

Command add_compare(CLI::App& app) {
  auto flags = std::make_shared<CompareFlags>();
  CLI::App* sub = app.add_subcommand("compare", "Explain the same images with several models, side by side");
  flags->model.add_to(*sub, ModelFlags::Mode::several);
  flags->method.add_to(*sub);
  sub->add_option("-o,--output-dir", flags->output_dir, "Output directory (default: xai-out beside each image)");
  flags->figure.add_to(*sub);
  sub->add_option("--label", flags->label, "The true label of the image(s), shown in captions");
  sub->add_option("--labels-csv", flags->labels_csv, "CSV of name,label with true labels");
  sub->add_option("images", flags->images, "Image files")->required();
  return {sub, [flags] { return run_compare(*flags); }};
}

}  // namespace xai::cli
