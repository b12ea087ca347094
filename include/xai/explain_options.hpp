// How to explain: the chosen methods and every setting a method may read, plus how maps are drawn.
// One struct for every command, so a flag means the same everywhere (src/cli/method_flags.cpp).
#pragma once

#include <string>
#include <vector>

#include "xai/cam.hpp"
#include "xai/image.hpp"
#include "xai/lime.hpp"
#include "xai/render.hpp"

namespace xai {

struct ExplainOptions {
  std::vector<std::string> methods = {"gradcam"};  // names from the method registry (methods.hpp)
  CamRequest cam;   // layers, target and probe batch; `cam.target` is the target of every method
  LimeOptions lime;  // LIME settings (its target is taken from `cam.target`)
  std::string output_dir;  // explain: empty means "xai-out" beside the image
  Colormap colormap = Colormap::jet;
  double alpha = 0.5;  // overlay opacity of the heatmap
  ImageLimits limits;
};

}  // namespace xai
