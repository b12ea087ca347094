#include "xai/inputs.hpp"
#include "xai/explain.hpp"

#include <chrono>
#include <filesystem>
#include <map>

#include "xai/atomic_file.hpp"
#include "xai/error.hpp"
#include "output/explanation_files.hpp"
#include "analysis/faithfulness.hpp"
#include "input/stain.hpp"
#include "output/report.hpp"
#include "output/print_figure.hpp"
#include "output/figure.hpp"
#include "core/text.hpp"
#include "input/dicom.hpp"
#include "methods/target.hpp"

namespace xai {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

void write_files(const RenderedExplanation& rendered, const std::string& dir, Durability durability,
                 ExplainOutcome& outcome) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir))
    throw output_error(dir + ": cannot create output directory (" + (ec ? ec.message() : "not a directory") + ")");
  for (const auto& file : rendered.files) {
    const std::string path = (fs::path(dir) / file.name).string();
    write_file_atomic(path, file.bytes, durability);
    outcome.files.push_back(path);
  }
}

// Deletion and insertion curves of every map of `result`, at the model's view (faithfulness.hpp),
// into each map's details: the report, batch records and eval read them from there.
// `random_by_class`: the random order's curves measured so far for this image (they serve every map
// of the same class).
void add_faithfulness(Model& model, const PreparedImage& image, const FaithfulnessOptions& options,
                      MethodResult& result, std::map<int, RandomOrderCurves>& random_by_class) {
  const cv::Size size = image.view.size();
  const PerturbationBase base = perturbation_base(image.view, cv::Mat::zeros(size, CV_32SC1), 1, options.fill, model.card());
  const Classifier classify = model_classifier(model);
  const std::vector<DenseMap> dense = dense_maps(result, size);
  for (size_t k = 0; k < dense.size(); ++k) {
    const int cls = dense[k].class_index;
    auto known = random_by_class.find(cls);
    const Faithfulness f = measure_faithfulness(classify, base, dense[k].values, cls, options, &model.batch_tuner(),
                                                known == random_by_class.end() ? nullptr : &known->second);
    if (known == random_by_class.end()) random_by_class[cls] = {f.random_deletion, f.random_insertion};
    result.maps[k].details["faithfulness"] = f.to_json();
  }
}

}  // namespace

std::string output_dir_for(const std::string& image_path, const std::string& requested_dir) {
  if (!requested_dir.empty()) return requested_dir;
  return (fs::path(image_path).parent_path() / "xai-out").string();
}

std::vector<std::string> layer_warnings(Model& model, const std::vector<std::string>& layers) {
  std::vector<std::string> warnings;
  for (const auto& layer : layers)
    if (model.is_patch_embedding(layer))
      warnings.push_back("layer '" + layer + "' is the transformer's patch embedding: its map shows the patches' "
                         "content, not what the encoder blocks use (the default layer is '" + model.default_layer() + "')");
  return warnings;
}

ExplainPlan plan_explanations(Model& model, const ExplainOptions& options) {
  if (options.methods.empty()) throw usage_error(setting_name("methods") + ": give at least one method");
  if (options.figure_dpi > 0 && options.figure_format != FigureFormat::png)
    throw usage_error(setting_name("figure_dpi") + ": " + to_string(options.figure_format) +
                      " figures are vector graphics (their images embedded at full resolution): a dpi is for png");
  ExplainPlan plan;
  plan.options = options;
  for (const auto& name : options.methods) {
    const ExplanationMethod& method = find_method(name);
    for (const auto* chosen : plan.methods)
      if (chosen == &method) throw usage_error(setting_name("methods") + " " + name + ": given twice");
    plan.methods.push_back(&method);
  }
  plan.labels = model.labels();  // checks the card against the model before any image
  plan.card = model.card();
  plan.layers = resolve_layers(model, options);
  for (const auto* method : plan.methods) plan.parameters.push_back(method->parameters(options, plan.layers, plan.card));
  // A lower precision changes the numbers of the methods it applies to: part of their identity.
  if (model.requested_precision() != "fp32")
    for (size_t m = 0; m < plan.methods.size(); ++m)
      if (plan.methods[m]->reads(Setting::precision)) plan.parameters[m]["precision"] = model.requested_precision();
  // Faithfulness settings are part of every method's parameters: in each report, and in batch's
  // resume key (a rerun with --faithfulness recomputes results that lack it).
  if (options.faithfulness.enabled)
    for (auto& p : plan.parameters)
      p["faithfulness"] = {{"steps", options.faithfulness.steps},
                           {"fill", to_string(options.faithfulness.fill)},
                           {"seed", options.faithfulness.seed}};
  // Methods with extra passes (probes, perturbed images, the prediction) run forward-only passes, and so
  // do faithfulness curves: decide now whether they run on the optimised clone, so the report can say so.
  for (const auto* method : plan.methods)
    if (method->needs().extra_passes || options.faithfulness.enabled) model.prepare_inference();
  plan.model = model_json(model);
  plan.model_warnings = model.warnings();
  if (model.precision() != model.requested_precision()) plan.model_warnings.push_back(model.precision_note());
  for (auto& warning : layer_warnings(model, options.cam.layers)) plan.model_warnings.push_back(std::move(warning));
  return plan;
}

