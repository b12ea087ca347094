// xai explain: one report (and overlay, raw map) per image.
#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/model_flags.hpp"
#include "xai/error.hpp"
#include "xai/explain.hpp"

namespace xai::cli {
namespace {

struct ExplainFlags {
  ModelFlags model;
  std::string methods = "gradcam";
  bool all_classes = false;
  std::string hide = "mean";
  std::string superpixels = "slic";
  float compactness = 0;
  std::vector<std::string> layers;
  std::string target_class;
  int top_k = 0;
  std::string output_dir;
  std::string colormap = "jet";
  double alpha = 0.5;
  std::string json;
  long long max_pixels = ImageLimits{}.max_pixels;
  std::vector<std::string> images;
  LimeOptions lime;
};

std::vector<std::string> split_methods(const std::string& text) {
  std::vector<std::string> methods;
  std::stringstream list(text);
  std::string item;
  while (std::getline(list, item, ','))
    if (!item.empty()) methods.push_back(item);
  return methods;
}

int run_explain(const ExplainFlags& flags) {
  const auto names = explanation_method_names();
  const std::vector<std::string> methods = split_methods(flags.methods);
  for (const auto& method : methods)
    if (std::find(names.begin(), names.end(), method) == names.end()) {
      std::string available;
      for (const auto& name : names) available += (available.empty() ? "" : ", ") + name;
      throw usage_error("--method " + method + ": unknown method (available: " + available + ")");
    }
  if (methods.empty()) throw usage_error("--method: give at least one method");
  ExplainOptions options;
  options.methods = methods;
  options.lime = flags.lime;
  options.lime.all_classes = flags.all_classes;
  options.lime.hide = parse_hide_mode(flags.hide);
  options.lime.superpixels.algorithm = parse_superpixel_algorithm(flags.superpixels);
  if (flags.compactness > 0) options.lime.superpixels.compactness = flags.compactness;
  if (!options.lime.hide_color.empty() && options.lime.hide != HideMode::constant)
    throw usage_error("--hide-color needs --hide constant");
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
  sub->add_option("--method", flags->methods, "Methods, comma-separated: gradcam, lime")->capture_default_str();
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
  // LIME
  auto& lime = flags->lime;
  sub->add_option("--samples", lime.samples, "LIME: perturbed samples (row 0 is the original)")->capture_default_str();
  sub->add_option("--segments", lime.superpixels.segments, "LIME: target number of superpixels")->capture_default_str();
  sub->add_option("--compactness", flags->compactness,
                  "LIME: SLIC compactness (default 10 for RGB models, 2 for gray ones)")->check(CLI::PositiveNumber);
  sub->add_option("--superpixels", flags->superpixels, "LIME: slic, slico or mslic")->capture_default_str();
  sub->add_option("--regions", lime.regions_path, "LIME: your own region map (8/16-bit PNG, one value per region)");
  sub->add_option("--hide", flags->hide, "LIME: fill of switched-off superpixels: mean, constant, blur")
      ->capture_default_str();
  sub->add_option("--hide-color", lime.hide_color, "LIME: colour for --hide constant, in [0,1] (one value or R,G,B)")
      ->delimiter(',');
  sub->add_option("--kernel-width", lime.kernel_width, "LIME: kernel width on cosine distance")->capture_default_str();
  sub->add_option("--seed", lime.seed, "LIME: random seed (same seed, same output)")->capture_default_str();
  sub->add_option("--batch-size", lime.batch_size, "LIME: perturbed images per forward pass")->capture_default_str();
  sub->add_option("--repeats", lime.repeats, "LIME: rerun with R seeds and report stability")->capture_default_str();
  sub->add_flag("--all-classes", flags->all_classes, "LIME: explain every class");
  sub->add_option("images", flags->images, "Image files (PNG, JPEG, TIFF, BMP, ...)")->required();
  return {sub, [flags] { return run_explain(*flags); }};
}

}  // namespace xai::cli
