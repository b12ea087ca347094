// xai slide: a whole-slide image, tile by tile, into probability maps, stitched explanations and a viewer.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>

#include <spdlog/spdlog.h>

#include "cli/annotation_flags.hpp"
#include "cli/commands.hpp"
#include "cli/figure_flags.hpp"
#include "cli/method_flags.hpp"
#include "cli/model_flags.hpp"
#include "cli/stop_signals.hpp"
#include "cli/validators.hpp"
#include "pipelines/slide_run.hpp"

namespace xai::cli {
namespace {

struct SlideFlags {
  ModelFlags model;
  MethodFlags method;
  std::string slide;
  std::string output_dir;
  int level = -1;
  double mpp = 0;
  int tile = 0;
  int tile_stride = 0;
  double min_tissue = defaults_of<SlideOptions>().min_tissue;
  double tissue_threshold = -1;
  std::string tissue_mask;
  int top_tiles = 0;
  int thumbnail_size = defaults_of<SlideOptions>().thumbnail_size;
  bool no_viewer = false;
  std::string shard;
  int batch_size = defaults_of<SlideOptions>().batch_size;
  int workers = 0;
  double contours = -1;
  AnnotationFlags annotations;
  FigureFlags figure;
};

// A bar on a terminal; a line every 10 s (and at the end) in logs.
void print_progress(const BatchProgress& p, bool tty, double& last) {
  if (p.finished == p.total && last == -1.0) return;  // the end was printed already
  if (!tty && p.seconds - last < 10.0 && p.finished != p.total) return;
  last = p.finished == p.total ? -1.0 : p.seconds;
  char line[200];
  std::snprintf(line, sizeof line, "%sxai: slide: %zu/%zu tiles (%.0f%%), %.1f tiles/s, %zu already done, %zu failed%s",
                tty ? "\r" : "", p.finished, p.total, p.total ? 100.0 * p.finished / p.total : 100.0, p.rate, p.skipped,
                p.failed, tty ? "   " : "\n");
  std::cerr << line << std::flush;
  if (tty && p.finished == p.total) std::cerr << "\n";
}

int run_slide_command(const SlideFlags& flags) {
  if (flags.level >= 0 && flags.mpp > 0) throw usage_error("--level and --mpp both say where to read tiles: give one");
  if (flags.method.figure_size != defaults_of<ExplainOptions>().figure_size && flags.top_tiles == 0)
    throw usage_error("--figure-size applies to the top tiles' figures: give --top-tiles K");
  if (flags.method.given("num_features") && flags.top_tiles == 0)
    throw usage_error("--num-features applies to the top tiles' region views: give --top-tiles K");
  if (flags.annotations.given() && !flags.shard.empty())
    throw usage_error("--annotations scores the whole slide; a shard has part of it: give --annotations to `xai merge`");
  const std::vector<GateCondition> gate = flags.annotations.parse();
  Model model = flags.model.load();
  SlideOptions options;
  options.explain = flags.method.to_options(model);
  flags.figure.apply(options.explain, flags.top_tiles > 0 ? "" : "the top tiles' figures: give --top-tiles K");
  options.output_dir = flags.output_dir;
  if (flags.level >= 0) options.level = flags.level;
  if (flags.mpp > 0) options.mpp = flags.mpp;
  options.tile = flags.tile;
  options.stride = flags.tile_stride;
  options.min_tissue = flags.min_tissue;
  if (flags.tissue_threshold >= 0 && !flags.tissue_mask.empty())
    throw usage_error("--tissue-threshold and --tissue-mask both say where the tissue is: give one");
  if (flags.tissue_threshold >= 0) options.tissue.threshold = flags.tissue_threshold;
  options.tissue.mask_path = flags.tissue_mask;
  options.top_tiles = flags.top_tiles;
  options.thumbnail_size = flags.thumbnail_size;
  options.viewer = !flags.no_viewer;
  if (flags.contours >= 0) options.contours = flags.contours;
  if (!flags.shard.empty()) options.shard = parse_shard(flags.shard);
  options.batch_size = flags.batch_size;
  options.workers = flags.workers;
  log_plan(options.explain, model);
  const bool quiet = spdlog::default_logger()->level() > spdlog::level::info;
  const bool tty = isatty(STDERR_FILENO);
  auto last = std::make_shared<double>(-1e9);
  if (!quiet) options.on_progress = [tty, last](const BatchProgress& p) { print_progress(p, tty, *last); };
  const StopSignals signals;
  options.stop = signals.flag();
  const SlideSummary summary = run_slide(model, flags.slide, options);
  for (const auto& warning : summary.warnings) spdlog::warn("slide: {}", warning);
  if (summary.stopped) {
    std::cerr << "xai: slide: stopped by " << signals.name() << " after " << summary.done
              << " of " << summary.progress.total << " tiles; maps so far written; the same command resumes -> "
              << flags.output_dir << "/slide.json\n";
    return signals.exit_code();
  }
  if (!quiet)
    std::cerr << "xai: slide: " << summary.tissue_tiles << " tissue tiles of " << summary.grid_tiles << " ("
              << summary.grid_tiles - summary.tissue_tiles << " not read: " << summary.glass_tiles << " glass, "
              << summary.below_min_tissue_tiles << " with tissue on less than --min-tissue " << flags.min_tissue
              << " of the tile; tissue by " << summary.tissue_found_by
              << (flags.tissue_mask.empty() ? ": lower --tissue-threshold keeps paler tissue, --tissue-mask gives yours"
                                            : "")
              << "); " << summary.explained
              << " explained, " << summary.progress.skipped << " already done, " << summary.progress.failed
              << " failed; maps explain '" << summary.target_label << "' -> " << flags.output_dir
              << (options.viewer && !options.shard ? "/index.html" : "/slide.json") << "\n";
  if (summary.code != ExitCode::ok && !summary.first_error.empty())
    std::cerr << "xai: error: " << summary.first_error << " (failed tiles are retried by the same command)\n";
  if (summary.code != ExitCode::ok) {
    if (flags.annotations.given())
      std::cerr << "xai: annotations: not scored: some tiles failed (the same command retries them, then scores)\n";
    return static_cast<int>(summary.code);
  }
  return flags.annotations.given() ? flags.annotations.score(flags.output_dir, gate) : 0;
}

}  // namespace

Command add_slide(CLI::App& app) {
  auto flags = std::make_shared<SlideFlags>();
  CLI::App* sub = app.add_subcommand(
      "slide", "Explain a whole-slide image (OpenSlide: .svs, .ndpi, .mrxs, pyramidal TIFF, ...) tile by tile: "
               "probability maps, stitched explanations and a deep-zoom viewer");
  flags->model.add_to(*sub);
  flags->method.add_to(*sub);
  sub->add_option("-o,--output-dir", flags->output_dir, "Output folder")->required();
  sub->add_option("--level", flags->level, "Read tiles from this pyramid level as it is (0: full resolution)")
      ->check(kNonNegative);
  sub->add_option("--mpp", flags->mpp,
                  "Read tiles at these microns per pixel (default: the card's \"mpp\", else level 0)")
      ->check(finite_between(0.01, 1000.0, "(0.01..1000)"));
  sub->add_option("--tile", flags->tile, "Tile side in pixels at the read resolution (default: the model's input size)")
      ->check(integer_at_least(8, "TILE"));
  sub->add_option("--tile-stride", flags->tile_stride,
                  "Pixels between tiles (default: the tile; smaller overlaps them, and the stitched map averages them). "
                  "--stride is occlusion's window stride")
      ->check(kPositive);
  sub->add_option("--min-tissue", flags->min_tissue, "Read a tile when at least this fraction of it is tissue")
      ->check(finite_between(0.0, 1.0, "[0,1]"))
      ->capture_default_str();
  sub->add_option("--tissue-threshold", flags->tissue_threshold,
                  "HSV saturation (0-255) above which a thumbnail pixel is tissue (default: Otsu's, at least 20; "
                  "lower keeps pale tissue)")
      ->check(finite_between(0.0, 255.0, "[0,255]"));
  sub->add_option("--tissue-mask", flags->tissue_mask,
                  "Your own tissue mask instead of detection: an image of the slide's shape (non-zero = tissue) or "
                  ".geojson polygons in level-0 pixels (QuPath's export)");
  sub->add_option("--top-tiles", flags->top_tiles,
                  "Also explain the K tiles most probable for the explained class at full resolution (top-tiles/)")
      ->check(kNonNegative);
  sub->add_option("--thumbnail-size", flags->thumbnail_size,
                  "Longest side of the thumbnail, the tissue mask and the overlays")
      ->check(integer_at_least(64, "SIZE"))
      ->capture_default_str();
  sub->add_flag("--no-viewer", flags->no_viewer, "Skip index.html and its deep-zoom pyramid");
  sub->add_option("--contours", flags->contours,
                  "tiles.geojson (QuPath's objects) also outlines each stitched map's regions at or above this "
                  "fraction of its peak, as annotation polygons")
      ->check(finite_between(0.01, 1.0, "(0,1]"));
  flags->annotations.add_to(*sub);
  flags->figure.add_to(*sub);
  sub->add_option("--shard", flags->shard, "I/N: this job's part of the tiles (0-based); `xai merge` joins the parts");
  sub->add_option("--batch-size", flags->batch_size, "Tiles per forward pass")->check(kPositive)->capture_default_str();
  sub->add_option("--workers", flags->workers, "Tile reading threads (default: one per core)")->check(kNonNegative);
  sub->add_option("slide", flags->slide, "The slide file")->required();
  return {sub, [flags] { return run_slide_command(*flags); }};
}

}  // namespace xai::cli