nlohmann::ordered_json result_identity(const ExplainPlan& plan, size_t method, const std::string& model_sha) {
  nlohmann::ordered_json preprocessing = {{"size", {plan.card.input_height, plan.card.input_width}},
                                          {"channels", to_string(plan.card.channels)},
                                          {"mean", plan.card.mean},
                                          {"std", plan.card.std}};
  if (plan.card.resize != ResizeMode::stretch || plan.card.interpolation != Interpolation::area) {
    preprocessing["resize"] = resize_spec(plan.card);
    preprocessing["interpolation"] = to_string(plan.card.interpolation);
  }
  // The slide's own source stains are not here: they follow from the slide, which keys its tiles.
  if (plan.card.stain)
    preprocessing["stain_normalization"] = {{"method", plan.card.stain->method},
                                            {"target", stain_json(plan.card.stain->target)}};
  return {{"model", model_sha},
          {"preprocessing", preprocessing},
          {"method", plan.methods.at(method)->name()},
          {"parameters", plan.parameters.at(method)}};
}

std::vector<ComputedExplanation> compute_explanations(Model& model, const ExplainPlan& plan,
                                                      const std::vector<const PreparedImage*>& images,
                                                      const std::vector<std::vector<size_t>>& methods_for) {
  const size_t n = images.size();
  std::vector<ComputedExplanation> computed(n);
  for (size_t i = 0; i < n; ++i) {
    computed[i].warnings = images[i]->image.warnings;
    computed[i].timings["load_image"] = images[i]->load_ms;
    computed[i].timings["preprocess"] = images[i]->preprocess_ms;
  }
  std::vector<std::map<int, RandomOrderCurves>> random_curves(n);  // per image and class (faithfulness)
  auto wants = [&](size_t i, size_t m) {
    if (methods_for.empty() || methods_for[i].empty()) return true;
    return std::find(methods_for[i].begin(), methods_for[i].end(), m) != methods_for[i].end();
  };
  for (size_t m = 0; m < plan.methods.size(); ++m) {
    std::vector<const PreparedImage*> subset;
    std::vector<size_t> where;
    for (size_t i = 0; i < n; ++i)
      if (wants(i, m)) subset.push_back(images[i]), where.push_back(i);
    if (subset.empty()) continue;
    std::vector<MethodResult> results = plan.methods[m]->compute(model, subset, plan.options, plan.layers);
    if (plan.options.faithfulness.enabled)
      for (size_t j = 0; j < where.size(); ++j) {
        const auto t = Clock::now();
        add_faithfulness(model, *subset[j], plan.options.faithfulness, results[j], random_curves[where[j]]);
        computed[where[j]].timings[results[j].method + "_faithfulness"] = ms_since(t);
      }
    for (size_t j = 0; j < where.size(); ++j) {
      ComputedExplanation& c = computed[where[j]];
      MethodResult& r = results[j];
      c.timings[r.method] = r.compute_ms;
      if (r.model_ms > 0) c.timings[r.method + "_model"] = r.model_ms;
      for (const auto& w : r.warnings) c.warnings.push_back(w);
      // A constant map shows nothing: say so (CAMs say it themselves, per layer, with the reason).
      for (const auto& m : r.maps) {
        const auto [low, high] = value_range(m);
        if ((m.values.empty() && m.region_weights.empty()) || low != high || m.details.contains("constant")) continue;
        const double p = r.prediction.probabilities.at(m.class_index);
        char text[64];
        std::snprintf(text, sizeof text, "%.4f", p);
        c.warnings.push_back(r.method + ": the map of " + plan.labels.at(m.class_index) + " is constant (every value " +
                             short_number(low) + "): it shows nothing" +
                             (p > 0.9999 || p < 0.0001 ? std::string(" (p=") + text +
                                                             " is saturated: no change to the input moves it)"
                                                       : std::string()));
      }
      const std::string target = target_warning(plan.options.cam.target, r.prediction, plan.labels);
      if (!target.empty() && std::find(c.warnings.begin(), c.warnings.end(), target) == c.warnings.end())
        c.warnings.push_back(target);
      c.results.push_back(std::move(r));
    }
  }
  const nlohmann::ordered_json checks = model_checks_json(model);
  // Random draws first seen after the plan (its warnings are the plan's): said with these images.
  const std::string& draws = model.checks().random_draws;
  const auto planned = nlohmann::ordered_json::json_pointer("/checks/random_draws");
  const bool draws_new = !draws.empty() && plan.model.value(planned, std::string()) != draws;
  for (ComputedExplanation& c : computed) {
    c.model_checks = checks;
    if (draws_new) c.warnings.push_back(model.path() + ": " + draws);
  }
  return computed;
}

