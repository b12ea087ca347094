#include "cli/method_flags.hpp"

#include <limits>
#include <map>
#include <stdexcept>
#include <sstream>

#include "cli/flag_policy.hpp"
#include "cli/validators.hpp"
#include "xai/error.hpp"
#include "xai/explain.hpp"
#include "core/text.hpp"
#include "output/render.hpp"
#include "methods/perturbation.hpp"

#include <spdlog/spdlog.h>

namespace xai::cli {
namespace {

// A library parser's value, its error prefixed with the flag that gave the text.
template <typename Parse>
auto parsed_from(const std::string& flag, Parse parse) {
  try {
    return parse();
  } catch (const Error& e) {
    throw Error(e.code(), flag + " " + e.what());
  }
}

std::string method_help() {
  std::string names;
  for (const auto& name : method_names()) names += (names.empty() ? "" : ", ") + name;
  return "Methods, comma-separated: " + names;
}

// The methods that read `setting`.
std::string readers_of(Setting setting) {
  return method_names_where([&](const ExplanationMethod& m) { return m.reads(setting); });
}

// --help's account of who reads a setting, from the methods' declarations: "lime (default 1000), ...".
std::string readers_help(Setting setting) {
  std::string names;
  for (const auto& method : explanation_methods())
    if (const auto use = method->use_of(setting)) {
      names += (names.empty() ? "" : ", ") + method->name();
      if (!use->default_text.empty()) names += " (default " + use->default_text + ")";
    }
  return " [read by " + names + "]";
}

bool draws_signed(const ExplanationMethod& method) { return method.map_kind().is_signed; }
bool draws_unsigned(const ExplanationMethod& method) { return !method.map_kind().is_signed; }

std::string colormap_help() {
  return "Colour maps, NAME or NAME,NAME (one of each kind): unsigned maps (" + method_names_where(draws_unsigned) +
         ") " + listed_with_or(colormap_names()) + " (default " + to_string(defaults_of<ExplainOptions>().colormap) +
         "); signed maps (" + method_names_where(draws_signed) + ") " + listed_with_or(signed_colormap_names()) +
         " (default " + to_string(defaults_of<ExplainOptions>().signed_colormap) + ": colour-blind safe; red-green only on request)";
}

// --colormap's names, each applied to the maps of its kind; a kind that no chosen method draws would
// be ignored: refused.
void apply_colormaps(const std::string& given, const std::string& methods, ExplainOptions& options) {
  if (given.empty()) return;
  bool unsigned_given = false, signed_given = false;
  std::stringstream list(given);
  for (std::string name; std::getline(list, name, ',');) {
    const auto& plain = colormap_names();
    const auto& diverging = signed_colormap_names();
    const bool is_plain = std::find(plain.begin(), plain.end(), name) != plain.end();
    if (!is_plain && std::find(diverging.begin(), diverging.end(), name) == diverging.end())
      throw usage_error("--colormap " + name + ": expected " + listed_with_or(plain) + " (unsigned maps) or " +
                        listed_with_or(diverging) + " (signed maps)");
    bool& seen = is_plain ? unsigned_given : signed_given;
    if (seen) throw usage_error("--colormap " + given + ": one colour map of each kind (unsigned, signed)");
    seen = true;
    const auto draws = is_plain ? draws_unsigned : draws_signed;
    if (std::none_of(options.methods.begin(), options.methods.end(),
                     [&](const std::string& m) { return draws(find_method(m)); }))
      throw usage_error("--colormap " + name + ": for " + (is_plain ? "unsigned" : "signed") + " maps; --method " +
                        methods + " draws none (" + (is_plain ? "unsigned: " : "signed: ") +
                        method_names_where(draws) + ")");
    if (is_plain)
      options.colormap = parse_colormap(name);
    else
      options.signed_colormap = parse_signed_colormap(name);
  }
}

// The flag of a declared setting: its values checked by the declaration (one message for every command),
// --help from its text, its default and the methods that read it.
CLI::Option* add_setting(CLI::App& sub, MethodFlags::GivenSetting& given) {
  const SettingDeclaration& d = *given.declaration;
  const ValueSpec spec = d.value;
  std::string help = d.help;
  CLI::Option* option = nullptr;
  switch (spec.type) {
    case ValueSpec::Type::none: option = sub.add_flag(d.flag, given.switched, help); break;
    case ValueSpec::Type::texts: option = sub.add_option(d.flag, given.values, help)->allow_extra_args(false); break;
    case ValueSpec::Type::reals:
      option = sub.add_option(d.flag, given.values, help)
                   ->allow_extra_args(false)
                   ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
                   ->delimiter(',');
      break;
    default: option = sub.add_option(d.flag, given.value, help);
  }
  if (spec.type != ValueSpec::Type::none) {
    option->check(value_check(spec, ""));
    option->type_name(value_name(spec));
  }
  if (const std::string shown = d.default_text(defaults_of<ExplainOptions>()); !shown.empty())
    option->description(option->get_description() + " (default " + shown + ")");
  option->description(option->get_description() + readers_help(d.group));
  return option;
}

}  // namespace

void MethodFlags::add_to(CLI::App& sub) {
  all.push_back(sub.add_option("--method", methods, method_help())->capture_default_str());
  std::map<std::string, CLI::Option*> by_key;
  for (const SettingDeclaration& declaration : method_settings()) {
    GivenSetting& given = settings.emplace_back();
    given.declaration = &declaration;
    given.option = add_setting(sub, given);
    for (const auto& key : declaration.excludes) given.option->excludes(by_key.at(key));
    by_key[declaration.key] = given.option;
    all.push_back(given.option);
  }
  // Not a setting of its own: each name applies to the maps of its kind (apply_colormaps).
  drawing.push_back(sub.add_option("--colormap", colormap, colormap_help()));
  drawing.push_back(by_key.at("alpha"));
  drawing.push_back(sub.add_option("--background", background,
                               "What heatmaps are drawn over: image, or gray (the image's luma, so every colour is "
                               "the map's)")
                    ->check(CLI::IsMember({"image", "gray"}))
                    ->capture_default_str());
  drawing.push_back(sub.add_option("--figure-size", figure_size,
                               "Overlays, figures and layer grids of images whose shorter side is below N pixels are "
                               "enlarged by a whole factor (nearest neighbour) to reach it; 0: never")
                    ->check(CLI::Range(0, 4096))
                    ->capture_default_str());
  all.push_back(drawing.front());
  all.insert(all.end(), drawing.end() - 2, drawing.end());
  all.push_back(sub.add_option("--max-pixels", max_pixels, "Refuse larger images")->check(kPositive)->capture_default_str());
  all.push_back(sub.add_option("--max-image-memory", max_image_memory_mib,
                               "Decoded memory per image, MiB: larger images are refused (JPEGs are decoded at 1/2, 1/4 "
                               "or 1/8 scale to fit); also the largest image file read")
                    ->check(CLI::Range(1LL, 1LL << 20))
                    ->capture_default_str());
  all.push_back(sub.add_option("--map-size", map_size,
                               "Longest side of stored maps (.npy), pixels: larger maps are reduced, keeping the aspect "
                               "ratio (overlays stay at the image's size)")
                    ->check(kPositive)
                    ->capture_default_str());
  all.push_back(sub.add_flag("--faithfulness", faithfulness,
                             "Deletion and insertion curves of every map, and of a random pixel order (their areas: "
                             "deletion_auc, insertion_auc and their gains over random)"));
  faithfulness_settings.push_back(sub.add_option("--faithfulness-steps", faithfulness_steps,
                               "--faithfulness: curve points after the first (pixels removed or inserted in equal parts)")
                    ->check(CLI::Range(1, 1000))
                    ->capture_default_str());
  faithfulness_settings.push_back(sub.add_option("--faithfulness-fill", faithfulness_fill,
                               "--faithfulness: what removed pixels show, and where insertion starts: mean (the image's "
                               "mean colour), blur, blur(k,k), constant (black), inpaint, or linear (ROAD's noisy linear imputation)")
                    ->capture_default_str());
  all.insert(all.end(), faithfulness_settings.begin(), faithfulness_settings.end());
  all.push_back(sub.add_flag("--apply-exif-orientation", apply_exif_orientation,
                             "Turn images upright by their EXIF orientation (default: explain the stored pixels, as "
                             "PIL-based training sees them, with a warning)"));
  all.push_back(sub.add_option("--dicom-window", window,
                               "DICOM: how stored values become the image: C,W (centre, width), tags (the file's "
                               "window; default, else the card's), minmax, percentile:P, or a CT preset: brain, lung, "
                               "bone, soft-tissue"));
  all.push_back(sub.add_option("--frame", frame, "DICOM: the frame of a multi-frame file to explain, from 1 "
                                                 "(default: the middle one)")
                    ->check(kPositive));
  all.push_back(sub.add_option("--frames", frames, "DICOM: 'all' explains every frame of multi-frame files, each "
                                                   "written as STEM.fNNN.*")
                    ->check(CLI::IsMember({"all"}))
                    ->excludes(all.back()));
}

bool MethodFlags::given(const std::string& key) const {
  for (const GivenSetting& setting : settings)
    if (setting.declaration->key == key) return setting.given();
  throw std::logic_error("method_flags.cpp: no setting " + key);
}

std::string MethodFlags::value_of(const std::string& key) const {
  for (const GivenSetting& setting : settings)
    if (setting.declaration->key == key) return setting.given() ? setting.value : std::string();
  throw std::logic_error("method_flags.cpp: no setting " + key);
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
  for (const GivenSetting& setting : settings) {
    if (!setting.given()) continue;
    const Setting group = setting.declaration->group;
    const bool read = std::any_of(options.methods.begin(), options.methods.end(),
                                  [&](const std::string& m) { return find_method(m).reads(group); });
    if (!read)
      throw usage_error(flag_name(setting.option) + ": not used by --method " + methods + " (it applies to " +
                        readers_of(group) + ")");
  }
  // --precision is a model flag (every model of the run loads with it), but only some methods' passes
  // are forward-only; with none of them it would change nothing.
  if (model.requested_precision() != "fp32" &&
      std::none_of(options.methods.begin(), options.methods.end(),
                   [](const std::string& m) { return find_method(m).reads(Setting::precision); }))
    throw usage_error("--precision " + model.requested_precision() + ": not used by --method " + methods +
                      " (gradients and captured layers run in fp32; it applies to the forward-only passes of " +
                      readers_of(Setting::precision) + ")");
  // --staged-capture is a model flag too; only the methods that capture a layer run the passes it stages.
  if (model.staged_capture() &&
      std::none_of(options.methods.begin(), options.methods.end(),
                   [](const std::string& m) { return find_method(m).needs().layer; }))
    throw usage_error("--staged-capture: not used by --method " + methods +
                      " (it applies to the methods that capture a layer: the CAMs)");
  // Every given setting, as its declaration puts it into the options.
  for (const GivenSetting& setting : settings)
    if (setting.given())
      setting.declaration->apply(setting.values.empty() ? std::vector<std::string>{setting.value} : setting.values,
                                 options, model);
  // What the settings given mean together.
  if (given("regions_path"))
    for (const char* key : {"segments", "superpixels", "compactness"})
      if (given(key)) throw usage_error(setting_name(key) + ": has no effect with --regions (your regions are used as they are)");
  if (given("all_classes") && (given("target_class") || given("top_k") || given("targets")))
    throw usage_error("--all-classes explains every class: drop --target-class/--top-k/--targets");
  if (!options.lime.hide.color.empty() && options.lime.hide.mode != HideMode::constant)
    throw usage_error("--hide-color needs --hide constant");
  const std::string samples = value_of("samples");
  if (samples == "auto") {
    // Only the sampled surrogates can stop on their own; a fixed-count method beside them would
    // silently fall back to its default count.
    for (const auto& m : options.methods)
      if (find_method(m).reads(Setting::samples) && !find_method(m).reads(Setting::adaptive))
        throw usage_error("--samples auto: " + m + " takes a number of samples (auto applies to " +
                          readers_of(Setting::adaptive) + "); explain it in a separate run");
  } else if (!samples.empty()) {
    for (const auto& m : options.methods)
      if (const auto use = find_method(m).use_of(Setting::samples); use && std::stoll(samples) < use->minimum)
        throw usage_error("--samples must be at least " + std::to_string(use->minimum) + " for " + m + " (got " +
                          samples + ")");
  }
  for (const char* key : {"tolerance", "max_samples"})
    if (given(key) && samples != "auto") throw usage_error(setting_name(key) + ": only with --samples auto");
  options.faithfulness.enabled = faithfulness;
  for (const CLI::Option* option : faithfulness_settings)
    if (option->count() > 0 && !faithfulness) throw usage_error(flag_name(option) + ": only with --faithfulness");
  options.faithfulness.steps = faithfulness_steps;
  try {
    options.faithfulness.fill = parse_fill(faithfulness_fill);
  } catch (const Error&) {
    throw usage_error("--faithfulness-fill " + faithfulness_fill + ": expected mean, blur, blur(k,k), constant, inpaint or linear");
  }
  if (options.faithfulness.fill.mode == HideMode::constant) options.faithfulness.fill.color = {0.0f};
  // A setting that its readers among the chosen methods read but, with the other settings given, do not
  // use (Partition SHAP's superpixels when it splits along the axes) would be ignored too.
  for (const GivenSetting& setting : settings) {
    if (!setting.given()) continue;
    std::string because;
    bool used = false;
    for (const auto& m : options.methods) {
      const ExplanationMethod& method = find_method(m);
      if (!method.reads(setting.declaration->group)) continue;
      const std::string reason = method.unused_because(setting.declaration->group, options);
      used = used || reason.empty();
      if (because.empty()) because = reason;
    }
    if (!used) throw usage_error(flag_name(setting.option) + ": " + because);
  }
  const std::string layer_set = value_of("layer_set");
  if (layer_set == "stages" && !matches_stages)
    throw usage_error("--layers stages: stage k of several models is for compare; here --layers auto-all gives every stage");
  if (layer_set == "stages" && given("layer"))
    throw usage_error("--layers stages chooses each model's layers: drop --layer");
  if (layer_set == "auto-all" && matches_stages)
    throw usage_error("--layers auto-all: models have different stages; --layers stages compares stage k of each model "
                      "(or name layers every model has with -l)");
  for (size_t i = 0; i < options.cam.layers.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (file_safe(options.cam.layers[i]) == file_safe(options.cam.layers[j]))
        throw usage_error("--layer " + options.cam.layers[i] + ": " +
                          (options.cam.layers[i] == options.cam.layers[j]
                               ? std::string("given twice")
                               : "its files would overwrite those of --layer " + options.cam.layers[j]));
  for (const auto& warning : layer_warnings(model, options.cam.layers)) spdlog::warn("{}", warning);
  apply_colormaps(colormap, methods, options);
  options.background = parse_background(background);
  options.figure_size = figure_size;
  options.limits.max_pixels = max_pixels;
  options.limits.max_decoded_bytes = static_cast<uint64_t>(max_image_memory_mib) << 20;
  options.limits.apply_exif_orientation = apply_exif_orientation;
  if (!window.empty()) {
    options.limits.dicom.window = parsed_from("--dicom-window", [&] { return parse_window(window); });
    options.limits.dicom.window_from = "option";
  }
  options.limits.dicom.frame = frame;
  options.limits.dicom.all_frames = frames == "all";
  options.map_size = map_size;
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
