// xai merge of a slide's shards (--shard I/N): their journals joined, and every output rebuilt from
// them as a single run would (slide_run.hpp).
#include <algorithm>
#include <filesystem>
#include <set>
#include <thread>

#include "analysis/tissue.hpp"
#include "core/file_read.hpp"
#include "input/slide.hpp"
#include "output/render.hpp"
#include "output/results_log.hpp"
#include "output/slide_outputs.hpp"
#include "output/slide_viewer.hpp"
#include "pipelines/slide_run.hpp"
#include "xai/atomic_file.hpp"

namespace xai {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

// Each shard's slide.json, refused unless every one is a slide run's report of the same run.
std::vector<json> read_shard_reports(const std::vector<std::string>& run_dirs) {
  std::vector<json> reports;
  for (const auto& dir : run_dirs) {
    const std::string path = (fs::path(dir) / "slide.json").string();
    json report = json::parse(read_regular_file(path, 256ull << 20, ExitCode::output), nullptr, false);
    if (report.is_discarded() || !report.is_object() || !report.contains("fingerprint") || !report["fingerprint"].is_string() ||
        !report.contains("layout") || !report.contains("slide") || !report["slide"].contains("file") ||
        !report["slide"]["file"].is_string() || !report.contains("identity") || !report.contains("counts"))
      throw output_error(path + ": not a slide run's report");
    if (!reports.empty() && report["fingerprint"] != reports.front()["fingerprint"])
      throw usage_error(path + ": another slide, model or tile layout than " + run_dirs.front() +
                        "/slide.json: only shards of one run merge");
    reports.push_back(std::move(report));
  }
  return reports;
}

// The slide the shards read: refused when its file changed since (their tiles would not be its).
Slide open_unchanged_slide(const json& first) {
  Slide slide = Slide::open(first["slide"]["file"].get<std::string>());
  if (slide_identity(slide) != first["identity"]["slide"].get<std::string>())
    throw input_error(first["slide"]["file"].get<std::string>() + ": the slide file changed since the shards read it");
  return slide;
}

// One journal of every shard's tiles, each tile once, written to `journal`. Returns how many failed
// tiles the shards' journals hold (they are left out).
size_t merge_journals(const std::vector<std::string>& run_dirs, const std::string& journal) {
  std::string text;
  std::set<std::string> keys;
  size_t failed = 0;
  for (const auto& dir : run_dirs)
    for (const auto& r : read_results((fs::path(dir) / "tiles.jsonl").string())) {
      if (r.value("status", "") != "ok") {
        ++failed;
        continue;
      }
      if (keys.insert(r["key"].get<std::string>()).second) text += r.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    }
  write_file_atomic(journal, text);
  return failed;
}

// The rendering the shards were asked for, from the first shard's report.
SlideRendering merged_rendering(const json& first, const std::string& first_dir) {
  if (!first.contains("rendering") || !first["rendering"].is_object())
    throw output_error(first_dir + "/slide.json: not a slide run's report (no rendering)");
  SlideRendering rendering;
  rendering.colormap = parse_colormap(first["rendering"].value("colormap", "viridis"));
  // Runs from before signed colour maps were chosen drew red-green: merged, they stay as they were drawn.
  rendering.signed_colormap = parse_signed_colormap(first["rendering"].value("signed_colormap", "red-green"));
  rendering.alpha = first["rendering"].value("alpha", 0.5);
  rendering.background = parse_background(first["rendering"].value("background", "image"));
  rendering.thumbnail_size = first["rendering"].value("thumbnail_size", 2048);
  if (first["rendering"].contains("contours") && first["rendering"]["contours"].is_number())
    rendering.contours = first["rendering"]["contours"].get<double>();
  rendering.workers = std::max(1u, std::thread::hardware_concurrency());
  return rendering;
}

// The shards' own top tiles, most probable first, each with the shard it came from ("from").
// `requested`: the K the shards were asked for; 0 when none was.
json gather_top_tiles(const std::vector<std::string>& run_dirs, std::vector<json>& reports, int& requested) {
  json top = json::array();
  for (size_t i = 0; i < run_dirs.size(); ++i) {
    if (!reports[i].contains("top_tiles")) continue;
    requested = reports[i]["top_tiles"]["requested"].get<int>();
    const std::string index = (fs::path(run_dirs[i]) / "top-tiles" / "top-tiles.json").string();
    const json list = json::parse(read_regular_file(index, 64ull << 20, ExitCode::output), nullptr, false);
    if (list.is_discarded() || !list.contains("tiles")) throw output_error(index + ": not readable");
    for (json t : list["tiles"]) {
      t["from"] = run_dirs[i];
      top.push_back(std::move(t));
    }
  }
  std::stable_sort(top.begin(), top.end(), [](const json& a, const json& b) {
    return a["probability"].get<double>() > b["probability"].get<double>();
  });
  return top;
}

// A top tile's file in the merged output: hard-linked from its shard (copied where a link cannot be
// made); a path that leaves the shard's folder is refused.
void link_top_tile_file(const fs::path& from_dir, const std::string& rel, const std::string& out_dir) {
  if (!is_contained_relative_path(rel)) throw output_error("top-tiles.json: a file outside the run: " + rel);
  const fs::path to = fs::path(out_dir) / rel;
  fs::create_directories(to.parent_path());
  fs::remove(to);
  std::error_code ec;
  fs::create_hard_link(from_dir / rel, to, ec);
  if (ec) fs::copy_file(from_dir / rel, to);
}

// Top tiles: the K most probable of the shards' own K best, their files linked (or copied).
void merge_top_tiles(const std::vector<std::string>& run_dirs, std::vector<json>& reports, const SlideMaps& maps,
                     const std::string& out_dir) {
  int requested = 0;
  json top = gather_top_tiles(run_dirs, reports, requested);
  if (requested <= 0) return;
  if (top.size() > static_cast<size_t>(requested)) top.erase(top.begin() + requested, top.end());
  fs::create_directories(fs::path(out_dir) / "top-tiles");
  for (auto& t : top) {
    for (const auto& f : t["files"]) link_top_tile_file(fs::path(t["from"].get<std::string>()), f.get<std::string>(), out_dir);
    t.erase("from");
  }
  write_file_atomic((fs::path(out_dir) / "top-tiles" / "top-tiles.json").string(),
                    json({{"class", maps.labels.at(maps.target)}, {"tiles", top}}).dump(2) + "\n");
}

// The merge's slide.json before its outputs: the first shard's, with counts for the whole slide.
json merged_report(const json& first, const std::vector<std::string>& run_dirs, size_t done, size_t failed) {
  json report = first;
  report.erase("outputs");
  report.erase("viewer");
  report["shard"] = nullptr;
  report["merged_from"] = run_dirs;
  const size_t tissue_tiles = first["counts"]["tissue_tiles"].get<size_t>();
  report["counts"]["shard_tiles"] = tissue_tiles;
  report["counts"]["done"] = done;
  report["counts"]["failed"] = failed;
  report["counts"].erase("explained_this_run");
  report["counts"].erase("already_done");
  report["complete"] = done == tissue_tiles;
  return report;
}

}  // namespace

