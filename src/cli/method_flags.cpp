#include "cli/method_flags.hpp"

#include <sstream>

#include "cli/flag_policy.hpp"
#include "cli/validators.hpp"
#include "xai/error.hpp"
#include "xai/explain.hpp"

#include <spdlog/spdlog.h>

namespace xai::cli {
namespace {

std::string method_help() {
  std::string names;
  for (const auto& name : method_names()) names += (names.empty() ? "" : ", ") + name;
  return "Methods, comma-separated: " + names;
}

// The chosen methods that read `setting`, and all that would.
std::string readers_of(Setting setting) {
  std::string names;
  for (const auto& method : explanation_methods())
    if (method->reads(setting)) names += (names.empty() ? "" : ", ") + method->name();
  return names;
}

}  // namespace

void MethodFlags::add_to(CLI::App& sub) {
  auto setting = [&](CLI::Option* option, Setting s) {
    setting_flags.emplace_back(option, s);
    all.push_back(option);
    return option;
  };
  all.push_back(sub.add_option("--method", methods, method_help())->capture_default_str());
  setting(sub.add_option("-l,--layer", layers, "Layer to explain (dotted module path; see `xai layers`); repeatable")
              ->allow_extra_args(false)
              ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll),
          Setting::layers);
  setting(sub.add_option("--layers", layer_set, "auto-all: one map per stage output (ResNet layer1-4, DenseNet blocks, ...)")
              ->check(CLI::IsMember({"auto-all"})),
          Setting::layers);
  auto* target = setting(sub.add_option("-t,--target-class", target_class, "Class to explain: index or label"),
                         Setting::target);
  setting(sub.add_option("-k,--top-k", top_k, "Explain each of the K most probable classes")->check(kPositive)->excludes(target),
          Setting::target);
  setting(sub.add_flag("--all-classes", all_classes, "LIME: explain every class"), Setting::all_classes);
  setting(sub.add_option("--probe-batch", probe_batch,
                         "Perturbed or probe images per forward pass (LIME default 64; Score-CAM 32; Ablation-CAM: as "
                         "many as fit in 256 MiB)")
              ->check(kPositive),
          Setting::probe_batch);
  setting(sub.add_option("--colormap", colormap, "CAM overlays: jet, turbo, viridis or inferno")->capture_default_str(),
          Setting::colormap);
  setting(sub.add_option("--alpha", alpha, "CAM overlays: heatmap opacity")->check(CLI::Range(0.0, 1.0))->capture_default_str(),
          Setting::colormap);
  all.push_back(sub.add_option("--max-pixels", max_pixels, "Refuse larger images")->check(kPositive)->capture_default_str());
  setting(sub.add_option("--samples", lime.samples, "LIME: perturbed samples (row 0 is the original)")
              ->check(kPositive)
              ->capture_default_str(),
          Setting::samples);
  setting(sub.add_option("--segments", lime.superpixels.segments, "LIME: target number of superpixels")
              ->check(kPositive)
              ->capture_default_str(),
          Setting::superpixels);
  setting(sub.add_option("--compactness", compactness, "LIME: SLIC compactness (default 10 for RGB models, 2 for gray ones)")
              ->check(kPositiveReal),
          Setting::superpixels);
  setting(sub.add_option("--superpixels", superpixels, "LIME: slic, slico or mslic")->capture_default_str(),
          Setting::superpixels);
  setting(sub.add_option("--regions", lime.regions_path, "LIME: your own region map (8/16-bit PNG, one value per region)"),
          Setting::superpixels);
  setting(sub.add_option("--hide", hide, "LIME: fill of switched-off superpixels: mean, constant, blur")->capture_default_str(),
          Setting::hide);
  setting(sub.add_option("--hide-color", lime.hide_color, "LIME: colour for --hide constant, in [0,1] (one value or R,G,B)")
              ->allow_extra_args(false)
              ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
              ->delimiter(','),
          Setting::hide);
  setting(sub.add_option("--kernel-width", lime.kernel_width, "LIME: kernel width on cosine distance")
              ->check(kPositiveReal)
              ->capture_default_str(),
          Setting::kernel_width);
  setting(sub.add_option("--seed", lime.seed, "LIME: random seed (same seed, same output)")->capture_default_str(),
          Setting::seed);
  setting(sub.add_option("--repeats", lime.repeats, "LIME: rerun with R seeds and report stability")
              ->check(kPositive)
              ->capture_default_str(),
          Setting::repeats);
}

