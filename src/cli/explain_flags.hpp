// Flags that say how to explain (methods, layers, target, LIME, rendering), shared by `explain`
// and `batch` so both accept and apply them alike.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "xai/explain.hpp"

namespace xai::cli {

struct ExplainFlags {
  std::string methods = "gradcam";
  std::vector<std::string> layers;
  std::string layer_set;  // "auto-all": every stage output
  std::string target_class;
  int top_k = 0;
  std::string colormap = "jet";
  double alpha = 0.5;
  long long max_pixels = ImageLimits{}.max_pixels;
  bool all_classes = false;
  std::string hide = "mean";
  std::string superpixels = "slic";
  float compactness = 0;
  LimeOptions lime;
  const CLI::Option* probe_batch_option = nullptr;  // given: it also sets Score-/Ablation-CAM's probe batch

  // `lime_batch_flag`: the name of LIME's batch-size flag (`batch` uses --batch-size for images).
  void add_to(CLI::App& command, const std::string& lime_batch_flag = "--batch-size");
  // Validates the flags and resolves label names against the model. Throws usage_error.
  ExplainOptions to_options(Model& model) const;
};

}  // namespace xai::cli
