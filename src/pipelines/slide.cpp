#include "pipelines/slide_run.hpp"

#include <opencv2/imgproc.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <mutex>
#include <thread>

#include "pipelines/staged_run.hpp"
#include "pipelines/helper_threads.hpp"
#include "xai/atomic_file.hpp"
#include "xai/explain.hpp"
#include "output/figure.hpp"
#include "core/file_read.hpp"
#include "output/render.hpp"
#include "output/report.hpp"
#include "output/results_log.hpp"
#include "core/sha256.hpp"
#include "input/slide.hpp"
#include "input/stain.hpp"
#include "output/slide_outputs.hpp"
#include "output/slide_viewer.hpp"
#include "core/text.hpp"
#include "analysis/tissue.hpp"

namespace xai {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// The class every tile's map explains: one for the whole slide (a map per tile's own predicted class
// would stitch different questions into one picture).
int slide_target(const ExplainOptions& options, const std::vector<std::string>& labels) {
  const TargetSpec& target = options.cam.target;
  if (target.kind == TargetSpec::Kind::given) return target.class_index;
  if (target.kind == TargetSpec::Kind::top_k || target.kind == TargetSpec::Kind::above)
    throw usage_error("slide: " + (target.kind == TargetSpec::Kind::top_k ? setting_name("top_k") : setting_name("targets")) +
                      " explains several classes per tile; a stitched map needs one: pass " + setting_name("target_class"));
  if (labels.size() == 2) return 1;  // a binary model: the positive class (benign/malignant: malignant)
  throw usage_error("slide: the model has " + std::to_string(labels.size()) +
                    " classes and a stitched map explains one: pass " + setting_name("target_class") + " LABEL");
}

// The stitched units of a method's map: CAM maps are brought back to their raw scale (each tile's
// map is normalised on its own), so tiles compare; the others are in their method's units already.
std::string map_units(const ExplanationMethod& method) {
  if (method.needs().layer) return "raw " + method.name() + ", one scale for all tiles";
  return method.name() + " value";
}

cv::Mat comparable_values(const DenseMap& map, const ExplanationMethod& method) {
  if (method.needs().layer && map.details.contains("raw_range")) {
    const double lo = map.details["raw_range"][0].get<double>(), hi = map.details["raw_range"][1].get<double>();
    cv::Mat raw;
    map.values.convertTo(raw, CV_32FC1, hi - lo, lo);
    return raw;
  }
  return map.values;
}

// A tile's journal key: its place and everything its result depends on (SlideRun::plan's identity).
std::string tile_key(const std::string& fingerprint, int column, int row) {
  return sha256_hex(fingerprint + '\n' + std::to_string(column) + ',' + std::to_string(row));
}

// The journal's name of a tile ("input"): one line per tile survives a compaction.
std::string tile_name(int column, int row) { return "tile " + std::to_string(column) + "," + std::to_string(row); }

}  // namespace

namespace {

struct TileItem {
  size_t index = 0;  // into the run's tiles
  std::optional<PreparedImage> prepared;
  std::optional<std::string> error;
};

using TileDone = StagedRun<TileItem>::Done;

class SlideRun {
 public:
  SlideRun(Model& model, const std::string& slide_path, const SlideOptions& options)
      : model_(model), options_(options), slide_(Slide::open(slide_path)), start_(Clock::now()) {}

  SlideSummary run();

 private:
  void plan();
  void find_tissue();
  std::string key_of(const Tile& tile) const { return tile_key(fingerprint_, tile.column, tile.row); }
  TileItem read_tile(size_t i) const;
  void write_group(std::vector<TileDone>& group, ResultsLog& log);
  Record tile_record(const Tile& tile, const ComputedExplanation& computed, const PreparedImage& prepared) const;
  void finish(bool complete);
  void write_top_tiles(const std::vector<Record>& done);
  void report_progress();
  bool stop_requested() const { return options_.stop && options_.stop->load() != 0; }