size_t merge_slide_outputs(const std::vector<std::string>& run_dirs, const std::string& out_dir) {
  if (run_dirs.empty()) throw usage_error("merge: no slide outputs given");
  std::vector<json> reports = read_shard_reports(run_dirs);
  const json& first = reports.front();
  const Slide slide = open_unchanged_slide(first);
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec || !fs::is_directory(out_dir)) throw output_error(out_dir + ": cannot create output directory");
  const OutputLock lock(out_dir);
  const std::string journal = (fs::path(out_dir) / "tiles.jsonl").string();
  const size_t failed = merge_journals(run_dirs, journal);
  const std::vector<Record> done = journal_tiles(journal, first["fingerprint"].get<std::string>());
  SlideLayout layout = SlideLayout::from_json(first["layout"]);
  const SlideMaps maps = SlideMaps::from_json(first["maps"]);
  const SlideRendering rendering = merged_rendering(first, run_dirs.front());
  const cv::Mat thumbnail = slide.thumbnail(rendering.thumbnail_size, &layout.thumbnail_downsample);
  const TissueMask tissue =
      find_slide_tissue(slide, thumbnail, layout.thumbnail_downsample, tissue_settings_of(first.value("tissue", json())));
  write_file_atomic((fs::path(out_dir) / "thumbnail.png").string(), encode_png(thumbnail, "thumbnail.png"));
  write_file_atomic((fs::path(out_dir) / "tissue.png").string(), encode_png(tissue.mask, "tissue.png"));
  merge_top_tiles(run_dirs, reports, maps, out_dir);
  const json report = merged_report(first, run_dirs, done.size(), failed);
  write_slide_outputs(slide, thumbnail, tissue.mask, layout, maps, done, rendering, report, out_dir);
  return done.size();
}

}  // namespace xai
