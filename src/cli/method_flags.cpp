#include "cli/method_flags.hpp"

#include <limits>
#include <sstream>

#include "cli/flag_policy.hpp"
#include "cli/validators.hpp"
#include "xai/error.hpp"
#include "xai/explain.hpp"
#include "core/text.hpp"
#include "output/render.hpp"
#include "methods/gradient_attribution.hpp"
#include "methods/perturbation.hpp"
#include "methods/shapley.hpp"
#include "methods/superpixels.hpp"

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

// --targets above:P, P in (0, 1].
double parse_above_threshold(const std::string& text) {
  const std::string prefix = "above:";
  double p = 0;
  size_t used = 0;
  if (text.compare(0, prefix.size(), prefix) == 0) try {
      p = std::stod(text.substr(prefix.size()), &used);
    } catch (const std::exception&) {
      used = 0;
    }
  if (used == 0 || prefix.size() + used != text.size() || !(p > 0 && p <= 1))
    throw usage_error("--targets " + text + ": expected above:P with a probability 0 < P <= 1 (e.g. above:0.5)");
  return p;
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

std::string joined_names(const std::vector<std::string>& names) {
  std::string text;
  for (size_t i = 0; i < names.size(); ++i) text += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  return text;
}

std::string colormap_help() {
  return "Colour maps, NAME or NAME,NAME (one of each kind): unsigned maps (" + method_names_where(draws_unsigned) +
         ") " + joined_names(colormap_names()) + " (default " + to_string(ExplainOptions{}.colormap) +
         "); signed maps (" + method_names_where(draws_signed) + ") " + joined_names(signed_colormap_names()) +
         " (default " + to_string(ExplainOptions{}.signed_colormap) + ": colour-blind safe; red-green only on request)";
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
      throw usage_error("--colormap " + name + ": expected " + joined_names(plain) + " (unsigned maps) or " +
                        joined_names(diverging) + " (signed maps)");
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

}  // namespace

void MethodFlags::add_to(CLI::App& sub) {
  auto setting = [&](CLI::Option* option, Setting s) {
    option->description(option->get_description() + readers_help(s));
    setting_flags.emplace_back(option, s);
    all.push_back(option);
    return option;
  };
  all.push_back(sub.add_option("--method", methods, method_help())->capture_default_str());
  setting(sub.add_option("-l,--layer", layers, "Layer to explain (dotted module path; see `xai layers`); repeatable")
              ->allow_extra_args(false)
              ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll),
          Setting::layers);
  setting(sub.add_option("--layers", layer_set,
                         "auto-all: one map per stage output (ResNet layer1-4, DenseNet blocks, ...); compare: stages "
                         "(stage k of each model side by side, from each model's own stage outputs)")
              ->check(CLI::IsMember({"auto-all", "stages"})),
          Setting::layers);
  auto* target = setting(sub.add_option("-t,--target-class", target_class, "Class to explain: index or label"),
                         Setting::target);
  setting(sub.add_option("-k,--top-k", top_k, "Explain each of the K most probable classes")->check(kPositive)->excludes(target),
          Setting::target);
  setting(sub.add_option("--targets", targets,
                         "above:P: explain every class whose probability is at least P (a multi-label model's "
                         "findings, most probable first; when none reaches P, the most probable, with a warning)")
              ->excludes(target)
              ->excludes(sub.get_option("--top-k")),
          Setting::target);
  setting(sub.add_flag("--all-classes", all_classes, "Explain every class"),
          Setting::all_classes);
  setting(sub.add_option("--probe-batch", probe_batch,
                         "Perturbed or probe images per forward pass (perturbation methods: measured per model; gradient "
                         "methods 16, forward + backward; Score-CAM 32; Ablation-CAM: as many as fit in 256 MiB)")
              ->check(kPositive),
          Setting::probe_batch);
  // Not a setting of its own: each name applies to the maps of its kind (apply_colormaps).
  drawing.push_back(sub.add_option("--colormap", colormap, colormap_help()));
  all.push_back(drawing.back());
  drawing.push_back(setting(sub.add_option("--alpha", alpha, "Unsigned maps' overlays: heatmap opacity")->check(finite_between(0.0, 1.0, "[0,1]"))->capture_default_str(),
          Setting::colormap));
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
  setting(sub.add_option("--samples", samples,
                         "Samples per image: perturbed images (LIME's row 0 is the original), coalitions (Kernel SHAP: "
                         "all of them when 2^regions-2 fit) or noisy copies; auto: in rounds until the weights settle "
                         "(--tolerance, --max-samples)")
              ->check(CLI::IsMember({"auto"}) | kPositive),
          Setting::samples);
  setting(sub.add_option("--tolerance", lime.adaptive.tolerance,
                         "--samples auto: stop when the estimated rank agreement (Spearman) of the weights with the "
                         "converged explanation reaches 1 - tolerance")
              ->check(CLI::Validator(
                  [](std::string& value) -> std::string {
                    double number = 0;
                    if (!CLI::detail::lexical_cast(value, number) || !(number > 0 && number < 1))
                      return "expected a number between 0 and 1, got '" + value + "'";
                    return {};
                  },
                  "(0,1)"))
              ->capture_default_str(),
          Setting::adaptive);
  setting(sub.add_option("--max-samples", lime.adaptive.max_samples, "--samples auto: stop here even if not settled")
              ->check(integer_at_least(2, "AT LEAST 2"))
              ->capture_default_str(),
          Setting::adaptive);
  setting(sub.add_option("--num-features", num_features,
                         "Region maps: regions in the STEM.METHOD-top.png view (the K most positive) and "
                         "STEM.METHOD-bottom.png (the K most negative)")
              ->check(kPositive)
              ->capture_default_str(),
          Setting::superpixels);
  setting(sub.add_option("--segments", lime.superpixels.segments, "Target number of superpixels")
              ->check(kPositive)
              ->capture_default_str(),
          Setting::superpixels);
  setting(sub.add_option("--compactness", compactness, "SLIC compactness (default 10 for RGB models, 2 for gray ones)")
              ->check(kPositiveReal),
          Setting::superpixels);
  setting(sub.add_option("--superpixels", superpixels, "Superpixels: slic, slico or mslic")->capture_default_str(),
          Setting::superpixels);
  setting(sub.add_option("--regions", lime.regions_path, "Your own region map (8/16-bit PNG, one value per region) instead of superpixels"),
          Setting::superpixels);
  setting(sub.add_option("--hide", hide, "What hidden pixels show: mean (of the region; occlusion, RISE: of the image), "
                         "constant, blur, blur(k,k) (a k x k box blur, as shap), inpaint (Telea, as shap's inpaint_telea) or linear "
                         "(noisy linear imputation from the neighbours, as ROAD)")->capture_default_str(),
          Setting::hide);
  setting(sub.add_option("--hide-color", lime.hide.color, "Colour for --hide constant, in [0,1] (one value or R,G,B)")
              ->check(finite_between(0.0, 1.0, "[0,1]"))
              ->allow_extra_args(false)
              ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
              ->delimiter(','),
          Setting::hide);
  setting(sub.add_option("--kernel-width", lime.kernel_width, "Kernel width on cosine distance")
              ->check(finite_between(1e-6, 1e6, "[1e-6,1e6]"))
              ->capture_default_str(),
          Setting::kernel_width);
  setting(sub.add_option("--seed", lime.seed, "Random seed (same seed, same output)")
              ->check(kSeed)
              ->capture_default_str(),
          Setting::seed);
  setting(sub.add_option("--repeats", lime.repeats, "Rerun with R seeds and report stability")
              ->check(kPositive)
              ->capture_default_str(),
          Setting::repeats);
  setting(sub.add_option("--window", occlusion.window, "Side of the square occluding window in model-input pixels "
                                                       "(default: an eighth of the shorter side)")
              ->check(kPositive),
          Setting::window);
  setting(sub.add_option("--stride", occlusion.stride, "Step between windows (default: half the window)")
              ->check(kPositive),
          Setting::window);
  setting(sub.add_option("--rise-masks", rise.masks, "Random masks N (eval's --masks is the ground-truth folder)")->check(kPositive)->capture_default_str(),
          Setting::masks);
  setting(sub.add_option("--grid", rise.grid, "Random masks' grid cells s per side")->check(kPositive)->capture_default_str(),
          Setting::masks);
  setting(sub.add_option("--keep", rise.keep, "Probability p that a mask's cell is shown")
              ->check(finite_between(0.0, 1.0, "[0,1]"))
              ->capture_default_str(),
          Setting::masks);
  setting(sub.add_option("--steps", gradients.steps, "Points on the path from the baseline (trapezoid rule)")
              ->check(integer_at_least(2, "AT LEAST 2"))
              ->capture_default_str(),
          Setting::steps);
  setting(sub.add_option("--baseline", baseline, "Path's start: black, blur or mean")->capture_default_str(),
          Setting::baseline);
  setting(sub.add_option("--noise", gradients.noise, "Gaussian noise sigma as a fraction of the input's range")
              ->check(finite_between(0.0, 1e6, "NONNEGATIVE"))
              ->capture_default_str(),
          Setting::noise);
  setting(sub.add_option("--max-evals", shap.max_evals, "Model evaluations")
              ->check(integer_at_least(2, "AT LEAST 2"))
              ->capture_default_str(),
          Setting::max_evals);
  setting(sub.add_option("--partition", partition,
                         "How the image is split: axes (halve the longer side down to pixels, as shap) or superpixels (a "
                         "merge tree over them)")
              ->capture_default_str(),
          Setting::partition);
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
  // --precision is a model flag (every model of the run loads with it), but only some methods' passes
  // are forward-only; with none of them it would change nothing.
  if (model.requested_precision() != "fp32" &&
      std::none_of(options.methods.begin(), options.methods.end(),
                   [](const std::string& m) { return find_method(m).reads(Setting::precision); }))
    throw usage_error("--precision " + model.requested_precision() + ": not used by --method " + methods +
                      " (gradients and captured layers run in fp32; it applies to the forward-only passes of " +
                      readers_of(Setting::precision) + ")");
  auto given = [&](const char* name) {
    for (const auto& [option, setting] : setting_flags)
      if (flag_name(option) == name) return option->count() > 0;
    return false;
  };
  if (!lime.regions_path.empty())
    for (const char* name : {"--segments", "--superpixels", "--compactness"})
      if (given(name)) throw usage_error(std::string(name) + ": has no effect with --regions (your regions are used as they are)");
  if (all_classes && (given("--target-class") || given("--top-k") || given("--targets")))
    throw usage_error("--all-classes explains every class: drop --target-class/--top-k/--targets");
  options.lime = lime;
  options.lime.all_classes = all_classes;
  options.lime.hide = parse_fill(hide);
  options.lime.hide.color = lime.hide.color;
  options.lime.superpixels.algorithm = parse_superpixel_algorithm(superpixels);
  if (compactness > 0) options.lime.superpixels.compactness = compactness;
  if (!options.lime.hide.color.empty() && options.lime.hide.mode != HideMode::constant)
    throw usage_error("--hide-color needs --hide constant");
  if (samples == "auto") {
    // Only the sampled surrogates can stop on their own; a fixed-count method beside them would
    // silently fall back to its default count.
    for (const auto& m : options.methods)
      if (find_method(m).reads(Setting::samples) && !find_method(m).reads(Setting::adaptive))
        throw usage_error("--samples auto: " + m + " takes a number of samples (auto applies to " +
                          readers_of(Setting::adaptive) + "); explain it in a separate run");
    options.lime.adaptive.enabled = true;
  } else if (!samples.empty()) {
    const long long count = std::stoll(samples);  // an integer >= 1: checked by the option's validator
    if (count > std::numeric_limits<int>::max()) throw usage_error("--samples: " + samples + " is too large");
    for (const auto& m : options.methods)
      if (const auto use = find_method(m).use_of(Setting::samples); use && count < use->minimum)
        throw usage_error("--samples must be at least " + std::to_string(use->minimum) + " for " + m + " (got " +
                          samples + ")");
    options.lime.samples = options.shap.samples = options.gradients.samples = static_cast<int>(count);
  }
  for (const char* name : {"--tolerance", "--max-samples"})
    if (given(name) && samples != "auto") throw usage_error(std::string(name) + ": only with --samples auto");
  options.shap.max_evals = shap.max_evals;
  options.shap.partition = parse_partition(partition);
  if (shap.max_evals < 2) throw usage_error("--max-evals must be at least 2");
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
  options.faithfulness.batch_size = probe_batch;  // 0: the model's tuned size
  options.occlusion = occlusion;
  options.rise = rise;
  options.gradients.steps = gradients.steps;
  options.gradients.noise = gradients.noise;
  options.gradients.baseline = parse_baseline(baseline);
  if (gradients.steps < 2) throw usage_error("--steps must be at least 2 (got " + std::to_string(gradients.steps) + ")");
  if (!(rise.keep > 0)) throw usage_error("--keep must be above 0");
  // A setting that its readers among the chosen methods read but, with the other settings given, do not
  // use (Partition SHAP's superpixels when it splits along the axes) would be ignored too.
  for (const auto& [option, setting] : setting_flags) {
    if (option->count() == 0) continue;
    std::string because;
    bool used = false;
    for (const auto& m : options.methods) {
      const ExplanationMethod& method = find_method(m);
      if (!method.reads(setting)) continue;
      const std::string reason = method.unused_because(setting, options);
      used = used || reason.empty();
      if (because.empty()) because = reason;
    }
    if (!used) throw usage_error(flag_name(option) + ": " + because);
  }
  if (lime.superpixels.segments < 2 && lime.regions_path.empty()) throw usage_error("--segments must be at least 2");
  options.cam.batch_size = probe_batch;  // 0: automatic
  if (probe_batch > 0) options.lime.batch_size = options.gradients.batch_size = probe_batch;
  options.cam.layers = layers;
  if (layer_set == "stages" && !matches_stages)
    throw usage_error("--layers stages: stage k of several models is for compare; here --layers auto-all gives every stage");
  if (layer_set == "stages" && !layers.empty())
    throw usage_error("--layers stages chooses each model's layers: drop --layer");
  if (layer_set == "auto-all" && matches_stages)
    throw usage_error("--layers auto-all: models have different stages; --layers stages compares stage k of each model "
                      "(or name layers every model has with -l)");
  if (layer_set == "auto-all") {
    for (const auto& stage : model.stage_layers())
      if (std::find(options.cam.layers.begin(), options.cam.layers.end(), stage) == options.cam.layers.end())
        options.cam.layers.push_back(stage);
  }
  for (size_t i = 0; i < options.cam.layers.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (file_safe(options.cam.layers[i]) == file_safe(options.cam.layers[j]))
        throw usage_error("--layer " + options.cam.layers[i] + ": " +
                          (options.cam.layers[i] == options.cam.layers[j]
                               ? std::string("given twice")
                               : "its files would overwrite those of --layer " + options.cam.layers[j]));
  for (const auto& warning : layer_warnings(model, options.cam.layers)) spdlog::warn("{}", warning);
  apply_colormaps(colormap, methods, options);
  options.alpha = alpha;
  options.background = parse_background(background);
  options.num_features = num_features;
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
  if (!target_class.empty()) {
    options.cam.target.kind = TargetSpec::Kind::given;
    options.cam.target.class_index =
        parsed_from("--target-class", [&] { return parse_class(target_class, model.labels()); });
  } else if (top_k > 0) {
    options.cam.target.kind = TargetSpec::Kind::top_k;
    options.cam.target.k = top_k;
  } else if (!targets.empty()) {
    options.cam.target.kind = TargetSpec::Kind::above;
    options.cam.target.threshold = parse_above_threshold(targets);
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
