// The shared option group that says how to explain: methods, layers, target, every method setting,
// rendering and input limits. Every subcommand that explains registers it (so a flag means the same
// everywhere); what a subcommand can never apply is refused by flag_policy.cpp's table, and a method
// setting that none of the chosen methods reads is refused by to_options().
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <utility>
#include <vector>

#include "xai/explain_options.hpp"
#include "xai/methods.hpp"
#include "xai/model.hpp"
#include "output/render.hpp"

namespace xai::cli {

struct MethodFlags {
  std::string methods = "gradcam";
  std::vector<std::string> layers;
  bool matches_stages = false;  // compare: --layers stages (the library matches each model's stages)
  std::string layer_set;  // "auto-all": every stage output
  std::string target_class;
  int top_k = 0;
  std::string targets;  // --targets above:P
  bool all_classes = false;
  int probe_batch = 0;
  std::string colormap;  // --colormap NAME[,NAME]: empty, the defaults of both kinds
  double alpha = 0.5;
  std::string background = "image";
  int figure_size = ExplainOptions{}.figure_size;
  int num_features = ExplainOptions{}.num_features;
  long long max_pixels = ImageLimits{}.max_pixels;
  long long max_image_memory_mib = static_cast<long long>(ImageLimits{}.max_decoded_bytes >> 20);
  bool apply_exif_orientation = false;
  std::string window;  // DICOM (--dicom-window); empty: the card's, else the file's
  int frame = 0;       // DICOM (--frame), 1-based; 0: the middle frame
  std::string frames;  // DICOM (--frames all): every frame of multi-frame files
  int map_size = ExplainOptions{}.map_size;
  std::string hide = "mean";
  std::string superpixels = "slic";
  float compactness = 0;
  std::string samples;  // empty: each method's default; a count, or "auto" (LIME, Kernel SHAP)
  std::string partition = "axes";
  std::string baseline = "black";
  LimeOptions lime;
  ShapOptions shap;
  OcclusionOptions occlusion;
  RiseOptions rise;
  GradientOptions gradients;
  bool faithfulness = false;
  int faithfulness_steps = FaithfulnessOptions{}.steps;
  std::string faithfulness_fill = "mean";
  std::vector<std::pair<const CLI::Option*, Setting>> setting_flags;  // which setting each flag sets
  std::vector<CLI::Option*> all;  // every option of the group
  std::vector<CLI::Option*> drawing;  // how maps are drawn: --colormap, --alpha, --background, --figure-size
  std::vector<CLI::Option*> faithfulness_settings;  // --faithfulness-steps, --faithfulness-fill

  void add_to(CLI::App& command);
  // Validates the flags against the chosen methods and resolves label names against the model.
  // Throws usage_error.
  ExplainOptions to_options(Model& model) const;
  // The chosen method names (checked against the registry).
  std::vector<std::string> method_list() const;
};

// At -v: what a run will do (methods, layers, every method's parameters), once.
void log_plan(const ExplainOptions& options, Model& model);

}  // namespace xai::cli
