// xai compare: the same images through several models, side by side.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>

#include "cli/commands.hpp"
#include "cli/explain_flags.hpp"
#include "cli/model_flags.hpp"
#include "xai/compare.hpp"
#include "xai/error.hpp"
#include "xai/evaluate.hpp"

namespace xai::cli {
namespace {

struct CompareFlags {
  std::vector<std::string> models;
  std::string device = "cpu";
  ExplainFlags explain;
  std::string output_dir;
  std::string label;
  std::string labels_csv;
  std::vector<std::string> images;
};

int run_compare(const CompareFlags& flags) {
  if (flags.models.size() < 2) throw usage_error("--model: give at least two models to compare");
  std::vector<std::unique_ptr<Model>> owned;
  std::vector<Model*> models;
  for (const auto& path : flags.models) {
    ModelFlags one;
    one.model = path;
    one.device = flags.device;
    owned.push_back(std::make_unique<Model>(one.load()));
    models.push_back(owned.back().get());
  }
  CompareOptions options;
  // Label names for --target-class resolve against the first model; indices work for all.
  options.explain = flags.explain.to_options(*models.front());
  options.output_dir = flags.output_dir;
  const auto truths = flags.labels_csv.empty() ? std::map<std::string, std::string>{} : read_labels_csv(flags.labels_csv);
  for (const auto& image : flags.images) {
    options.true_label = flags.label;
    auto it = truths.find(std::filesystem::path(image).stem().string());
    if (it != truths.end()) options.true_label = it->second;
    const CompareOutcome outcome = compare_models(models, image, options);
    std::cout << image << " -> " << outcome.grid_path << "\n";
  }
  return 0;
}

}  // namespace

Command add_compare(CLI::App& app) {
  auto flags = std::make_shared<CompareFlags>();
  CLI::App* sub = app.add_subcommand("compare", "Explain the same images with several models, side by side");
  sub->add_option("-m,--model", flags->models, "A TorchScript model (repeat: two or more)")
      ->required()
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  sub->add_option("--device", flags->device, "cpu, cuda or cuda:N")->capture_default_str();
  flags->explain.add_to(*sub);
  sub->add_option("-o,--output-dir", flags->output_dir, "Output directory (default: xai-out beside each image)");
  sub->add_option("--label", flags->label, "The true label of the image(s), shown in captions");
  sub->add_option("--labels-csv", flags->labels_csv, "CSV of name,label with true labels");
  sub->add_option("images", flags->images, "Image files")->required();
  return {sub, [flags] { return run_compare(*flags); }};
}

}  // namespace xai::cli
