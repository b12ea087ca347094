// xai bench: how much an explanation costs relative to a plain forward pass of the same model.
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/model_flags.hpp"
#include "xai/bench.hpp"
#include "xai/error.hpp"
#include "validators.hpp"

namespace xai::cli {
namespace {

struct BenchFlags {
  ModelFlags model;
  std::string method = "gradcam";
  std::vector<std::string> layers;
  int batch_size = 1;
  int warmup = 3;
  int repeats = 20;
  bool json = false;
  bool skip_full_backward = false;
  LimeOptions lime;
  int pipeline_images = 0;
  int rounds = 5;
  int probe_batch = 0;  // automatic
};

int run_batch_bench(const BenchFlags& flags, Model& model) {
  ExplainOptions explain;
  explain.methods = {flags.method};
  explain.cam.layers = flags.layers;
  explain.lime = flags.lime;
  const int batch = flags.batch_size > 1 ? flags.batch_size : 8;
  const BatchBenchResult r = bench_batch(model, explain, flags.pipeline_images, batch, flags.rounds);
  if (flags.json) {
    std::cout << nlohmann::ordered_json{{"model", model.path()},
                                        {"method", flags.method},
                                        {"images", r.images},
                                        {"batch_size", r.batch_size},
                                        {"raw_images_per_second", r.raw_images_per_second},
                                        {"batch_images_per_second", r.batch_images_per_second},
                                        {"ratio", r.ratio},
                                        {"rounds", r.rounds},
                                        {"min_ratio", r.min_ratio},
                                        {"max_ratio", r.max_ratio}}
                     .dump(2)
              << "\n";
    return 0;
  }
  std::cout << std::fixed << std::setprecision(2) << "model      " << model.path() << "\npipeline   xai batch --method "
            << flags.method << " on " << r.images << " images, batch " << r.batch_size << "\n"
            << "raw        " << r.raw_images_per_second << " images/s (batched no-grad inference)\n"
            << "batch      " << r.batch_images_per_second << " images/s (decode, explain, render, write)\n"
            << "ratio      " << r.ratio << " (batch / raw; median of " << r.rounds << " rounds, range " << r.min_ratio
            << "-" << r.max_ratio << ")\n";
  return 0;
}

int run_lime_bench(const BenchFlags& flags, Model& model) {
  LimeOptions lime = flags.lime;
  lime.batch_size = flags.batch_size > 1 ? flags.batch_size : lime.batch_size;
  const LimeBenchResult r = bench_lime(model, lime, flags.warmup, flags.repeats);
  if (flags.json) {
    nlohmann::ordered_json out = {{"model", model.path()},
                                  {"method", "lime"},
                                  {"samples", r.samples},
                                  {"segments", r.segments},
                                  {"batch_size", r.batch_size},
                                  {"repeats", r.repeats},
                                  {"per_image_forward_ms", r.per_image_forward_ms},
                                  {"lime_ms", r.lime_ms},
                                  {"ratio", r.ratio}};
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::cout << std::fixed << std::setprecision(3) << "model      " << model.path() << "\nmethod     lime, "
            << r.samples << " samples, " << r.segments << " superpixels, batch " << r.batch_size << ", median of "
            << r.repeats << "\nforward    " << r.per_image_forward_ms << " ms per image (batched)\n"
            << "lime       " << r.lime_ms << " ms\n"
            << "ratio      " << r.ratio << " (lime / (samples x per-image forward))\n";
  return 0;
}

int run_bench(const BenchFlags& flags) {
  const auto names = cam_method_names();
  if (flags.method != "lime" && std::find(names.begin(), names.end(), flags.method) == names.end())
    throw usage_error("--method " + flags.method + ": not a benchmarkable method");
  Model model = flags.model.load();
  if (flags.pipeline_images > 0) return run_batch_bench(flags, model);
  if (flags.method == "lime") return run_lime_bench(flags, model);
  BenchOptions options;
  options.cam.method = flags.method;
  options.cam.layers = flags.layers;
  options.cam.batch_size = flags.probe_batch;
  options.batch_size = flags.batch_size;
  options.warmup = flags.warmup;
  options.repeats = flags.repeats;
  options.full_backward = !flags.skip_full_backward;
  const BenchResult r = bench_cam(model, options);
  if (flags.json) {
    nlohmann::ordered_json out = {{"model", model.path()},     {"method", flags.method},   {"layer", r.layer},
                          {"batch_size", r.batch_size}, {"repeats", r.repeats},    {"forward_ms", r.forward_ms},
                          {"explain_ms", r.explain_ms}, {"ratio", r.ratio}};
    if (r.full_backward_ms > 0) {
      out["full_backward_ms"] = r.full_backward_ms;
      out["full_backward_ratio"] = r.full_backward_ms / r.forward_ms;
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::cout << std::fixed << std::setprecision(2) << "model      " << model.path() << "\nmethod     " << flags.method
            << " at " << r.layer << ", batch " << r.batch_size << ", median of " << r.repeats << "\n"
            << "forward    " << r.forward_ms << " ms (no grad)\n"
            << "explain    " << r.explain_ms << " ms\n"
            << "ratio      " << r.ratio << " (explain / forward)\n";
  if (r.full_backward_ms > 0)
    std::cout << "full bwd   " << r.full_backward_ms << " ms (forward + backward through the whole network, "
              << "as Python CAM libraries do; ratio " << r.full_backward_ms / r.forward_ms << ")\n";
  return 0;
}

}  // namespace

Command add_bench(CLI::App& app) {
  auto flags = std::make_shared<BenchFlags>();
  CLI::App* sub = app.add_subcommand("bench", "Time an explanation against a plain forward pass");
  flags->model.add_to(*sub);
  sub->add_option("--method", flags->method, "Method to time")->capture_default_str();
  sub->add_option("-l,--layer", flags->layers, "Layer (default: the model's default layer)")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  sub->add_option("--samples", flags->lime.samples, "LIME: samples")->capture_default_str();
  sub->add_option("--segments", flags->lime.superpixels.segments, "LIME: superpixels")->capture_default_str();
  sub->add_option("--batch-size", flags->batch_size, "Images per pass (LIME: default 64)")->check(kPositive)->capture_default_str();
  sub->add_option("--warmup", flags->warmup, "Untimed runs first")->check(kNonNegative)->capture_default_str();
  sub->add_option("--repeats", flags->repeats, "Timed runs (median reported)")->check(kPositive)->capture_default_str();
  sub->add_option("--probe-batch", flags->probe_batch,
                  "Score-CAM/Ablation-CAM: probe images per forward pass (0: automatic, as in explain)")
      ->check(kNonNegative)
      ->capture_default_str();
  sub->add_option("--pipeline", flags->pipeline_images,
                  "Time `xai batch` on N synthetic images against raw batched inference")->check(kNonNegative);
  sub->add_option("--rounds", flags->rounds, "Pipeline: alternating raw and batch rounds (medians reported)")
      ->check(kPositive)
      ->capture_default_str();
  sub->add_flag("--no-full-backward", flags->skip_full_backward, "Skip timing the full-backward comparison");
  sub->add_flag("--json", flags->json, "Print forward_ms, explain_ms, ratio as JSON");
  return {sub, [flags] { return run_bench(*flags); }};
}

}  // namespace xai::cli
