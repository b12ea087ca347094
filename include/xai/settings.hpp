// Every setting an explanation reads, as plain values: the methods' (one struct per method or shared
// concern), the target class and how maps are drawn. ExplainOptions (explain_options.hpp) gathers them;
// the engines that read them live in src/methods/, the parsers of their text forms beside them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace xai {

struct AdaptiveSampling {
  bool enabled = false;     // --samples auto
  double tolerance = 0.03;  // stop when the estimated agreement with the limit is ≥ 1 − tolerance
  int max_samples = 5000;   // stop here even if not settled (a warning says so)
};

enum class SuperpixelAlgorithm { slic, slico, mslic };

struct SuperpixelOptions {
  SuperpixelAlgorithm algorithm = SuperpixelAlgorithm::slic;
  int segments = 50;                 // target count; SLIC gets close, not exact
  std::optional<float> compactness;  // default: default_compactness(channels)
  int iterations = 10;
};

enum class HideMode {
  mean,      // a hidden region shows its own mean colour (the `lime` package's default)
  constant,  // a fixed colour (`hide_color`)
  blur,      // a blurred copy of the image: fewer out-of-distribution artefacts
  inpaint,   // the hidden pixels inpainted from the shown ones (OpenCV Telea, as shap's "inpaint_telea")
  linear,    // noisy linear imputation from the neighbours (ROAD, Rong et al. 2022): hides the mask's shape
};

// What hidden pixels show. `blur_kernel` > 0: a k×k box blur (shap.maskers.Image "blur(k,k)");
// 0: a Gaussian on the scale of a region. `color` is for HideMode::constant (one value, or one per
// channel, each in [0,1]).
struct FillSpec {
  HideMode mode = HideMode::mean;
  std::vector<float> color;
  int blur_kernel = 0;
};

// Which class an explanation is about: the predicted one, a given one, the top k, or every class whose
// probability reaches a threshold (a multi-label model's findings; the most probable when none does).
struct TargetSpec {
  enum class Kind { predicted, given, top_k, above };
  Kind kind = Kind::predicted;
  int class_index = -1;    // for Kind::given
  int k = 1;               // for Kind::top_k
  double threshold = 0.5;  // for Kind::above
};

struct LimeOptions {
  int samples = 1000;                // row 0 is the unperturbed image
  AdaptiveSampling adaptive;
  bool paired = false;               // draw complementary pairs (always with adaptive sampling)
  SuperpixelOptions superpixels;
  std::string regions_path;          // a user's region map instead of SLIC
  FillSpec hide;                     // what switched-off superpixels show (--hide, --hide-color)
  double kernel_width = 0.25;
  double ridge_alpha = 1.0;
  uint64_t seed = 0;
  int batch_size = 0;                // perturbed images per forward pass (--probe-batch); 0: measured per model
  TargetSpec target;
  bool all_classes = false;
  int repeats = 1;                   // > 1: rerun with seeds seed..seed+R-1 and report stability
};

enum class PartitionKind {
  axes,         // split the longer side of a rectangle in half, down to single pixels (shap's Image masker)
  superpixels,  // a merge tree over the superpixels: the most similar neighbours merge first
};

struct ShapOptions {
  int samples = 0;      // Kernel SHAP coalitions besides "all shown" and "all hidden"; 0: 2·regions + 2048
  int max_evals = 500;  // Partition SHAP model evaluations, both ends included
  PartitionKind partition = PartitionKind::axes;
};

struct OcclusionOptions {
  int window = 0;  // side of the square window in model-input pixels; 0: an eighth of the shorter side
  int stride = 0;  // 0: half the window
};

struct RiseOptions {
  int masks = 4000;   // N (the paper's for ResNet50)
  int grid = 7;       // s
  double keep = 0.5;  // p
};

enum class Baseline {
  black,  // every pixel 0 before normalisation
  blur,   // a Gaussian blur of the image (σ: 1/20 of the shorter side): structure gone, colours kept
  mean,   // the image's mean colour
};

struct GradientOptions {
  int steps = 64;     // Integrated Gradients: gradient evaluations along the path, both ends included
  Baseline baseline = Baseline::black;
  double noise = 0.15;  // SmoothGrad: σ as a fraction of the input's range (max − min)
  int samples = 50;     // SmoothGrad: noisy copies
  int batch_size = 0;   // images per forward + backward (--probe-batch); 0: measured per model
};

struct FaithfulnessOptions {
  bool enabled = false;
  int steps = 20;                        // curve points at fractions 0, 1/steps, ..., 1
  // What removed pixels show, and where insertion starts: the image's mean colour. Measured on the demo
  // model's 96-pixel patches: an 11x11 blur (Petsiuk et al.'s insertion start) keeps enough of the
  // lesion's texture that the probability barely moves (deletion areas 0.97-1.0, map and random
  // alike), black reads as "malignant"; the mean removes the evidence (Grad-CAM 0.04-0.18, random
  // 0.19-0.39). It is also close to Petsiuk et al.'s deletion fill (zeros after normalisation).
  FillSpec fill{HideMode::mean, {}, 0};
  uint64_t seed = 0;                     // the random order, and the order among tied map values
  int batch_size = 0;                    // images per forward pass (0: the model's tuned size)
};

struct CamRequest {
  std::string method = "gradcam";
  std::vector<std::string> layers;  // empty: the model's default layer
  TargetSpec target;
  int batch_size = 0;  // Score-CAM and Ablation-CAM: probes per forward pass; 0: automatic (Score-CAM the
                       // model's measured size, Ablation-CAM as many as fit in 256 MiB of activations)
};

enum class Colormap { jet, turbo, viridis, inferno };

// How signed maps (evidence for and against the class: LIME, SHAP, occlusion, gradients) are coloured:
// a hue for each sign, its opacity growing with |value|, zero leaving the image as it is. The default,
// orange for + and blue for -, stays two hues for people with red-green colour blindness (about 1 man
// in 12); red-blue is ColorBrewer RdBu's ends; red-green (green +, red -, LIME's own pictures) only on request.
enum class SignedColormap { orange_blue, red_blue, red_green };

// What the heatmap is drawn over: the image as it is, or its luma in three equal channels (--background
// gray: coloured tissue and a colour map compete; over gray, every colour is the map's).
enum class Background { image, gray };

// How figures are written: png (the default: a screen figure, every data pixel as it is) or, laid out
// for a journal column (85 mm, 174 mm for wide grids; 7-8 pt text), svg or pdf (vector text and colour
// bars, images embedded at full resolution) or png at a stated dpi.
enum class FigureFormat { png, svg, pdf };

}  // namespace xai