ExplainOutcome write_explanation(const PreparedImage& prepared, const ComputedExplanation& computed,
                                 const ExplainPlan& plan, const Destination& destination, Durability durability,
                                 bool thumbnail, const json& carried) {
  if (computed.results.empty()) throw Error(ExitCode::internal, prepared.path + ": nothing was computed");
  json timings = computed.timings;
  auto t = Clock::now();
  const RenderedExplanation rendered = render_explanation(prepared, computed, plan, destination.stem, thumbnail);
  timings["render"] = ms_since(t);

  ExplainOutcome outcome;
  // One image's outputs appear together or not at all: when a write fails (a full disk, a name over
  // the file-name limit), the files this call already wrote are removed again.
  try {
    t = Clock::now();
    write_files(rendered, destination.dir, durability, outcome);
    timings["write"] = ms_since(t);
    double total = 0;
    for (const auto& [name, ms] : timings.items())
      if (name.size() < 6 || name.compare(name.size() - 6, 6, "_model") != 0) total += ms.get<double>();
    timings["total"] = total;

    outcome.report = build_report(prepared, computed, plan, rendered, timings, carried);
    outcome.report_path = (fs::path(destination.dir) / (destination.stem + ".json")).string();
    write_file_atomic(outcome.report_path,
                      outcome.report.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n", durability);
    outcome.files.push_back(outcome.report_path);
  } catch (...) {
    std::error_code ec;
    for (const auto& written : outcome.files) fs::remove(written, ec);
    throw;
  }

  outcome.prediction = computed.results.front().prediction;
  outcome.label = plan.labels.at(outcome.prediction.predicted);
  outcome.warnings = computed.warnings;
  for (ExplainedMap m : rendered.maps) {
    for (auto& [role, name] : m.files) name = (fs::path(destination.dir) / name).string();
    outcome.maps.push_back(std::move(m));
  }
  if (!rendered.thumbnail.empty()) outcome.thumbnail_path = (fs::path(destination.dir) / rendered.thumbnail).string();
  return outcome;
}

ExplainOutcome explain_image(Model& model, const ExplainPlan& plan, const std::string& image_path) {
  return explain_image(model, plan, InputFile{image_path, image_path});
}

ExplainOutcome explain_image(Model& model, const ExplainPlan& plan, const InputFile& input) {
  ImageLimits limits = plan.options.limits;
  if (input.frame > 0) limits.dicom.frame = input.frame;
  const PreparedImage prepared = prepare_image(input.path, plan.card, limits);
  const std::string stem = utf8_path(input_stem(input.path));
  const Destination destination{output_dir_for(input.path, plan.options.output_dir),
                                input.frame > 0 ? stem + frame_suffix(input.frame, input.frames) : stem};
  const ComputedExplanation computed = std::move(compute_explanations(model, plan, {&prepared}).front());
  return write_explanation(prepared, computed, plan, destination);
}

std::vector<InputFile> discover_inputs(const std::vector<std::string>& specs, const InputSelection& selection,
                                       DiscoveryCounts* counts) {
  return find_inputs(specs, selection, is_xai_output_name, counts);
}

}  // namespace xai
