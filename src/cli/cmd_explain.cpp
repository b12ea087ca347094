// xai explain: one report (and overlay, raw map) per image.
#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/explain_flags.hpp"
#include "cli/model_flags.hpp"
#include "xai/error.hpp"
#include "xai/explain.hpp"

namespace xai::cli {
namespace {

struct ExplainCommandFlags {
  ModelFlags model;
  ExplainFlags explain;
  std::string output_dir;
  std::string json;
  std::vector<std::string> images;
};

int run_explain(const ExplainCommandFlags& flags) {
  // Any other value used to be ignored without a word: the user asked for a file that never came.
  if (!flags.json.empty() && flags.json != "-")
    throw usage_error("--json " + flags.json + ": only '-' (print the report on stdout) is supported; "
                      "the report is always written to the output directory as STEM.json");
  // Two inputs with the same stem would overwrite each other's outputs.
  std::set<std::string> destinations;
  for (const auto& image : flags.images) {
    namespace fs = std::filesystem;
    const auto key = (fs::path(output_dir_for(image, flags.output_dir)) / fs::path(image).stem()).lexically_normal();
    if (!destinations.insert(key.string()).second)
      throw usage_error(image + ": another input has the same name stem and would overwrite its outputs; "
                        "use separate -o directories or `xai batch`");
  }

  Model model = flags.model.load();
  ExplainOptions options = flags.explain.to_options(model);
  options.output_dir = flags.output_dir;

  const bool json_to_stdout = flags.json == "-";
  std::ostream& human = json_to_stdout ? std::cerr : std::cout;
  for (const auto& image : flags.images) {
    ExplainOutcome outcome = explain_image(model, image, options);
    for (const auto& warning : outcome.report["warnings"]) spdlog::warn("{}: {}", image, warning.get<std::string>());
    const auto& prediction = outcome.report["prediction"];
    human << image << ": " << prediction["label"].get<std::string>() << " ("
          << prediction["probability"].get<float>() << ") -> " << outcome.files.front() << "\n";
    if (json_to_stdout) std::cout << outcome.report.dump(2) << std::endl;
  }
  return 0;
}

}  // namespace

Command add_explain(CLI::App& app) {
  auto flags = std::make_shared<ExplainCommandFlags>();
  CLI::App* sub = app.add_subcommand("explain", "Explain the predictions for one or more images");
  flags->model.add_to(*sub);
  flags->explain.add_to(*sub);
  sub->add_option("-o,--output-dir", flags->output_dir, "Output directory (default: xai-out beside each image)");
  sub->add_option("--json", flags->json, "Also print the report: '-' for stdout");
  sub->add_option("images", flags->images, "Image files (PNG, JPEG, TIFF, BMP, ...)")->required();
  return {sub, [flags] { return run_explain(*flags); }};
}

}  // namespace xai::cli
