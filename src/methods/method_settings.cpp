// Every method setting, declared once (include/xai/method_settings.hpp). A method that brings a setting of
// its own adds its entry here (and a Setting group in methods.hpp when none fits), then lists the group in
// its settings(); the command line's flag, --help, validation and the option matrix's row follow.
#include "xai/method_settings.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "core/text.hpp"
#include "methods/gradient_attribution.hpp"
#include "methods/perturbation.hpp"
#include "methods/shapley.hpp"
#include "methods/superpixels.hpp"
#include "methods/target.hpp"
#include "xai/error.hpp"
#include "xai/model_card.hpp"

// The declarations are a table: a row leaves its trailing members (a spec's words, a declaration's
// example_needs and excludes) to their defaults rather than spelling out empty ones.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace xai {
namespace {

using Type = ValueSpec::Type;

std::string number_text(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

// A whole number as the text says it, or nothing (not a number, trailing characters, out of long long).
std::optional<long long> integer_of(const std::string& text) {
  if (text.empty() || std::isspace(static_cast<unsigned char>(text[0]))) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (errno == ERANGE || *end != '\0') return std::nullopt;
  return value;
}

std::optional<double> real_of(const std::string& text) {
  if (text.empty() || std::isspace(static_cast<unsigned char>(text[0]))) return std::nullopt;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (*end != '\0' || !std::isfinite(value)) return std::nullopt;
  return value;
}

// "in [0, 1]", ">= 2", "> 0", "in (0, 1)"; compact (for --help's value names): "[0,1]", ">=2".
// An integer setting's int range is not a bound worth stating.
std::string interval_text(const ValueSpec& spec, bool compact = false) {
  const bool bounded_low = std::isfinite(spec.low);
  const bool bounded_high = std::isfinite(spec.high) && !(spec.type == Type::integer && spec.high >= INT_MAX);
  const std::string space = compact ? "" : " ";
  if (bounded_low && !bounded_high) return (spec.low_open ? ">" : ">=") + space + number_text(spec.low);
  if (!bounded_low && bounded_high) return (spec.high_open ? "<" : "<=") + space + number_text(spec.high);
  if (!bounded_low) return "";
  return (compact ? "" : "in ") + std::string(spec.low_open ? "(" : "[") + number_text(spec.low) + "," + space +
         number_text(spec.high) + (spec.high_open ? ")" : "]");
}

bool within(const ValueSpec& spec, double value) {
  return (spec.low_open ? value > spec.low : value >= spec.low) &&
         (spec.high_open ? value < spec.high : value <= spec.high);
}

int integer(const std::string& text) { return static_cast<int>(*integer_of(text)); }  // checked by check_value
double real(const std::string& text) { return *real_of(text); }

// Declarations read like a table: these make the common kinds.
ValueSpec integer_at_least(double low) { return {Type::integer, low, double(INT_MAX)}; }
ValueSpec real_in(double low, double high, bool low_open = false, bool high_open = false) {
  return {Type::real, low, high, low_open, high_open};
}
ValueSpec one_of(std::vector<std::string> words) { return {Type::text, -INFINITY, INFINITY, false, false, std::move(words)}; }
ValueSpec any_text() { return {Type::text}; }
ValueSpec a_switch() { return {Type::none}; }

// What a given value of `key` sets (the only value: every setting but the lists takes one).
template <typename Set>
auto one(Set set) {
  return [set](const std::vector<std::string>& values, ExplainOptions& options, Model&) {
    set(values.empty() ? std::string() : values.back(), options);
  };
}

// The text's value from a library parser, its message prefixed with the setting's name.
template <typename Parse>
auto parsed_as(const std::string& key, const std::string& text, Parse parse) {
  try {
    return parse(text);
  } catch (const Error& e) {
    const std::string name = setting_name(key);
    const std::string message = e.what();
    throw Error(e.code(), message.rfind(name, 0) == 0 ? message : name + " " + message);
  }
}

std::vector<SettingDeclaration> declarations() {
  const auto no_default = [](const ExplainOptions&) { return std::string(); };
  return {
      {"layer", "-l,--layer", Setting::layers, {Type::texts},
       "Layer to explain (dotted module path; see `xai layers`); repeatable", no_default,
       [](const std::vector<std::string>& values, ExplainOptions& o, Model&) { o.cam.layers = values; },
       {"layer1"}},
      {"layer_set", "--layers", Setting::layers, one_of({"auto-all", "stages"}),
       "auto-all: every stage's output (the modules where the spatial size drops, and the last); compare also takes "
       "stages (stage k of each model side by side, from each model's own stage outputs)",
       no_default,
       [](const std::vector<std::string>& values, ExplainOptions& o, Model& model) {
         // "stages" matches several models' stages: compare's (CompareOptions::matched_stages).
         if (values.back() != "auto-all") return;
         for (const auto& stage : model.stage_layers())
           if (std::find(o.cam.layers.begin(), o.cam.layers.end(), stage) == o.cam.layers.end())
             o.cam.layers.push_back(stage);
       },
       {"auto-all"}},
      {"target_class", "-t,--target-class", Setting::target, any_text(), "Class to explain: index or label", no_default,
       [](const std::vector<std::string>& values, ExplainOptions& o, Model& model) {
         o.cam.target.kind = TargetSpec::Kind::given;
         o.cam.target.class_index =
             parsed_as("target_class", values.back(), [&](const std::string& text) { return parse_class(text, model.labels()); });
       },
       {"1"}},
      {"top_k", "-k,--top-k", Setting::target, integer_at_least(1), "Explain each of the K most probable classes",
       no_default, one([](const std::string& text, ExplainOptions& o) {
         o.cam.target.kind = TargetSpec::Kind::top_k;
         o.cam.target.k = integer(text);
       }),
       {"2"}, {}, {"target_class"}},
      {"targets", "--targets", Setting::target, any_text(),
       "above:P: explain every class whose probability is at least P (a multi-label model's findings, most probable "
       "first; when none reaches P, the most probable, with a warning)",
       no_default, one([](const std::string& text, ExplainOptions& o) {
         o.cam.target.kind = TargetSpec::Kind::above;
         o.cam.target.threshold = parse_above_threshold(text);
       }),
       {"above:0.001"}, {}, {"target_class", "top_k"}},
      {"all_classes", "--all-classes", Setting::all_classes, a_switch(), "Explain every class", no_default,
       one([](const std::string&, ExplainOptions& o) { o.lime.all_classes = true; }), {}},
      {"probe_batch", "--probe-batch", Setting::probe_batch, integer_at_least(1),
       "Perturbed or probe images per forward pass (perturbation methods: measured per model; gradient methods' "
       "forward + backward: measured per model among 4, 8 and 16 on a CPU; Score-CAM: measured as the perturbation "
       "methods; Ablation-CAM: as many as fit in 256 MiB)",
       no_default, one([](const std::string& text, ExplainOptions& o) {
         o.cam.batch_size = o.lime.batch_size = o.gradients.batch_size = o.faithfulness.batch_size = integer(text);
       }),
       {"7"}},
      {"alpha", "--alpha", Setting::colormap, real_in(0, 1), "Unsigned maps' overlays: heatmap opacity",
       [](const ExplainOptions& d) { return number_text(d.alpha); },
       one([](const std::string& text, ExplainOptions& o) { o.alpha = real(text); }), {"0.9"}},
      {"samples", "--samples", Setting::samples, {Type::integer, 1, double(INT_MAX), false, false, {"auto"}},
       "Samples per image: perturbed images (LIME's row 0 is the original), coalitions (Kernel SHAP: all of them "
       "when 2^regions-2 fit) or noisy copies; auto: in rounds until the weights settle (--tolerance, --max-samples)",
       no_default, one([](const std::string& text, ExplainOptions& o) {
         if (text == "auto")
           o.lime.adaptive.enabled = true;
         else
           o.lime.samples = o.shap.samples = o.gradients.samples = integer(text);
       }),
       {"25"}},
      {"tolerance", "--tolerance", Setting::adaptive, real_in(0, 1, true, true),
       "--samples auto: stop when the estimated rank agreement (Spearman) of the weights with the converged "
       "explanation reaches 1 - tolerance",
       [](const ExplainOptions& d) { return number_text(d.lime.adaptive.tolerance); },
       one([](const std::string& text, ExplainOptions& o) { o.lime.adaptive.tolerance = real(text); }),
       {"0.5"}, {"--samples", "auto", "--max-samples", "120"}},
      {"max_samples", "--max-samples", Setting::adaptive, integer_at_least(2),
       "--samples auto: stop here even if not settled",
       [](const ExplainOptions& d) { return std::to_string(d.lime.adaptive.max_samples); },
       one([](const std::string& text, ExplainOptions& o) { o.lime.adaptive.max_samples = integer(text); }),
       {"110"}, {"--samples", "auto", "--max-samples", "120"}},
      {"num_features", "--num-features", Setting::superpixels, integer_at_least(1),
       "Region maps: regions in the STEM.METHOD-top.png view (the K most positive) and STEM.METHOD-bottom.png (the "
       "K most negative)",
       [](const ExplainOptions& d) { return std::to_string(d.num_features); },
       one([](const std::string& text, ExplainOptions& o) { o.num_features = integer(text); }), {"2"}},
      {"segments", "--segments", Setting::superpixels, integer_at_least(2), "Target number of superpixels",
       [](const ExplainOptions& d) { return std::to_string(d.lime.superpixels.segments); },
       one([](const std::string& text, ExplainOptions& o) { o.lime.superpixels.segments = integer(text); }), {"12"}},
      {"compactness", "--compactness", Setting::superpixels, real_in(0, INFINITY, true),
       "SLIC compactness (default 10 for RGB models, 2 for gray ones)", no_default,
       one([](const std::string& text, ExplainOptions& o) { o.lime.superpixels.compactness = float(real(text)); }),
       {"3"}},
      {"superpixels", "--superpixels", Setting::superpixels, one_of({"slic", "slico", "mslic"}), "Superpixels",
       [](const ExplainOptions& d) { return to_string(d.lime.superpixels.algorithm); },
       one([](const std::string& text, ExplainOptions& o) {
         o.lime.superpixels.algorithm = parse_superpixel_algorithm(text);
       }),
       {"slico"}},
      {"regions_path", "--regions", Setting::superpixels, any_text(),
       "Your own region map (8/16-bit PNG, one value per region) instead of superpixels", no_default,
       one([](const std::string& text, ExplainOptions& o) { o.lime.regions_path = text; }), {"regions.png"}},
      {"hide", "--hide", Setting::hide, any_text(),
       "What hidden pixels show: mean (of the region; occlusion, RISE: of the image), constant, blur, blur(k,k) (a k x "
       "k box blur, as shap), inpaint (Telea, as shap's inpaint_telea) or linear (noisy linear imputation from the "
       "neighbours, as ROAD)",
       [](const ExplainOptions& d) { return to_string(d.lime.hide); },
       one([](const std::string& text, ExplainOptions& o) {
         const std::vector<float> color = o.lime.hide.color;  // --hide-color's, whichever came first
         o.lime.hide = parse_fill(text);
         o.lime.hide.color = color;
       }),
       {"blur"}},
      {"hide_color", "--hide-color", Setting::hide, {Type::reals, 0, 1},
       "Colour for --hide constant, in [0,1] (one value or R,G,B)", no_default,
       [](const std::vector<std::string>& values, ExplainOptions& o, Model&) {
         o.lime.hide.color.clear();
         for (const auto& value : values) o.lime.hide.color.push_back(float(real(value)));
       },
       {"0.2"}, {"--hide", "constant"}},
      {"kernel_width", "--kernel-width", Setting::kernel_width, real_in(1e-6, 1e6), "Kernel width on cosine distance",
       [](const ExplainOptions& d) { return number_text(d.lime.kernel_width); },
       one([](const std::string& text, ExplainOptions& o) { o.lime.kernel_width = real(text); }), {"0.5"}},
      {"seed", "--seed", Setting::seed, {Type::seed}, "Random seed (same seed, same output)",
       [](const ExplainOptions& d) { return std::to_string(d.lime.seed); },
       one([](const std::string& text, ExplainOptions& o) { o.lime.seed = std::strtoull(text.c_str(), nullptr, 10); }),
       {"5"}},
      {"repeats", "--repeats", Setting::repeats, integer_at_least(1), "Rerun with R seeds and report stability",
       [](const ExplainOptions& d) { return std::to_string(d.lime.repeats); },
       one([](const std::string& text, ExplainOptions& o) { o.lime.repeats = integer(text); }), {"2"}},
      {"window", "--window", Setting::window, integer_at_least(1),
       "Side of the square occluding window in model-input pixels (default: an eighth of the shorter side)", no_default,
       one([](const std::string& text, ExplainOptions& o) { o.occlusion.window = integer(text); }), {"32"}},
      {"stride", "--stride", Setting::window, integer_at_least(1), "Step between windows (default: half the window)",
       no_default, one([](const std::string& text, ExplainOptions& o) { o.occlusion.stride = integer(text); }), {"10"}},
      {"rise_masks", "--rise-masks", Setting::masks, integer_at_least(1),
       "Random masks N (eval's --masks is the ground-truth folder)",
       [](const ExplainOptions& d) { return std::to_string(d.rise.masks); },
       one([](const std::string& text, ExplainOptions& o) { o.rise.masks = integer(text); }), {"20"}},
      {"grid", "--grid", Setting::masks, integer_at_least(1), "Random masks' grid cells s per side",
       [](const ExplainOptions& d) { return std::to_string(d.rise.grid); },
       one([](const std::string& text, ExplainOptions& o) { o.rise.grid = integer(text); }), {"3"}},
      {"keep", "--keep", Setting::masks, real_in(0, 1, true), "Probability p that a mask's cell is shown",
       [](const ExplainOptions& d) { return number_text(d.rise.keep); },
       one([](const std::string& text, ExplainOptions& o) { o.rise.keep = real(text); }), {"0.3"}},
      {"steps", "--steps", Setting::steps, integer_at_least(2), "Points on the path from the baseline (trapezoid rule)",
       [](const ExplainOptions& d) { return std::to_string(d.gradients.steps); },
       one([](const std::string& text, ExplainOptions& o) { o.gradients.steps = integer(text); }), {"5"}},
      {"baseline", "--baseline", Setting::baseline, one_of({"black", "blur", "mean"}), "Path's start",
       [](const ExplainOptions& d) { return to_string(d.gradients.baseline); },
       one([](const std::string& text, ExplainOptions& o) { o.gradients.baseline = parse_baseline(text); }), {"mean"}},
      {"noise", "--noise", Setting::noise, real_in(0, 1e6), "Gaussian noise sigma as a fraction of the input's range",
       [](const ExplainOptions& d) { return number_text(d.gradients.noise); },
       one([](const std::string& text, ExplainOptions& o) { o.gradients.noise = real(text); }), {"0.5"}},
      {"max_evals", "--max-evals", Setting::max_evals, integer_at_least(2), "Model evaluations",
       [](const ExplainOptions& d) { return std::to_string(d.shap.max_evals); },
       one([](const std::string& text, ExplainOptions& o) { o.shap.max_evals = integer(text); }), {"40"}},
      {"partition", "--partition", Setting::partition, one_of({"axes", "superpixels"}),
       "How the image is split: axes (halve the longer side down to pixels, as shap) or superpixels (a merge tree "
       "over them)",
       [](const ExplainOptions& d) { return to_string(d.shap.partition); },
       one([](const std::string& text, ExplainOptions& o) { o.shap.partition = parse_partition(text); }),
       {"superpixels"}},
  };
}

}  // namespace

std::string check_value(const ValueSpec& spec, const std::string& text) {
  const std::string got = ", got '" + text + "'";
  const bool is_word = std::find(spec.words.begin(), spec.words.end(), text) != spec.words.end();
  switch (spec.type) {
    case Type::none:
      return {};
    case Type::integer: {
      const auto value = integer_of(text);
      if (is_word || (value && within(spec, double(*value)))) return {};
      return "expected an integer " + interval_text(spec) + (spec.words.empty() ? "" : " or " + listed_with_or(spec.words)) + got +
             (value && *value > INT_MAX ? " (too large)" : "");
    }
    case Type::real:
    case Type::reals: {
      const auto value = real_of(text);
      if (value && within(spec, *value)) return {};
      return "expected a finite number " + interval_text(spec) + got;
    }
    case Type::seed: {
      errno = 0;
      const bool digits = !text.empty() && text.size() <= 20 && text.find_first_not_of("0123456789") == std::string::npos;
      if (digits) std::strtoull(text.c_str(), nullptr, 10);
      if (digits && errno != ERANGE) return {};
      return "expected an integer in 0..18446744073709551615" + got;
    }
    case Type::text:
    case Type::texts:
      if (spec.words.empty() || is_word) return {};
      return "expected " + listed_with_or(spec.words) + got;
  }
  return {};
}

std::string value_name(const ValueSpec& spec) {
  switch (spec.type) {
    case Type::none: return "";
    case Type::integer: {
      std::string name = "INT:" + interval_text(spec, true);
      for (const auto& word : spec.words) name += "|" + word;
      return name;
    }
    case Type::real: return "REAL:" + interval_text(spec, true);
    case Type::reals: return "REAL[,REAL...]:" + interval_text(spec, true);
    case Type::seed: return "SEED";
    case Type::text:
    case Type::texts: {
      std::string name;
      for (const auto& word : spec.words) name += (name.empty() ? "" : "|") + word;
      return name.empty() ? "TEXT" : name;
    }
  }
  return "";
}
const std::vector<SettingDeclaration>& method_settings() {
  static const std::vector<SettingDeclaration> all = declarations();
  return all;
}

std::string SettingDeclaration::long_flag() const { return flag.substr(flag.find("--")); }

const SettingDeclaration& method_setting(const std::string& key) {
  for (const auto& declaration : method_settings())
    if (declaration.key == key) return declaration;
  throw std::out_of_range("no method setting " + key);
}

}  // namespace xai