  Model& model_;
  const SlideOptions& options_;
  Slide slide_;
  const Clock::time_point start_;
  ExplainPlan plan_;
  SlideLayout layout_;
  SlideMaps maps_;
  std::string fingerprint_;
  json identity_;
  cv::Mat thumbnail_;
  TissueMask tissue_;
  std::vector<Tile> all_tiles_;  // over tissue, every shard's
  std::vector<Tile> tiles_;      // this shard's
  SlideSummary summary_;
  json timings_ = json::object();
  double model_seconds_ = 0;
  std::atomic<size_t> skipped_{0};  // tiles already done (in the journal)
  PyramidWriter* pyramid_ = nullptr;  // the viewer's pyramid, written while the tiles are explained (run)
};

void SlideRun::plan() {
  ExplainOptions explain = options_.explain;
  const int target = slide_target(explain, model_.labels());
  explain.cam.target = TargetSpec{TargetSpec::Kind::given, target, 1};
  plan_ = plan_explanations(model_, explain);
  if (plan_.layers.size() > 1)
    throw usage_error("slide: one map per method is stitched: give one layer (-l), not " + std::to_string(plan_.layers.size()));
  for (const auto& warning : slide_.info().warnings) summary_.warnings.push_back(warning);
  layout_ = plan_slide_layout(slide_, options_, plan_.card, summary_.warnings);
  maps_.labels = plan_.labels;
  maps_.target = target;
  for (const auto* method : plan_.methods) {
    maps_.methods.push_back(method->name());
    maps_.units.push_back(map_units(*method));
    maps_.is_signed.push_back(method->map_kind().is_signed);
  }
  summary_.target_label = plan_.labels.at(target);
  json methods = json::array();
  for (size_t m = 0; m < plan_.methods.size(); ++m) methods.push_back(result_identity(plan_, m, model_.sha256()));
  // Every tile's result depends on these: a rerun with any of them changed starts over.
  identity_ = {{"slide", slide_identity(slide_)}, {"methods", methods}, {"target", target},
               {"layout", {{"level", layout_.level}, {"downsample", layout_.downsample}, {"tile", layout_.tile},
                           {"stride", layout_.stride}, {"canvas_downsample", layout_.canvas_downsample}}}};
  fingerprint_ = sha256_hex(identity_.dump());
}

void SlideRun::find_tissue() {
  const auto t = Clock::now();
  thumbnail_ = slide_.thumbnail(options_.thumbnail_size, &layout_.thumbnail_downsample);
  tissue_ = find_slide_tissue(slide_, thumbnail_, layout_.thumbnail_downsample, options_.tissue);
  SkippedTiles skipped;
  all_tiles_ = tissue_tiles(layout_.width, layout_.height, layout_.downsample, layout_.tile, layout_.stride, tissue_.mask,
                            layout_.thumbnail_downsample, options_.min_tissue, &skipped);
  if (plan_.card.stain && !plan_.card.stain->source) {
    // One set of source stains for the whole slide, from its tissue on the thumbnail: every tile is mapped
    // alike (a tile's own estimate would make neighbouring tiles' colours jump).
    cv::Mat thumbnail01;
    thumbnail_.convertTo(thumbnail01, CV_32FC3, 1.0 / 255);
    plan_.card.stain->source = estimate_stains(thumbnail01, slide_.info().path + " (its thumbnail's tissue)", tissue_.mask);
  }
  summary_.tissue_found_by = !options_.tissue.mask_path.empty() ? options_.tissue.mask_path
                            : options_.tissue.threshold ? "a saturation threshold of " + short_number(tissue_.threshold)
                                                        : "Otsu's saturation threshold " + short_number(tissue_.threshold);
  summary_.glass_tiles = skipped.glass;
  summary_.below_min_tissue_tiles = skipped.below_min_tissue;
  for (const Tile& tile : all_tiles_) {
    const size_t index = static_cast<size_t>(tile.row) * layout_.columns + tile.column;
    if (!options_.shard || static_cast<int>(index % options_.shard->count) == options_.shard->index) tiles_.push_back(tile);
  }
  summary_.grid_tiles = static_cast<size_t>(layout_.columns) * layout_.rows;
  summary_.tissue_tiles = all_tiles_.size();
  summary_.progress.total = tiles_.size();
  timings_["tissue_seconds"] = seconds_since(t);
}

// Reads one tile at the layout's resolution and prepares it for the model (on a reader thread).
TileItem SlideRun::read_tile(size_t i) const {
  TileItem item;
  item.index = i;
  const Tile& tile = tiles_[i];
  try {
    item.prepared = prepare_slide_tile(slide_, layout_, tile.x, tile.y, plan_.card);
  } catch (const std::exception& e) {
    item.error = first_line(e.what());
  }
  return item;
}

Record SlideRun::tile_record(const Tile& tile, const ComputedExplanation& computed, const PreparedImage& prepared) const {
  const Prediction& prediction = computed.results.front().prediction;
  json probabilities = json::object();
  for (size_t c = 0; c < plan_.labels.size(); ++c) probabilities[plan_.labels[c]] = prediction.probabilities.at(c);
  json tile_maps = json::object();
  const cv::Rect rect = layout_.canvas_rect(tile.x, tile.y);
  for (size_t m = 0; m < plan_.methods.size(); ++m) {
    const MethodResult& result = computed.results.at(m);
    for (const DenseMap& map : dense_maps(result, display_size(prepared))) {
      if (map.class_index != maps_.target) continue;
      cv::Mat values = comparable_values(map, *plan_.methods[m]), small;
      cv::resize(values, small, rect.size(), 0, 0, cv::INTER_AREA);
      tile_maps[plan_.methods[m]->name()] = encode_tile_map(rect, small.isContinuous() ? small : small.clone());
      break;
    }
  }
  return {{"key", key_of(tile)},          {"input", tile_name(tile.column, tile.row)},
          {"method", "slide"},            {"status", "ok"},
          {"tile", {tile.column, tile.row}}, {"x", tile.x},
          {"y", tile.y},                  {"tissue", tile.tissue},
          {"probabilities", probabilities}, {"stitch", tile_maps}};
}

// The writer: each group's records appended to the journal (synced) as soon as they are computed.
void SlideRun::write_group(std::vector<TileDone>& group, ResultsLog& log) {
  {
    std::vector<Record> records;
    for (TileDone& d : group) {
      const Tile& tile = tiles_[d.item.index];
      if (!d.computed) {
        records.push_back({{"key", key_of(tile)}, {"input", tile_name(tile.column, tile.row)}, {"method", "slide"},
                           {"status", "error"}, {"tile", {tile.column, tile.row}},
                           {"error", d.item.error.value_or("failed")}});
        summary_.progress.failed += 1;
        if (summary_.first_error.empty())
          summary_.first_error = slide_.info().path + ": tile " + std::to_string(tile.column) + "," +
                                 std::to_string(tile.row) + ": " + d.item.error.value_or("failed");
      } else {
        records.push_back(tile_record(tile, *d.computed, *d.item.prepared));
        summary_.explained += 1;
      }
    }
    log.append(records);
    report_progress();
  }
}

void SlideRun::report_progress() {
  summary_.progress.skipped = skipped_.load();
  summary_.progress.finished = summary_.explained + summary_.progress.failed + summary_.progress.skipped;
  summary_.progress.seconds = seconds_since(start_);
  summary_.progress.rate = summary_.progress.seconds > 0 ? summary_.explained / summary_.progress.seconds : 0;
  if (options_.on_progress) options_.on_progress(summary_.progress);
}

// A tile line as the run writes it (a journal edited by hand, or another tool's, is not trusted).
bool is_tile_record(const Record& r) {
  const auto integer = [](const Record& v) { return v.is_number_integer(); };
  if (r.value("status", "") != "ok" || !r.contains("tile") || !r["tile"].is_array() || r["tile"].size() != 2 ||
      !integer(r["tile"][0]) || !integer(r["tile"][1]) || !r.contains("x") || !integer(r["x"]) || !r.contains("y") ||
      !integer(r["y"]) || !r.contains("tissue") || !r["tissue"].is_number() || !r.contains("probabilities") ||
      !r.contains("stitch") || !r["stitch"].is_object())
    return false;
  for (const auto& [label, p] : r["probabilities"].items())
    if (!p.is_number()) return false;
  for (const auto& [method, m] : r["stitch"].items())
    if (!m.is_object() || !m.contains("peak") || !m["peak"].is_number() || !m.contains("mean") || !m["mean"].is_number())
      return false;
  return true;
}

}  // namespace

