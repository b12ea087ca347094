// What a slide run writes, rebuilt from its tile journal alone (so a resumed run and a merge of
// shards write exactly what one uninterrupted run would): probability maps, stitched maps, overlays
// on the thumbnail, tiles.csv, slide.json and the viewer.
#pragma once

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <optional>
#include <string>
#include <vector>

#include "output/render.hpp"
#include "output/results_log.hpp"

namespace xai {

class Slide;
class PyramidWriter;

// Where tiles are and how they are read: fixed for a run, recorded in slide.json (merge reads it back).
struct SlideLayout {
  int level = 0;                // pyramid level the tiles are read from
  double level_downsample = 1;  // of that level
  double downsample = 1;        // level-0 pixels per tile pixel
  std::optional<double> mpp;    // microns per tile pixel, when the slide says its resolution
  std::string resolution_from;  // setting_name("level") or ("mpp"): the options; "card", "level 0"
  int tile = 0, stride = 0;     // at the read resolution
  int read_side = 0;            // pixels read from `level` per tile side (resized to `tile` when different)
  int columns = 0, rows = 0;    // the grid over the whole slide
  double min_tissue = 0.5;
  int64_t width = 0, height = 0;  // level 0
  double thumbnail_downsample = 1;  // level-0 pixels per thumbnail pixel
  double canvas_downsample = 1;     // level-0 pixels per stitched-map pixel
  int canvas_width = 0, canvas_height = 0;

  double footprint() const { return tile * downsample; }  // a tile's side in level-0 pixels
  // A tile's footprint on the stitched map (at least one pixel, inside the canvas).
  cv::Rect canvas_rect(int64_t x0, int64_t y0) const;
  nlohmann::ordered_json to_json() const;
  static SlideLayout from_json(const nlohmann::ordered_json& j);  // throws output_error on a bad record
};

// What the maps are: the class they explain and, per method, the units of the stitched values.
struct SlideMaps {
  std::vector<std::string> labels;
  int target = 0;
  std::vector<std::string> methods;
  std::vector<std::string> units;      // per method
  std::vector<bool> is_signed;         // per method: values on both sides of 0
  nlohmann::ordered_json to_json() const;
  static SlideMaps from_json(const nlohmann::ordered_json& j);
};

// One tile's map in the journal: its canvas rectangle and float32 values (base64).
nlohmann::ordered_json encode_tile_map(const cv::Rect& rect, const cv::Mat& values);
// Throws output_error when the entry is malformed or does not fit `rect`.
cv::Mat decode_tile_map(const nlohmann::ordered_json& entry, cv::Rect* rect);

// A method's tile maps stitched on the layout's canvas, overlapping tiles averaged; NaN where no tile lies.
cv::Mat stitched_map(const SlideLayout& layout, const std::vector<Record>& tiles, const std::string& method);
// Each tile's probability of `label` over its footprint on the canvas (overlaps averaged); NaN elsewhere.
cv::Mat probability_canvas(const SlideLayout& layout, const std::vector<Record>& tiles, const std::string& label);

struct SlideRendering {
  Colormap colormap = Colormap::viridis;
  SignedColormap signed_colormap = SignedColormap::orange_blue;
  double alpha = 0.5;
  Background background = Background::image;  // what the overlays are drawn over
  int thumbnail_size = 2048;
  bool viewer = true;
  int workers = 1;  // threads for the viewer's pyramid
  PyramidWriter* pyramid = nullptr;  // the viewer's pyramid, started before the tiles (none: made at the end)
  // tiles.geojson: also each stitched map's regions at or above this fraction of its peak, as polygons.
  std::optional<double> contours;
};

// Everything else slide.json says (slide, model, methods, counts, timings), merged into it as given.
// Writes OUT/thumbnail.png (when missing), probability-<label>.npy, map-<method>.npy,
// overlay-<label>.png, overlay-<method>.png, tiles.csv, tiles.geojson (QuPath's objects:
// output/slide_geojson.hpp), and, with the viewer, index.html and viewer/.
// `tiles`: the journal's successful records, one per tile. Returns slide.json as written.
nlohmann::ordered_json write_slide_outputs(const Slide& slide, const cv::Mat& thumbnail, const cv::Mat& tissue_mask,
                                           const SlideLayout& layout,
                                           const SlideMaps& maps, const std::vector<Record>& tiles,
                                           const SlideRendering& rendering, nlohmann::ordered_json report,
                                           const std::string& out_dir);

}  // namespace xai
