// Speed measurements reported as ratios to a plain forward pass (the machine cancels out).
#pragma once

#include <string>

#include "xai/cam.hpp"
#include "xai/explain.hpp"
#include "xai/lime.hpp"
#include "xai/model.hpp"

namespace xai {

struct BenchOptions {
  CamRequest cam;
  int batch_size = 1;
  int warmup = 3;    // the TorchScript executor profiles and optimises during the first runs
  int repeats = 20;
  bool full_backward = true;  // also time what Python CAM libraries do: a backward through everything
};

struct BenchResult {
  double forward_ms = 0;        // median, no-grad forward of the batch
  double explain_ms = 0;        // median, full explanation of the batch
  double ratio = 0;             // explain_ms / forward_ms
  double full_backward_ms = 0;  // median, forward + backward to every parameter and the input (0: skipped)
  std::string layer;
  int batch_size = 1;
  int repeats = 0;
};

BenchResult bench_cam(Model& model, const BenchOptions& options);

struct LimeBenchResult {
  double per_image_forward_ms = 0;  // median batched forward of `batch_size` images, divided by batch_size
  double lime_ms = 0;               // median full LIME explanation
  double ratio = 0;                 // lime_ms / (samples × per_image_forward_ms)
  int samples = 0;
  int batch_size = 0;
  int segments = 0;
  int repeats = 0;
};

struct BatchBenchResult {
  int images = 0;
  int batch_size = 0;
  double raw_images_per_second = 0;    // batched no-grad inference on preprocessed images in memory
  double batch_images_per_second = 0;  // `xai batch` end to end: decode, explain, render, write, journal
  double ratio = 0;                    // batch ÷ raw, median over rounds
  int rounds = 0;
  double min_ratio = 0, max_ratio = 0;  // the spread over rounds
};

// Runs the batch runner on `images` synthetic PNGs at the model's input size (in a temporary folder,
// removed afterwards) and compares its throughput with raw batched inference. Raw and batch runs
// alternate for `rounds` rounds, so a slow spell of the machine hits both; medians are reported.
BatchBenchResult bench_batch(Model& model, const ExplainOptions& explain, int images, int batch_size, int rounds);

// LIME's cost over its unavoidable part: `samples` forward passes at the same batch size.
LimeBenchResult bench_lime(Model& model, const LimeOptions& lime, int warmup, int repeats);

}  // namespace xai
