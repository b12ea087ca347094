// xai explain: one report (and overlay, raw map) per image; goes on past a failed image like batch.
#include <spdlog/spdlog.h>

#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <set>

#include "cli/commands.hpp"
#include "cli/figure_flags.hpp"
#include "cli/method_flags.hpp"
#include "cli/model_flags.hpp"
#include "xai/inputs.hpp"
#include "xai/error.hpp"
#include "xai/explain.hpp"

namespace xai::cli {
namespace {

struct ExplainCommandFlags {
  ModelFlags model;
  MethodFlags method;
  std::string output_dir;
  std::string json;
  std::vector<std::string> images;
  bool no_figure = false;
  bool panel = false;
  FigureFlags figure;
};

void check_destinations(const ExplainCommandFlags& flags) {
  // Any other value used to be ignored without a word: the user asked for a file that never came.
  if (!flags.json.empty() && flags.json != "-")
    throw usage_error("--json " + flags.json + ": only '-' (print the report on stdout) is supported; "
                      "the report is always written to the output directory as STEM.json");
  // Two inputs with the same stem would overwrite each other's outputs.
  std::set<std::string> destinations;
  for (const auto& image : flags.images) {
    namespace fs = std::filesystem;
    const auto key = (fs::path(output_dir_for(image, flags.output_dir)) / input_stem(image)).lexically_normal();
    if (!destinations.insert(key.string()).second)
      throw usage_error(image + ": another input has the same name stem and would overwrite its outputs; "
                        "use separate -o directories or `xai batch`");
  }
}

// "0.9731"; "> 0.9999" rather than a rounded "1.0000" the model did not say (and never a bare "(1)",
// which reads as a class index).
std::string probability_text(double p) {
  if (p >= 0.99995 && p < 1.0) return "> 0.9999";
  char text[32];
  std::snprintf(text, sizeof text, "%.4f", p);
  return text;
}

int run_explain(const ExplainCommandFlags& flags) {
  check_destinations(flags);
  Model model = flags.model.load();
  ExplainOptions options = flags.method.to_options(model);
  options.output_dir = flags.output_dir;
  options.figures = !flags.no_figure;
  options.panel = flags.panel;
  flags.figure.apply(options, flags.no_figure && !flags.panel ? "--no-figure" : "");
  const ExplainPlan plan = plan_explanations(model, options);
  log_plan(options, model);

  const bool json_to_stdout = flags.json == "-";
  std::ostream& human = json_to_stdout ? std::cerr : std::cout;
  // --frames all: each frame of a multi-frame DICOM file is an input of its own.
  std::vector<InputFile> inputs;
  for (const auto& image : flags.images) inputs.push_back({image, image});
  if (options.limits.dicom.all_frames) inputs = expand_frames(inputs);
  size_t failed = 0;
  for (const auto& input : inputs) {
    const std::string image = input.frame > 0 ? input.path + " frame " + std::to_string(input.frame) : input.path;
    try {
      const ExplainOutcome outcome = explain_image(model, plan, input);
      for (const auto& warning : outcome.warnings) spdlog::warn("{}: {}", image, warning);
      human << image << ": " << outcome.label << ", probability "
            << probability_text(outcome.prediction.probabilities.at(outcome.prediction.predicted)) << " -> "
            << outcome.files.front() << "\n";
      // --faithfulness: one line per map, from the report (what was written is what is shown).
      for (const auto& entry : outcome.report["explanations"]) {
        if (!entry.contains("faithfulness")) continue;
        const auto& f = entry["faithfulness"];
        human << std::fixed << std::setprecision(3) << "  faithfulness " << entry["method"].get<std::string>()
              << (entry.contains("layer") ? " " + entry["layer"].get<std::string>() : std::string()) << " ("
              << entry["target"]["label"].get<std::string>() << "): deletion " << f["deletion_auc"].get<double>()
              << " (random " << f["random_deletion_auc"].get<double>() << "), insertion "
              << f["insertion_auc"].get<double>() << " (random " << f["random_insertion_auc"].get<double>() << ")\n"
              << std::defaultfloat;
      }
      if (json_to_stdout) std::cout << outcome.report.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
    } catch (const Error& e) {
      if (inputs.size() == 1) throw;
      std::cerr << "xai: error: " << e.what() << "\n";
      ++failed;
    }
  }
  if (failed == 0) return 0;
  std::cerr << "xai: explain: " << inputs.size() - failed << " explained, " << failed << " failed\n";
  return static_cast<int>(ExitCode::partial);
}

}  // namespace

Command add_explain(CLI::App& app) {
  auto flags = std::make_shared<ExplainCommandFlags>();
  CLI::App* sub = app.add_subcommand("explain", "Explain the predictions for one or more images");
  flags->model.add_to(*sub);
  flags->method.add_to(*sub);
  sub->add_option("-o,--output-dir", flags->output_dir, "Output directory (default: xai-out beside each image)");
  sub->add_option("--json", flags->json, "Also print the report: '-' for stdout");
  flags->figure.add_to(*sub);
  sub->add_flag("--no-figure", flags->no_figure,
                "Skip STEM.METHOD.figure.png (the original beside the overlay, with a header and a colour bar)");
  sub->add_flag("--panel", flags->panel, kPanelHelp);
  sub->add_option("images", flags->images, "Image files (PNG, JPEG, TIFF, BMP, ...)")->required();
  return {sub, [flags] { return run_explain(*flags); }};
}

}  // namespace xai::cli
