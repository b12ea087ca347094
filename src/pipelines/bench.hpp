// Speed measurements reported as ratios to a plain forward pass (the machine cancels out).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "xai/explain_options.hpp"
#include "xai/model.hpp"

namespace xai {

struct BenchOptions {
  ExplainOptions explain;  // one method (any registered), its layer, target and settings
  int batch_size = 1;      // images explained together
  int warmup = 3;          // the TorchScript executor profiles and optimises during the first runs
  int runs = 20;
  bool full_backward = true;  // gradient CAMs: also time what Python CAM libraries do, a backward through everything
};

struct BenchResult {
  std::string method;
  std::string family;
  std::vector<std::string> layers;
  nlohmann::ordered_json parameters;  // the method's, as its report lists them
  double forward_ms = 0;        // median, no-grad forward of the batch
  double explain_ms = 0;        // median, full explanation of the batch
  double ratio = 0;             // explain_ms / forward_ms
  // Methods that push whole images through the model (LIME: its samples): their cost over that
  // unavoidable part, explain_ms / (model_images × per-image batched forward). 0 when not such a method.
  long long model_images = 0;
  double per_image_forward_ms = 0;  // median pass of a probe batch, divided by its size
  bool per_image_backward = false;  // that pass is forward + backward to the input (IG, SmoothGrad)
  double model_images_ratio = 0;
  // Of explain_ms, the median time outside those passes: the host's work around them (masks, noise,
  // segmentation, regressions), which a faster device does not shorten. Per image through the model,
  // it is the pace below which a device waits for the host.
  double outside_model_ms = 0;
  double full_backward_ms = 0;  // median, forward + backward to every parameter and the input (0: skipped)
  int batch_size = 1;
  int runs = 0;
};

// Any registered method on synthetic images at the model's input size, against a plain forward pass.
BenchResult bench_method(Model& model, const BenchOptions& options);

struct BatchBenchResult {
  int images = 0;
  int batch_size = 0;
  double raw_images_per_second = 0;    // batched no-grad inference on preprocessed images in memory
  double batch_images_per_second = 0;  // `xai batch` end to end: decode, explain, render, write, journal
  double ratio = 0;                    // batch ÷ raw, median over rounds
  int rounds = 0;
  double min_ratio = 0, max_ratio = 0;  // the spread over rounds
  // bench_slide also times the run's explanations of the same tiles in memory, batched (the model's
  // share of the work): the slide run's rate over it is what the pipeline around the model costs.
  double explain_images_per_second = 0;
  double explain_ratio = 0, min_explain_ratio = 0, max_explain_ratio = 0;
};

// Runs the batch runner on `images` synthetic PNGs at the model's input size (in a temporary folder,
// removed afterwards) and compares its throughput with raw batched inference. Raw and batch runs
// alternate for `rounds` rounds, so a slow spell of the machine hits both; medians are reported.
BatchBenchResult bench_batch(Model& model, const ExplainOptions& explain, int images, int batch_size, int rounds);

// The same for `xai slide`: whole runs over a slide (thumbnail, tissue, tiles read and explained,
// maps stitched and written; no viewer) against raw batched inference on the same tissue tiles,
// read and preprocessed beforehand. `images` in the result counts tiles.
BatchBenchResult bench_slide(Model& model, const ExplainOptions& explain, const std::string& slide_path, int batch_size,
                             int rounds);

}  // namespace xai

namespace xai {

// How close a sampled surrogate (LIME, Kernel SHAP) comes to its converged explanation, and at what
// cost: per image, a reference explanation with many samples (another seed) on the same regions;
// each row's fidelity is the Spearman ρ of its region weights to the reference.
struct FidelityRowSpec {
  std::string name;
  bool optimised = true;  // forward passes on the inference clone (false: the module as loaded)
  int samples = 0;        // fixed count; 0: the method's default
  double tolerance = 0;   // > 0: --samples auto at this tolerance
  int probe_batch = 0;    // > 0: this many images per pass instead of the options' (0: as given there)
};

struct FidelityOptions {
  ExplainOptions explain;  // one method (lime or kernelshap) and its settings
  std::vector<std::string> images;
  int reference_samples = 10000;
  std::vector<FidelityRowSpec> rows;
};

struct FidelityRowResult {
  FidelityRowSpec spec;
  std::vector<double> fidelity, samples, ms;  // per image
  double median_fidelity = 0, median_samples = 0, median_ms = 0;
};

struct FidelityResult {
  std::string method;
  std::vector<std::string> images;
  std::vector<int> regions;     // per image
  std::vector<double> reference_ms;
  std::vector<FidelityRowResult> rows;
  std::string plain_inference, optimised_inference;
};

// The experiment `xai bench --fidelity` runs: the method's fixed count (`fixed_samples`, 0: its default)
// as it ran before (the module as loaded, independent draws, 64 images per pass unless the options give
// --probe-batch) and on the inference clone, then --samples auto at the options' tolerance; with `curve`
// also fixed 250, 500, 2000 and tolerances 0.1, 0.05, 0.01.
std::vector<FidelityRowSpec> fidelity_rows(const ExplainOptions& explain, int fixed_samples, bool curve);
// Each row's numbers for the JSON report, with its median time over the first row's.
nlohmann::ordered_json fidelity_rows_json(const FidelityResult& result);

// `plain` and `optimised` are the same model loaded without and with the inference clone.
FidelityResult bench_fidelity(Model& plain, Model& optimised, const FidelityOptions& options);

// A fidelity-against-samples plot (per-image points and each row's median), drawn with cairo in the
// format the file's extension names (.png, .svg or .pdf).
void write_fidelity_plot(const FidelityResult& result, const std::string& path);
// That format; throws usage_error for another extension (checked before the experiment runs).
FigureFormat plot_format_of(const std::string& path);

}  // namespace xai
