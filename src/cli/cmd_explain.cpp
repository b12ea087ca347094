// xai explain: one report (and overlay, raw map) per image.
#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <set>

#include "cli/commands.hpp"
#include "cli/model_flags.hpp"
#include "xai/error.hpp"
#include "xai/explain.hpp"

namespace xai::cli {
namespace {

struct ExplainFlags {
  ModelFlags model;
  std::string method = "gradcam";
  std::vector<std::string> layers;
  std::string target_class;
  int top_k = 0;
  std::string output_dir;
  std::string colormap = "jet";
  double alpha = 0.5;
  std::string json;
  long long max_pixels = ImageLimits{}.max_pixels;
  std::vector<std::string> images;
};

int run_explain(const ExplainFlags& flags) {
  const auto names = cam_method_names();
  if (std::find(names.begin(), names.end(), flags.method) == names.end()) {
    std::string available;
    for (const auto& name : names) available += (available.empty() ? "" : ", ") + name;
    throw usage_error("--method " + flags.method + ": unknown method (available: " + available + ")");
  }
  ExplainOptions options;
  options.cam.method = flags.method;
  options.cam.layers = flags.layers;
  options.output_dir = flags.output_dir;
  options.colormap = parse_colormap(flags.colormap);
  options.alpha = flags.alpha;
  options.limits.max_pixels = flags.max_pixels;

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
  if (!flags.target_class.empty()) {
    options.cam.target.kind = TargetSpec::Kind::given;
    options.cam.target.class_index = parse_class(flags.target_class, model.labels());
  } else if (flags.top_k > 0) {
    options.cam.target.kind = TargetSpec::Kind::top_k;
    options.cam.target.k = flags.top_k;
  }

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
  auto flags = std::make_shared<ExplainFlags>();
  CLI::App* sub = app.add_subcommand("explain", "Explain the predictions for one or more images");
  flags->model.add_to(*sub);
  sub->add_option("--method", flags->method, "Explanation method: gradcam")->capture_default_str();
  sub->add_option("-l,--layer", flags->layers, "Layer to explain (dotted module path; see `xai layers`)");
  auto* target = sub->add_option("-t,--target-class", flags->target_class, "Class to explain: index or label");
  sub->add_option("-k,--top-k", flags->top_k, "Explain each of the K most probable classes")
      ->check(CLI::PositiveNumber)
      ->excludes(target);
  sub->add_option("-o,--output-dir", flags->output_dir, "Output directory (default: xai-out beside each image)");
  sub->add_option("--colormap", flags->colormap, "jet, turbo, viridis or inferno")->capture_default_str();
  sub->add_option("--alpha", flags->alpha, "Heatmap opacity in the overlay")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  sub->add_option("--json", flags->json, "Also print the report: '-' for stdout");
  sub->add_option("--max-pixels", flags->max_pixels, "Refuse larger images")->capture_default_str();
  sub->add_option("images", flags->images, "Image files (PNG, JPEG, TIFF, BMP, ...)")->required();
  return {sub, [flags] { return run_explain(*flags); }};
}

}  // namespace xai::cli
