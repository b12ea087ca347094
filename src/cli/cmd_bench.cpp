// xai bench: how much an explanation costs relative to a plain forward pass of the same model.
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/flag_policy.hpp"
#include "cli/method_flags.hpp"
#include "cli/model_flags.hpp"
#include "cli/validators.hpp"
#include "model/batch_tuner.hpp"
#include "pipelines/bench.hpp"
#include "methods/perturbation.hpp"
#include "xai/error.hpp"
#include "xai/explain.hpp"
#include "xai/inputs.hpp"
#include "output/report.hpp"
#include "output/render.hpp"

namespace xai::cli {
namespace {

struct BenchFlags {
  ModelFlags model;
  MethodFlags method;
  int batch_size = 1;
  int warmup = 3;
  int runs = 20;
  bool json = false;
  bool skip_full_backward = false;
  int pipeline_images = 0;
  std::string slide;  // --slide: time `xai slide` runs instead of batch runs
  int rounds = 5;
  bool fidelity = false;
  int reference_samples = 10000;
  int fixed_samples = 0;  // 0: the method's default
  bool curve = false;
  std::string plot;
  std::vector<std::string> images;
  CLI::Option *warmup_option = nullptr, *runs_option = nullptr, *rounds_option = nullptr, *backward_option = nullptr,
              *batch_option = nullptr, *pipeline_option = nullptr, *slide_option = nullptr;
  std::vector<CLI::Option*> fidelity_options;  // only with --fidelity
};

// Flags of one mode given in the other would be ignored: refuse them.
void check_mode(const BenchFlags& flags, const ExplainOptions& explain) {
  if (flags.fidelity) {
    for (const CLI::Option* option : {flags.warmup_option, flags.runs_option, flags.rounds_option, flags.backward_option,
                                      flags.batch_option, flags.pipeline_option, flags.slide_option})
      if (option->count() > 0)
        throw usage_error(flag_name(option) + ": not used with --fidelity (it explains each image once per row)");
    if (!explain.lime.adaptive.enabled)
      throw usage_error("--fidelity measures --samples auto against fixed counts: add --samples auto");
    if (flags.model.no_inference_clone)
      throw usage_error("--no-inference-clone: --fidelity times both the plain module and the inference clone");
    return;
  }
  for (const CLI::Option* option : flags.fidelity_options)
    if (option->count() > 0) throw usage_error(flag_name(option) + ": only with --fidelity");
  if (flags.pipeline_images > 0 && !flags.slide.empty())
    throw usage_error("--slide: times slide runs; --pipeline times batch runs: give one");
  const bool pipeline = flags.pipeline_images > 0 || !flags.slide.empty();
  for (const CLI::Option* option : {flags.warmup_option, flags.runs_option, flags.backward_option})
    if (pipeline && option->count() > 0)
      throw usage_error(flag_name(option) + ": not used with --pipeline (it times whole batch runs, --rounds of them)");
  if (!pipeline && flags.rounds_option->count() > 0) throw usage_error("--rounds: only used with --pipeline or --slide");
  if (!pipeline)
    for (const CLI::Option* option : flags.method.drawing)
      if (option->count() > 0)
        throw usage_error(flag_name(option) + ": bench draws nothing unless --pipeline runs whole batches");
  if (flags.backward_option->count() > 0 && !single_pass_cam(find_method(explain.methods.front())))
    throw usage_error("--no-full-backward: the full-backward comparison is only timed for single-pass CAM methods (" +
                      method_names_where(single_pass_cam) + ")");
}

nlohmann::ordered_json plan_parameters(Model& model, const ExplainOptions& explain) {
  return plan_explanations(model, explain).parameters.front();
}

int run_batch_bench(const BenchFlags& flags, Model& model, const ExplainOptions& explain) {
  const int batch = flags.batch_size > 1 ? flags.batch_size : 8;
  const bool slide = !flags.slide.empty();
  const BatchBenchResult r = slide ? bench_slide(model, explain, flags.slide, batch, flags.rounds)
                                   : bench_batch(model, explain, flags.pipeline_images, batch, flags.rounds);
  const std::string method = explain.methods.front();
  if (flags.json) {
    std::cout << nlohmann::ordered_json{{"model", model.path()},
                                        {"method", method},
                                        {"parameters", plan_parameters(model, explain)},
                                        {"rendering", {{"colormap", to_string(explain.colormap)}, {"alpha", explain.alpha}}},
                                        {"card", card_json(model)},
                                        {"inference", model.inference()},
                                        {"pipeline", slide ? "xai slide" : "xai batch"},
                                        {"slide", slide ? nlohmann::ordered_json(flags.slide) : nlohmann::ordered_json(nullptr)},
                                        {"images", r.images},
                                        {"batch_size", r.batch_size},
                                        {"raw_images_per_second", r.raw_images_per_second},
                                        {"batch_images_per_second", r.batch_images_per_second},
                                        {"ratio", r.ratio},
                                        {"rounds", r.rounds},
                                        {"min_ratio", r.min_ratio},
                                        {"max_ratio", r.max_ratio},
                                        {"explain_images_per_second", slide ? nlohmann::ordered_json(r.explain_images_per_second) : nlohmann::ordered_json(nullptr)},
                                        {"explain_ratio", slide ? nlohmann::ordered_json(r.explain_ratio) : nlohmann::ordered_json(nullptr)}}
                     .dump(2)
              << "\n";
    return 0;
  }
  std::cout << std::fixed << std::setprecision(2) << "model      " << model.path() << "\npipeline   "
            << (slide ? "xai slide " + flags.slide + " --method " : std::string("xai batch --method ")) << method << " on "
            << r.images << (slide ? " tissue tiles" : " images") << ", batch " << r.batch_size << "\n"
            << "parameters " << plan_parameters(model, explain).dump() << ", colormap " << to_string(explain.colormap)
            << ", alpha " << explain.alpha << "\n"
            << "card       " << card_json(model).dump() << "\n"
            << "inference  " << model.inference() << " (forward-only passes)\n"
            << "raw        " << r.raw_images_per_second << " images/s (batched no-grad inference)\n"
            << (slide ? "slide      " : "batch      ") << r.batch_images_per_second
            << (slide ? " tiles/s (thumbnail, tissue, read, explain, stitch, write)\n"
                      : " images/s (decode, explain, render, write)\n")
            << "ratio      " << r.ratio << (slide ? " (slide / raw; median of " : " (batch / raw; median of ") << r.rounds << " rounds, range " << r.min_ratio
            << "-" << r.max_ratio << ")\n";
  if (slide)
    std::cout << "explain    " << r.explain_images_per_second << " tiles/s (the same explanations of the same tiles in "
              << "memory, batched)\n"
              << "overhead   " << r.explain_ratio << " (slide / explain: what reading, stitching and writing cost; range "
              << r.min_explain_ratio << "-" << r.max_explain_ratio << ")\n";
  return 0;
}

// What a batch tuner measured (per-image ms of each candidate) and chose.
nlohmann::ordered_json tuner_json(const BatchTuner& tuner) {
  nlohmann::ordered_json per_image = nlohmann::ordered_json::object();
  for (size_t i = 0; i < tuner.candidates().size(); ++i)
    per_image[std::to_string(tuner.candidates()[i])] = tuner.per_image_ms()[i];
  return {{"chosen", tuner.chosen()}, {"per_image_ms", per_image}};
}

void print_result(const BenchFlags& flags, Model& model, const BenchResult& r) {
  if (flags.json) {
    nlohmann::ordered_json out = {{"model", model.path()},   {"method", r.method},
                                  {"family", r.family},      {"layers", r.layers},
                                  {"parameters", r.parameters}, {"batch_size", r.batch_size},
                                  {"warmup", flags.warmup},  {"runs", r.runs},
                                  {"forward_ms", r.forward_ms}, {"explain_ms", r.explain_ms},
                                  {"ratio", r.ratio},
                                  {"card", card_json(model)},
                                  {"inference", model.inference()}};
    if (!model.gradient_passes().empty()) out["gradient_passes"] = model.gradient_passes();
    // The perturbation methods' images per pass, as the tuner measured and chose them on this device.
    if (model.batch_tuner().chosen() > 0) out["probe_batch"] = tuner_json(model.batch_tuner());
    // The gradient methods' images per forward + backward, measured the same way.
    if (model.gradient_batch_tuner().chosen() > 0) out["gradient_probe_batch"] = tuner_json(model.gradient_batch_tuner());
    if (r.model_images > 0) {
      out["model_images"] = r.model_images;
      out[r.per_image_backward ? "per_image_forward_backward_ms" : "per_image_forward_ms"] = r.per_image_forward_ms;
      out["model_images_ratio"] = r.model_images_ratio;
      out["outside_model_ms"] = r.outside_model_ms;
      out["outside_model_ms_per_model_image"] = r.outside_model_ms / r.model_images;
    }
    if (r.full_backward_ms > 0) {
      out["full_backward_ms"] = r.full_backward_ms;
      out["full_backward_ratio"] = r.full_backward_ms / r.forward_ms;
    }
    std::cout << out.dump(2) << "\n";
    return;
  }
  std::string layers;
  for (const auto& l : r.layers) layers += (layers.empty() ? " at " : ", ") + l;
  std::cout << std::fixed << std::setprecision(2) << "model      " << model.path() << "\nmethod     " << r.method
            << layers << ", batch " << r.batch_size << ", median of " << r.runs << " (" << flags.warmup
            << " warm-up)\n"
            << "parameters " << r.parameters.dump() << "\n"
            << "card       " << card_json(model).dump() << "\n"
            << "inference  " << model.inference() << " (forward-only passes)\n"
            << (model.gradient_passes().empty() ? "" : "captures   " + model.gradient_passes() + "\n")
            << "forward    " << r.forward_ms << " ms (no grad)\n"
            << "explain    " << r.explain_ms << " ms\n"
            << "ratio      " << r.ratio << " (explain / forward)\n";
  if (r.model_images > 0)
    std::cout << "per image  " << r.model_images << " images through the model, " << r.per_image_forward_ms
              << " ms each batched" << (r.per_image_backward ? " (forward + backward to the input)" : "")
              << ": ratio " << r.model_images_ratio << " (explain / their " << (r.per_image_backward ? "forward + backward" : "forward")
              << " time)\n"
              << "outside    " << r.outside_model_ms << " ms outside the model's passes ("
              << std::setprecision(3) << r.outside_model_ms / r.model_images << std::setprecision(2)
              << " ms per image through the model: a device faster than that waits for the host)\n";
  if (r.full_backward_ms > 0)
    std::cout << "full bwd   " << r.full_backward_ms << " ms (forward + backward through the whole network, "
              << "as Python CAM libraries do; ratio " << r.full_backward_ms / r.forward_ms << ")\n";
  if (model.batch_tuner().chosen() > 0)
    std::cout << "probe batch " << tuner_json(model.batch_tuner()).dump() << " (the tuner: ms per image of each size)\n";
  if (model.gradient_batch_tuner().chosen() > 0)
    std::cout << "probe batch " << tuner_json(model.gradient_batch_tuner()).dump()
              << " (forward + backward; the tuner: ms per image of each size)\n";
}

int run_fidelity_bench(const BenchFlags& flags, Model& optimised, const ExplainOptions& explain) {
  ModelFlags plain_flags = flags.model;
  plain_flags.no_inference_clone = true;
  Model plain = plain_flags.load();
  if (!flags.plot.empty()) plot_format_of(flags.plot);  // a wrong extension is refused before the experiment
  FidelityOptions options;
  options.explain = explain;
  for (const auto& file : discover_inputs(flags.images)) options.images.push_back(file.path);
  options.reference_samples = flags.reference_samples;
  options.rows = fidelity_rows(explain, flags.fixed_samples, flags.curve);
  optimised.prepare_inference();
  plain.prepare_inference();
  const FidelityResult r = bench_fidelity(plain, optimised, options);
  if (!flags.plot.empty()) {
    const std::filesystem::path parent = std::filesystem::path(flags.plot).parent_path();
    std::error_code ec;
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    write_fidelity_plot(r, flags.plot);
  }
  const double today_ms = r.rows.front().median_ms;
  if (flags.json) {
    std::cout << nlohmann::ordered_json{{"model", optimised.path()},
                                        {"method", r.method},
                                        {"parameters", plan_parameters(optimised, explain)},
                                        {"card", card_json(optimised)},
                                        {"inference", {{"plain", r.plain_inference}, {"optimised", r.optimised_inference}}},
                                        {"probe_batch", tuner_json(optimised.batch_tuner())},
                                        {"reference_samples", options.reference_samples},
                                        {"reference_seed", explain.lime.seed + 1000003},
                                        {"images", r.images},
                                        {"regions", r.regions},
                                        {"reference_ms", r.reference_ms},
                                        {"rows", fidelity_rows_json(r)}}
                     .dump(2)
              << "\n";
    return 0;
  }
  std::vector<double> regions(r.regions.begin(), r.regions.end());
  std::sort(regions.begin(), regions.end());
  std::cout << "model      " << optimised.path() << " (inference clone: " << r.optimised_inference << ")\n"
            << "fidelity   " << r.method << " on " << r.images.size() << " images (" << regions.front() << "-"
            << regions.back() << " regions), reference " << options.reference_samples << " samples, seed "
            << explain.lime.seed + 1000003 << "\n"
            << "parameters " << plan_parameters(optimised, explain).dump() << "\n";
  std::cout << std::left << std::setw(40) << "row" << std::right << std::setw(12) << "median rho" << std::setw(16)
            << "median samples" << std::setw(14) << "median time" << std::setw(12) << "time ratio" << "\n";
  for (const auto& row : r.rows)
    std::cout << std::left << std::setw(40) << row.spec.name << std::right << std::fixed << std::setprecision(3)
              << std::setw(12) << row.median_fidelity << std::setprecision(0) << std::setw(16) << row.median_samples
              << std::setprecision(2) << std::setw(12) << row.median_ms / 1000 << " s" << std::setw(12)
              << row.median_ms / today_ms << "\n";
  std::cout << "probe batch " << tuner_json(optimised.batch_tuner()).dump() << "\n";
  if (!flags.plot.empty()) std::cout << "plot       " << flags.plot << "\n";
  return 0;
}

int run_bench(const BenchFlags& flags) {
  if (flags.method.method_list().size() != 1) throw usage_error("--method: bench times one method at a time");
  Model model = flags.model.load();
  const ExplainOptions explain = flags.method.to_options(model);
  check_mode(flags, explain);
  log_plan(explain, model);
  if (flags.fidelity) return run_fidelity_bench(flags, model, explain);
  if (flags.pipeline_images > 0 || !flags.slide.empty()) return run_batch_bench(flags, model, explain);
  BenchOptions options;
  options.explain = explain;
  options.batch_size = flags.batch_size;
  options.warmup = flags.warmup;
  options.runs = flags.runs;
  options.full_backward = !flags.skip_full_backward;
  print_result(flags, model, bench_method(model, options));
  return 0;
}

}  // namespace

Command add_bench(CLI::App& app) {
  auto flags = std::make_shared<BenchFlags>();
  CLI::App* sub = app.add_subcommand("bench", "Time an explanation against a plain forward pass");
  flags->model.add_to(*sub);
  flags->method.add_to(*sub);
  flags->batch_option = sub->add_option("--batch-size", flags->batch_size, "Images per pass (--pipeline: default 8)")
                            ->check(kPositive)
                            ->capture_default_str();
  flags->warmup_option =
      sub->add_option("--warmup", flags->warmup, "Untimed runs first")->check(kNonNegative)->capture_default_str();
  flags->runs_option =
      sub->add_option("--runs", flags->runs, "Timed runs (median reported)")->check(kPositive)->capture_default_str();
  flags->pipeline_option = sub->add_option("--pipeline", flags->pipeline_images,
                                           "Time `xai batch` on N synthetic images against raw batched inference")
                               ->check(kNonNegative);
  flags->slide_option = sub->add_option("--slide", flags->slide,
                                        "Time `xai slide` on this slide against raw batched inference on its tissue tiles");
  sub->add_flag("--fidelity", flags->fidelity,
                "LIME, Kernel SHAP with --samples auto: Spearman rho of the region weights to a many-sample "
                "reference, samples and time, for fixed counts (plain module and inference clone) and auto, on IMAGES");
  flags->fidelity_options = {
      sub->add_option("--reference-samples", flags->reference_samples, "--fidelity: samples of the reference")
          ->check(integer_at_least(2, "AT LEAST 2"))
          ->capture_default_str(),
      sub->add_option("--fixed-samples", flags->fixed_samples,
                      "--fidelity: the fixed rows' samples (default: the method's, LIME 1000)")
          ->check(integer_at_least(2, "AT LEAST 2")),
      sub->add_flag("--curve", flags->curve, "--fidelity: also fixed 250/500/2000 and auto at tolerance 0.1/0.05/0.01"),
      sub->add_option("--plot", flags->plot, "--fidelity: write a fidelity-against-samples plot (FILE.png, .svg or .pdf)"),
      sub->add_option("images", flags->images, "--fidelity: images or folders to explain")};
  flags->rounds_option = sub->add_option("--rounds", flags->rounds, "Pipeline: alternating raw and batch rounds (medians)")
                             ->check(kPositive)
                             ->capture_default_str();
  flags->backward_option =
      sub->add_flag("--no-full-backward", flags->skip_full_backward, "Skip timing the full-backward comparison");
  sub->add_flag("--json", flags->json, "Print the times and ratios as JSON");
  return {sub, [flags] { return run_bench(*flags); }};
}

}  // namespace xai::cli