std::vector<std::string> MethodFlags::method_list() const {
  std::vector<std::string> list;
  std::stringstream text(methods);
  std::string item;
  while (std::getline(text, item, ','))
    if (!item.empty()) list.push_back(item);
  if (list.empty()) throw usage_error("--method: give at least one method");
  for (const auto& name : list) find_method(name);  // throws for an unknown name
  return list;
}

ExplainOptions MethodFlags::to_options(Model& model) const {
  ExplainOptions options;
  options.methods = method_list();
  // A setting that none of the chosen methods reads would be ignored: refuse it.
  for (const auto& [option, setting] : setting_flags) {
    if (option->count() == 0) continue;
    const bool read = std::any_of(options.methods.begin(), options.methods.end(),
                                  [&](const std::string& m) { return find_method(m).reads(setting); });
    if (!read)
      throw usage_error(flag_name(option) + ": not used by --method " + methods + " (it applies to " +
                        readers_of(setting) + ")");
  }
  auto given = [&](const char* name) {
    for (const auto& [option, setting] : setting_flags)
      if (flag_name(option) == name) return option->count() > 0;
    return false;
  };
  if (!lime.regions_path.empty())
    for (const char* name : {"--segments", "--superpixels", "--compactness"})
      if (given(name)) throw usage_error(std::string(name) + ": has no effect with --regions (your regions are used as they are)");
  if (all_classes && (given("--target-class") || given("--top-k")))
    throw usage_error("--all-classes explains every class: drop --target-class/--top-k");
  options.lime = lime;
  options.lime.all_classes = all_classes;
  options.lime.hide = parse_hide_mode(hide);
  options.lime.superpixels.algorithm = parse_superpixel_algorithm(superpixels);
  if (compactness > 0) options.lime.superpixels.compactness = compactness;
  if (!options.lime.hide_color.empty() && options.lime.hide != HideMode::constant)
    throw usage_error("--hide-color needs --hide constant");
  if (lime.samples < 2) throw usage_error("--samples must be at least 2");
  if (lime.superpixels.segments < 2 && lime.regions_path.empty()) throw usage_error("--segments must be at least 2");
  options.cam.batch_size = probe_batch;  // 0: automatic
  if (probe_batch > 0) options.lime.batch_size = probe_batch;
  options.cam.layers = layers;
  if (layer_set == "auto-all") {
    for (const auto& stage : model.stage_layers())
      if (std::find(options.cam.layers.begin(), options.cam.layers.end(), stage) == options.cam.layers.end())
        options.cam.layers.push_back(stage);
  }
  for (size_t i = 0; i < options.cam.layers.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (options.cam.layers[i] == options.cam.layers[j])
        throw usage_error("--layer " + options.cam.layers[i] + ": given twice");
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

void log_plan(const ExplainOptions& options, Model& model) {
  if (!spdlog::should_log(spdlog::level::debug)) return;
  const ExplainPlan plan = plan_explanations(model, options);
  std::string layers;
  for (const auto& l : plan.layers) layers += (layers.empty() ? "" : ", ") + l;
  spdlog::debug("model {} ({}), layers: {}", model.path(), model.card().name, layers.empty() ? "-" : layers);
  for (size_t m = 0; m < plan.methods.size(); ++m)
    spdlog::debug("method {} ({}): {}", plan.methods[m]->name(), to_string(plan.methods[m]->family()),
                  plan.parameters[m].dump());
}

}  // namespace xai::cli
