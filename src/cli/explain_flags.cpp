#include "cli/explain_flags.hpp"

#include <sstream>

#include "xai/error.hpp"
#include "validators.hpp"

namespace xai::cli {
namespace {

std::vector<std::string> split_methods(const std::string& text) {
  std::vector<std::string> methods;
  std::stringstream list(text);
  std::string item;
  while (std::getline(list, item, ','))
    if (!item.empty()) methods.push_back(item);
  return methods;
}

}  // namespace

void ExplainFlags::add_to(CLI::App& sub, const std::string& lime_batch_flag) {
  sub.add_option("--method", methods, "Methods, comma-separated: gradcam, lime")->capture_default_str();
  sub.add_option("-l,--layer", layers, "Layer to explain (dotted module path; see `xai layers`); repeatable")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  sub.add_option("--layers", layer_set, "auto-all: one map per stage output (ResNet layer1-4, DenseNet blocks, ...)")
      ->check(CLI::IsMember({"auto-all"}));
  auto* target = sub.add_option("-t,--target-class", target_class, "Class to explain: index or label");
  sub.add_option("-k,--top-k", top_k, "Explain each of the K most probable classes")
      ->check(kPositive)
      ->excludes(target);
  sub.add_option("--colormap", colormap, "jet, turbo, viridis or inferno")->capture_default_str();
  sub.add_option("--alpha", alpha, "Heatmap opacity in the overlay")->check(CLI::Range(0.0, 1.0))->capture_default_str();
  sub.add_option("--max-pixels", max_pixels, "Refuse larger images")->check(kPositive)->capture_default_str();
  sub.add_option("--samples", lime.samples, "LIME: perturbed samples (row 0 is the original)")
      ->check(kPositive)
      ->capture_default_str();
  sub.add_option("--segments", lime.superpixels.segments, "LIME: target number of superpixels")
      ->check(kPositive)
      ->capture_default_str();
  sub.add_option("--compactness", compactness, "LIME: SLIC compactness (default 10 for RGB models, 2 for gray ones)")
      ->check(kPositiveReal);
  sub.add_option("--superpixels", superpixels, "LIME: slic, slico or mslic")->capture_default_str();
  sub.add_option("--regions", lime.regions_path, "LIME: your own region map (8/16-bit PNG, one value per region)");
  sub.add_option("--hide", hide, "LIME: fill of switched-off superpixels: mean, constant, blur")->capture_default_str();
  sub.add_option("--hide-color", lime.hide_color, "LIME: colour for --hide constant, in [0,1] (one value or R,G,B)")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->delimiter(',');
  sub.add_option("--kernel-width", lime.kernel_width, "LIME: kernel width on cosine distance")
      ->check(kPositiveReal)
      ->capture_default_str();
  sub.add_option("--seed", lime.seed, "LIME: random seed (same seed, same output)")->capture_default_str();
  probe_batch_option = sub.add_option(lime_batch_flag, lime.batch_size,
                                      "LIME, Score-CAM, Ablation-CAM: perturbed images per forward pass "
                                      "(Score-CAM default 32; Ablation-CAM default: as many as fit in 256 MiB)")
                           ->check(kPositive)
                           ->capture_default_str();
  sub.add_option("--repeats", lime.repeats, "LIME: rerun with R seeds and report stability")
      ->check(kPositive)
      ->capture_default_str();
  sub.add_flag("--all-classes", all_classes, "LIME: explain every class");
}

ExplainOptions ExplainFlags::to_options(Model& model) const {
  const auto names = explanation_method_names();
  ExplainOptions options;
  options.methods = split_methods(methods);
  if (options.methods.empty()) throw usage_error("--method: give at least one method");
  for (const auto& method : options.methods)
    if (std::find(names.begin(), names.end(), method) == names.end()) {
      std::string available;
      for (const auto& name : names) available += (available.empty() ? "" : ", ") + name;
      throw usage_error("--method " + method + ": unknown method (available: " + available + ")");
    }
  options.lime = lime;
  options.lime.all_classes = all_classes;
  options.lime.hide = parse_hide_mode(hide);
  options.lime.superpixels.algorithm = parse_superpixel_algorithm(superpixels);
  if (compactness > 0) options.lime.superpixels.compactness = compactness;
  if (!options.lime.hide_color.empty() && options.lime.hide != HideMode::constant)
    throw usage_error("--hide-color needs --hide constant");
  if (lime.samples < 2) throw usage_error("--samples must be at least 2");
  if (lime.superpixels.segments < 2 && lime.regions_path.empty()) throw usage_error("--segments must be at least 2");
  options.cam.batch_size = probe_batch_option && probe_batch_option->count() > 0 ? lime.batch_size : 0;
  options.cam.layers = layers;
  if (layer_set == "auto-all") {
    for (const auto& stage : model.stage_layers())
      if (std::find(options.cam.layers.begin(), options.cam.layers.end(), stage) == options.cam.layers.end())
        options.cam.layers.push_back(stage);
  }
  options.colormap = parse_colormap(colormap);
  options.alpha = alpha;
  options.limits.max_pixels = max_pixels;
  if (!target_class.empty()) {
    options.cam.target.kind = TargetSpec::Kind::given;
    options.cam.target.class_index = parse_class(target_class, model.labels());
  } else if (top_k > 0) {
    options.cam.target.kind = TargetSpec::Kind::top_k;
    options.cam.target.k = top_k;
  }
  return options;
}

}  // namespace xai::cli
