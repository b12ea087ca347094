// How to explain: the chosen methods and every setting a method may read, plus how maps are drawn.
// One struct for every command, so a flag means the same everywhere (src/cli/method_flags.cpp).
#pragma once

#include <string>
#include <vector>

#include "xai/image.hpp"
#include "xai/settings.hpp"

namespace xai {

struct ExplainOptions {
  std::vector<std::string> methods = {"gradcam"};  // names from the method registry (methods.hpp)
  CamRequest cam;   // layers, target and probe batch; `cam.target` is the target of every method
  // LIME's settings, and the ones every perturbation method shares: regions (superpixels, --regions),
  // fill (--hide), seed and probe batch. Every method's target is `cam.target`.
  LimeOptions lime;
  ShapOptions shap;            // kernelshap, partitionshap
  OcclusionOptions occlusion;  // occlusion
  RiseOptions rise;            // rise
  GradientOptions gradients;   // intgrad, smoothgrad
  FaithfulnessOptions faithfulness;  // deletion/insertion curves of every map (--faithfulness)
  std::string output_dir;  // explain: empty means "xai-out" beside the image
  // Viridis: its lightness rises steadily from low to high, so the order of values reads the same to
  // colour-blind readers and in grayscale print, and no false boundaries appear (jet's bright
  // cyan and yellow bands look like edges that are not in the map).
  Colormap colormap = Colormap::viridis;
  SignedColormap signed_colormap = SignedColormap::orange_blue;
  double alpha = 0.5;  // overlay opacity of the heatmap
  Background background = Background::image;  // --background gray: heatmaps over the image's luma
  // Overlays, figures and layer grids of images whose shorter side is below this are enlarged by a
  // whole factor (nearest neighbour) until it is not (--figure-size; 0: never).
  int figure_size = 384;
  bool figures = false;  // STEM.METHOD[...].figure.png per map (on in explain, --figures in batch)
  // STEM.panel.png: one figure for the image, the original then one column per method (and layer), one
  // row per explained class, each map with its own colour bar and units (--panel).
  bool panel = false;
  FigureFormat figure_format = FigureFormat::png;  // the figures' file format (--figure-format)
  double figure_dpi = 0;  // > 0: figures laid out for print and rasterised at this dpi (--dpi; png only)
  int num_features = 5;  // region maps: regions in the -top (most positive) and -bottom (most negative) views
  // Longest side of a stored map (.npy): larger maps are reduced, keeping the aspect ratio (--map-size;
  // a 16000-pixel image's map would be a 1 GB file). Overlays stay at the image's size.
  int map_size = 2048;
  ImageLimits limits;
};

}  // namespace xai
