// xai slide: a whole-slide image through the model tile by tile. Tissue is found on a thumbnail; only
// tiles over tissue are read, at the resolution the model was trained at, decoded and preprocessed
// on worker threads and explained in batches (the batch pipeline's stages: explain.hpp). Each tile's
// result is journaled (OUT/tiles.jsonl) as soon as it is computed, so a killed run resumes where it
// stopped and shards (--shard I/N) of one slide merge into the same outputs as a single run. From the
// journal come a probability map per class, each method's map stitched over the slide (overlapping
// tiles averaged), overlays on the thumbnail, tiles.csv, slide.json and a deep-zoom viewer.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "xai/batch.hpp"
#include "xai/error.hpp"
#include "xai/explain_options.hpp"
#include "xai/inputs.hpp"
#include "xai/model.hpp"
#include "xai/prepared_image.hpp"
#include "output/slide_outputs.hpp"

namespace xai {

struct TissueMask;  // analysis/tissue.hpp

// Where the tissue is: detected on the thumbnail (Otsu's saturation threshold, or a fixed one for pale
// stains), or the user's own mask (an image or GeoJSON polygons: src/input/tissue_mask.hpp).
struct TissueSettings {
  std::optional<double> threshold;  // HSV saturation 0..255 (--tissue-threshold); none: Otsu, at least 20
  std::string mask_path;            // --tissue-mask; empty: detected
};

struct SlideOptions {
  ExplainOptions explain;  // methods (one map each: one layer, one class), rendering; output_dir unused
  std::string output_dir;
  std::optional<int> level;   // read this pyramid level as it is (--level)
  std::optional<double> mpp;  // read at these microns per pixel (--mpp); neither: the card's "mpp", else level 0
  int tile = 0;               // tile side in pixels at the read resolution; 0: the model's input size
  int stride = 0;             // between tiles at the read resolution; 0: the tile (no overlap)
  double min_tissue = 0.5;    // a tile is read when at least this fraction of it is tissue
  TissueSettings tissue;      // how tissue is found (detected, or the user's mask)
  int top_tiles = 0;          // also explain the K most probable tiles at full resolution (OUT/top-tiles/)
  int thumbnail_size = 2048;  // longest side of the thumbnail, tissue mask and overlays
  bool viewer = true;         // OUT/index.html with a deep-zoom pyramid of the slide
  std::optional<double> contours;  // tiles.geojson: each stitched map's regions >= this fraction of its peak
  std::optional<Shard> shard; // this job's part of the tiles (tile index modulo N)
  int batch_size = 8;
  int workers = 0;            // tile readers; 0: one per core
  std::function<void(const BatchProgress&)> on_progress;
  const std::atomic<int>* stop = nullptr;  // as BatchOptions::stop
};

struct SlideSummary {
  BatchProgress progress;     // over this run's tiles (this shard's tissue tiles)
  size_t grid_tiles = 0;      // tiles of the whole grid
  size_t tissue_tiles = 0;    // of which over tissue (all shards)
  size_t glass_tiles = 0;     // not read: no tissue on them
  size_t below_min_tissue_tiles = 0;  // not read: some tissue, less than min_tissue of the tile
  std::string tissue_found_by;        // "Otsu's saturation threshold 51", "a saturation threshold of 40", "PATH"
  size_t explained = 0;       // by this run
  size_t done = 0;            // tiles with a result in the journal (this run's and earlier ones')
  std::string target_label;   // the class every map explains
  ExitCode code = ExitCode::ok;
  std::string first_error;
  bool stopped = false;
  std::vector<std::string> warnings;
};

// Throws input_error (unreadable slide), usage_error (a resolution the slide cannot give, options that
// contradict each other), model/layer errors from planning. Per-tile failures are counted, journaled
// and retried by the next run.
SlideSummary run_slide(Model& model, const std::string& slide_path, const SlideOptions& options);

// The tile at level-0 (x, y) as the run reads it (the layout's level and resolution), prepared for
// the model. Throws input_error when OpenSlide cannot read it.
PreparedImage prepare_slide_tile(const Slide& slide, const SlideLayout& layout, int64_t x, int64_t y, const ModelCard& card);

// Whether DIR holds a slide run's outputs (its slide.json).
bool is_slide_output(const std::string& dir);

// A finished (or partial) slide run's tiles with a result, as the outputs are drawn from them, and its
// slide.json in `report`. Throws input_error when `run_dir` holds no slide run.
std::vector<Record> slide_run_tiles(const std::string& run_dir, nlohmann::ordered_json* report);

// Shared by a run and a merge of its shards (slide_merge.cpp), so that both find the same tiles
// (slide_layout.cpp):
// Which level tiles are read from and at what resolution (--level as it is, else --mpp or the card's
// mpp: the nearest level at or above that resolution, resized, else level 0), the tile grid and the
// stitched map's canvas. Throws usage_error for a resolution or grid the slide cannot give.
SlideLayout plan_slide_layout(const Slide& slide, const SlideOptions& options, const ModelCard& card,
                              std::vector<std::string>& warnings);
// The tissue on the thumbnail (at `thumbnail_downsample` of level 0): the user's mask, else detected.
TissueMask find_slide_tissue(const Slide& slide, const cv::Mat& thumbnail, double thumbnail_downsample,
                             const TissueSettings& settings);
// slide.json's account of the tissue: where it came from, so a merge finds the same tiles.
nlohmann::ordered_json tissue_report_section(const TissueSettings& settings, const TissueMask& tissue);
// The settings slide.json's "tissue" section records.
TissueSettings tissue_settings_of(const nlohmann::ordered_json& section);
// The journal's tiles as records for the outputs: the stitched maps under "maps", each tile once, and
// only results of the run's settings (`fingerprint`).
std::vector<Record> journal_tiles(const std::string& journal, const std::string& fingerprint);

// Combines shard outputs of one slide (same slide, model and settings; checked) into `out_dir`: the
// journals are joined and every output is rebuilt from them as a single run would; top tiles are the
// best of the shards' own (each shard kept its K best, so the K best of all are among them). Needs the
// slide file (its path in the shards' slide.json), not the model. Returns the tiles with a result.
size_t merge_slide_outputs(const std::vector<std::string>& run_dirs, const std::string& out_dir);

}  // namespace xai
