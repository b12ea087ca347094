// The one place explanation images are drawn and output files are named: every method's maps
// become an overlay (diverging for signed maps), a float32 .npy at the original resolution, and,
// per method, grids of layers or the region views of region maps.
//
// Names, for IMAGE = DIR/STEM.EXT: STEM.METHOD[.LABEL][.layer-LAYER].{png,npy}, LABEL when a method
// explains several classes, LAYER when it explains several layers (each character outside
// [A-Za-z0-9_-], dots included, becomes '_'); STEM.METHOD-layers[.LABEL].png (layer grid);
// STEM.METHOD-top[.LABEL].png and STEM.METHOD-segments.png (region maps); STEM.thumb.png; STEM.json;
// with figures, STEM.METHOD[.LABEL][.layer-LAYER].figure.png.
#pragma once

#include <opencv2/core.hpp>
#include <optional>
#include <string>
#include <vector>

#include "xai/explain_plan.hpp"
#include "xai/explanation_outcome.hpp"
#include "xai/prepared_image.hpp"
#include "output/figure.hpp"

namespace xai {

struct PendingFile {
  std::string name;  // relative to the destination folder
  std::string bytes;
};

struct RenderedExplanation {
  std::vector<PendingFile> files;
  std::vector<ExplainedMap> maps;  // files named relative to the destination folder
  std::vector<std::pair<size_t, size_t>> sources;  // (result, map) of computed.results for each map
  std::vector<std::string> grids;
  std::string thumbnail;  // file name, when asked for
};

RenderedExplanation render_explanation(const PreparedImage& image, const ComputedExplanation& computed,
                                       const ExplainPlan& plan, const std::string& stem, bool thumbnail);

// The colour bar of a map as render_map draws it: the colour map's 0..1 for CAMs, the map's range for
// maps stretched for display (RISE), a symmetric -limit..+limit for signed maps.
ColourScale colour_scale_of(const DenseMap& map, const ExplainOptions& options);

// The scale every one of several maps shares (a grid's one colour bar), or none when they differ
// (signed maps with their own limits, or CAMs beside signed maps).
std::optional<ColourScale> common_colour_scale(const std::vector<ColourScale>& scales);

// A dense map over the image (8-bit BGR, same size): a colour-mapped overlay for [0,1] maps; signed
// region maps as positive green / negative red regions with their boundaries.
cv::Mat render_map(const cv::Mat& display_bgr, const DenseMap& map, Colormap colormap, double alpha,
                   SignedColormap signed_colormap);

// Whether a file name is one xai writes (STEM.METHOD.png, STEM.thumb.png, STEM.compare.png, ...):
// discovery never takes xai's outputs as inputs.
bool is_xai_output_name(const std::string& file_name);

}  // namespace xai