// The journal's tiles as records for the outputs: the stitched maps under "maps", each tile once, and
// only results of this run's settings (`fingerprint`): lines an earlier run with other settings left
// for tiles not redone yet are not mixed in.
std::vector<Record> journal_tiles(const std::string& journal, const std::string& fingerprint) {
  std::vector<Record> tiles;
  std::set<std::string> seen;
  for (auto& r : read_results(journal)) {
    if (!is_tile_record(r)) continue;
    if (r["key"] != tile_key(fingerprint, r["tile"][0].get<int>(), r["tile"][1].get<int>())) continue;
    if (!seen.insert(r["key"].get<std::string>()).second) continue;
    r["maps"] = std::move(r["stitch"]);
    r.erase("stitch");
    tiles.push_back(std::move(r));
  }
  return tiles;
}

namespace {

json slide_section(const Slide& slide) {
  const SlideInfo& info = slide.info();
  json levels = json::array();
  for (const auto& l : info.levels) levels.push_back({{"size", {l.width, l.height}}, {"downsample", l.downsample}});
  return {{"file", info.path},
          {"format", info.vendor},
          {"levels", levels},
          {"mpp", info.mpp_x ? json({*info.mpp_x, info.mpp_y.value_or(*info.mpp_x)}) : json(nullptr)},
          {"objective_power", info.objective_power ? json(*info.objective_power) : json(nullptr)},
          {"properties", info.properties}};
}

void SlideRun::write_top_tiles(const std::vector<Record>& done) {
  // This run's tiles only (a shard's own best: the best of all shards are among them).
  std::map<std::pair<int, int>, size_t> mine;
  for (size_t i = 0; i < tiles_.size(); ++i) mine[{tiles_[i].column, tiles_[i].row}] = i;
  std::vector<std::pair<double, size_t>> ranked;
  for (const auto& r : done) {
    const auto at = mine.find({r["tile"][0].get<int>(), r["tile"][1].get<int>()});
    if (at != mine.end()) ranked.push_back({r["probabilities"].value(maps_.labels[maps_.target], 0.0), at->second});
  }
  std::sort(ranked.begin(), ranked.end(), [&](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  ranked.resize(std::min<size_t>(ranked.size(), options_.top_tiles));
  const fs::path dir = fs::path(options_.output_dir) / "top-tiles";
  fs::create_directories(dir);
  ExplainPlan plan = plan_;
  plan.options.figures = true;
  json list = json::array();
  for (size_t rank = 0; rank < ranked.size(); ++rank) {
    const Tile& tile = tiles_[ranked[rank].second];
    TileItem item = read_tile(ranked[rank].second);
    if (!item.prepared) throw input_error(slide_.info().path + ": top tile " + std::to_string(tile.column) + "," +
                                          std::to_string(tile.row) + ": " + item.error.value_or("unreadable"));
    const std::string stem = "c" + std::to_string(tile.column) + "-r" + std::to_string(tile.row);
    const ComputedExplanation computed = std::move(compute_explanations(model_, plan, {&*item.prepared}).front());
    const ExplainOutcome outcome = write_explanation(*item.prepared, computed, plan, {dir.string(), stem});
    json files = json::array();
    for (const auto& f : outcome.files) files.push_back(fs::path(f).lexically_relative(options_.output_dir).generic_string());
    list.push_back({{"tile", {tile.column, tile.row}}, {"x", tile.x}, {"y", tile.y},
                    {"probability", ranked[rank].first}, {"files", files}});
  }
  write_file_atomic((dir / "top-tiles.json").string(),
                    json({{"class", maps_.labels[maps_.target]}, {"tiles", list}}).dump(2) + "\n");
}

void SlideRun::finish(bool complete) {
  const auto t = Clock::now();
  const std::string journal = (fs::path(options_.output_dir) / "tiles.jsonl").string();
  const std::vector<Record> done = journal_tiles(journal, fingerprint_);
  summary_.done = done.size();
  if (complete && options_.top_tiles > 0) write_top_tiles(done);
  timings_["top_tiles_seconds"] = seconds_since(t);
  timings_["model_seconds"] = model_seconds_;
  timings_["tiles_seconds"] = summary_.progress.seconds;
  timings_["tiles_per_second"] = summary_.progress.seconds > 0 ? summary_.explained / summary_.progress.seconds : 0;
  json methods = json::array();
  for (size_t m = 0; m < plan_.methods.size(); ++m)
    methods.push_back({{"method", plan_.methods[m]->name()}, {"parameters", plan_.parameters[m]}});
  json report = {
      {"xai_version", xai_version()},
      {"slide", slide_section(slide_)},
      {"model", with_current_checks(plan_.model, model_)},
      {"methods", methods},
      {"identity", identity_},
      {"fingerprint", fingerprint_},
      {"tissue", tissue_report_section(options_.tissue, tissue_)},
      {"shard", options_.shard ? json(std::to_string(options_.shard->index) + "/" + std::to_string(options_.shard->count))
                               : json(nullptr)},
      {"counts", {{"grid_tiles", summary_.grid_tiles},
                  {"tissue_tiles", summary_.tissue_tiles},
                  {"background_tiles_not_read", summary_.grid_tiles - summary_.tissue_tiles},
                  {"not_read", {{"glass", summary_.glass_tiles},
                                {"below_min_tissue", summary_.below_min_tissue_tiles},
                                {"why", "glass: no tissue on the tile; below_min_tissue: tissue on less than " +
                                            setting_name("min_tissue") + " " + short_number(options_.min_tissue) +
                                            " of the tile (see tissue.png)"}}},
                  {"shard_tiles", tiles_.size()},
                  {"done", summary_.done},
                  {"explained_this_run", summary_.explained},
                  {"already_done", summary_.progress.skipped},
                  {"failed", summary_.progress.failed}}},
      {"complete", complete && summary_.progress.failed == 0},
      {"warnings", summary_.warnings},
      {"timings", timings_}};
  if (plan_.card.stain) report["stain_normalization"] = stain_json(*plan_.card.stain);
  if (options_.top_tiles > 0) report["top_tiles"] = {{"requested", options_.top_tiles}, {"index", "top-tiles/top-tiles.json"}};
  SlideRendering rendering;
  rendering.colormap = plan_.options.colormap;
  rendering.signed_colormap = plan_.options.signed_colormap;
  rendering.alpha = plan_.options.alpha;
  rendering.background = plan_.options.background;
  rendering.thumbnail_size = options_.thumbnail_size;
  rendering.contours = options_.contours;
  // Shards leave the viewer to the merge: its pyramid covers every shard's tissue alike.
  rendering.viewer = options_.viewer && !options_.shard && complete;
  rendering.workers = options_.workers > 0 ? options_.workers : std::max(1u, std::thread::hardware_concurrency());
  rendering.pyramid = pyramid_;
  report["rendering"] = {{"colormap", to_string(rendering.colormap)},
                         {"signed_colormap", to_string(rendering.signed_colormap)}, {"alpha", rendering.alpha},
                         {"background", to_string(rendering.background)}, {"thumbnail_size", rendering.thumbnail_size},
                         {"contours", rendering.contours ? json(*rendering.contours) : json(nullptr)}};
  report["run"] = {{"batch_size", options_.batch_size}, {"workers", options_.workers}, {"min_tissue", options_.min_tissue},
                   {"viewer", options_.viewer}};
  write_slide_outputs(slide_, thumbnail_, tissue_.mask, layout_, maps_, done, rendering, report, options_.output_dir);
}

SlideSummary SlideRun::run() {
  plan();
  if (options_.viewer && !options_.shard) require_leaflet();  // before hours of tiles, not after
  find_tissue();  // before any output: a tissue mask that cannot be read leaves nothing behind
  std::error_code ec;
  fs::create_directories(options_.output_dir, ec);
  if (ec || !fs::is_directory(options_.output_dir))
    throw output_error(options_.output_dir + ": cannot create output directory");
  const OutputLock lock(options_.output_dir);
  remove_stale_temporaries(options_.output_dir);
  const std::string out = options_.output_dir;
  write_file_atomic((fs::path(out) / "thumbnail.png").string(), encode_png(thumbnail_, "thumbnail.png"));
  write_file_atomic((fs::path(out) / "tissue.png").string(), encode_png(tissue_.mask, "tissue.png"));
  // Shards leave the viewer to the merge (finish).
  // Declared after the lock: a run that stops or fails abandons the pyramid before it lets go of OUT.
  std::unique_ptr<PyramidWriter> pyramid;
  if (options_.viewer && !options_.shard) {
    pyramid = std::make_unique<PyramidWriter>(slide_, layout_, tissue_.mask, out);
    pyramid->start_in_background();
    pyramid_ = pyramid.get();
  }
  const std::string journal = (fs::path(options_.output_dir) / "tiles.jsonl").string();
  {
    ResultsLog log(journal);
    StagedRun<TileItem>::Stages stages;
    stages.inputs = tiles_.size();
    stages.readers = options_.workers;
    stages.batch_size = options_.batch_size;
    stages.stop = options_.stop;
    stages.read = [this, &log](size_t i) -> std::optional<TileItem> {
      if (log.done(key_of(tiles_[i]))) {
        ++skipped_;
        return std::nullopt;
      }
      return read_tile(i);
    };
    stages.ready = [](const TileItem& item) { return !item.error; };
    stages.compute = [this](const std::vector<TileItem*>& items) {
      std::vector<const PreparedImage*> images;
      for (auto* item : items) images.push_back(&*item->prepared);
      return compute_explanations(model_, plan_, images);
    };
    stages.failed = [](TileItem& item, const std::exception& e) { item.error = first_line(e.what()); };
    stages.write = [this, &log](std::vector<TileDone>& group) { write_group(group, log); };
    StagedRun<TileItem> staged(std::move(stages));
    staged.run();
    summary_.stopped = staged.stopped();
    model_seconds_ = staged.model_seconds();
  }
  // A tile redone with other settings leaves one line, the latest.
  compact_journal(journal);
  report_progress();
  const bool complete = !summary_.stopped;
  finish(complete);
  if (summary_.code == ExitCode::ok && summary_.progress.failed > 0) summary_.code = ExitCode::partial;
  return summary_;
}

}  // namespace

SlideSummary run_slide(Model& model, const std::string& slide_path, const SlideOptions& options) {
  SlideRun run(model, slide_path, options);
  return run.run();
}

bool is_slide_output(const std::string& dir) {
  std::error_code ec;
  return fs::is_regular_file(fs::path(dir) / "slide.json", ec) && fs::is_regular_file(fs::path(dir) / "tiles.jsonl", ec);
}

std::vector<Record> slide_run_tiles(const std::string& run_dir, json* report) {
  if (!is_slide_output(run_dir)) throw input_error(run_dir + ": not a slide run's outputs (no slide.json and tiles.jsonl)");
  const std::string report_path = (fs::path(run_dir) / "slide.json").string();
  *report = json::parse(read_regular_file(report_path, 256ull << 20, ExitCode::input), nullptr, false);
  if (report->is_discarded() || !report->is_object() || !(*report)["fingerprint"].is_string())
    throw input_error(report_path + ": not a slide run's report (no fingerprint)");
  return journal_tiles((fs::path(run_dir) / "tiles.jsonl").string(), (*report)["fingerprint"].get<std::string>());
}

}  // namespace xai
