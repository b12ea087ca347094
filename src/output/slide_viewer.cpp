#include "output/slide_viewer.hpp"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "xai/atomic_file.hpp"
#include "xai/error.hpp"
#include "output/figure.hpp"
#include "output/render.hpp"
#include "output/report.hpp"
#include "core/sha256.hpp"
#include "core/text.hpp"
#include "input/slide.hpp"

namespace xai {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;
constexpr int kTileSize = 256;

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw output_error(path.string() + ": cannot read (part of Debian's libjs-leaflet)");
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Leaflet's script, style sheet and the images the style sheet names, as files of OUT/viewer/leaflet/.
void copy_leaflet(const fs::path& viewer) {
  const fs::path from = leaflet_dir();
  fs::create_directories(viewer / "leaflet" / "images");
  for (const char* name : {"leaflet.js", "leaflet.css"})
    write_file_atomic((viewer / "leaflet" / name).string(), read_text(from / name), Durability::deferred);
  for (const char* name : {"layers.png", "layers-2x.png", "marker-icon.png", "marker-icon-2x.png", "marker-shadow.png"})
    if (fs::exists(from / "images" / name))
      write_file_atomic((viewer / "leaflet" / "images" / name).string(), read_text(from / "images" / name),
                        Durability::deferred);
}

// The deep-zoom pyramid over the tissue. Zoom `max_zoom` shows the slide at the tiles' resolution (one
// screen pixel per tile pixel); each zoom below halves it.
using Pyramid = ViewerPyramid;

Pyramid plan_pyramid(const SlideLayout& layout, const cv::Mat& tissue_mask) {
  Pyramid p;
  p.base_downsample = layout.downsample;
  const double side = std::max(layout.width, layout.height) / p.base_downsample;
  while (side / std::pow(2.0, p.max_zoom) > kTileSize) ++p.max_zoom;
  // A tile is written when any tissue (grown by a thumbnail pixel) falls in it.
  cv::Mat grown;
  cv::dilate(tissue_mask, grown, cv::Mat::ones(3, 3, CV_8UC1));
  cv::Mat integral;
  cv::integral(grown / 255, integral, CV_64F);
  p.tiles.resize(p.max_zoom + 1);
  for (int z = 0; z <= p.max_zoom; ++z) {
    const double level0 = kTileSize * std::pow(2.0, p.max_zoom - z) * p.base_downsample;  // a tile's side
    const int nx = static_cast<int>(std::ceil(layout.width / level0)), ny = static_cast<int>(std::ceil(layout.height / level0));
    for (int y = 0; y < ny; ++y)
      for (int x = 0; x < nx; ++x) {
        const double scale = 1.0 / layout.thumbnail_downsample;
        int x0 = static_cast<int>(std::floor(x * level0 * scale)), y0 = static_cast<int>(std::floor(y * level0 * scale));
        int x1 = static_cast<int>(std::ceil((x + 1) * level0 * scale)), y1 = static_cast<int>(std::ceil((y + 1) * level0 * scale));
        x0 = std::clamp(x0, 0, grown.cols - 1), y0 = std::clamp(y0, 0, grown.rows - 1);
        x1 = std::clamp(std::max(x1, x0 + 1), 1, grown.cols), y1 = std::clamp(std::max(y1, y0 + 1), 1, grown.rows);
        const double inside = integral.at<double>(y1, x1) - integral.at<double>(y0, x1) - integral.at<double>(y1, x0) +
                              integral.at<double>(y0, x0);
        if (inside > 0) p.tiles[z].push_back(std::to_string(x) + "_" + std::to_string(y));
      }
  }
  return p;
}

cv::Mat pyramid_tile(const Slide& slide, const SlideLayout& layout, const Pyramid& p, int z, int x, int y) {
  const double level0 = kTileSize * std::pow(2.0, p.max_zoom - z) * p.base_downsample;
  const double downsample = level0 / kTileSize;
  const int level = slide.level_for_downsample(downsample);
  const double level_ds = slide.info().levels[level].downsample;
  const int64_t x0 = static_cast<int64_t>(std::llround(x * level0)), y0 = static_cast<int64_t>(std::llround(y * level0));
  // Only what lies on the slide is read.
  const double w0 = std::min<double>(level0, layout.width - x0), h0 = std::min<double>(level0, layout.height - y0);
  const int read_w = std::max(1, static_cast<int>(std::ceil(w0 / level_ds))), read_h = std::max(1, static_cast<int>(std::ceil(h0 / level_ds)));
  const cv::Mat region = slide.read_region(x0, y0, level, read_w, read_h);
  const int out_w = std::clamp(static_cast<int>(std::lround(w0 / downsample)), 1, kTileSize);
  const int out_h = std::clamp(static_cast<int>(std::lround(h0 / downsample)), 1, kTileSize);
  // Past the slide's edge: the page's background (glass-gray), so an edge tile has no bright margin.
  cv::Mat tile(kTileSize, kTileSize, CV_8UC3, cv::Scalar(241, 243, 243));
  cv::Mat fitted;
  cv::resize(region, fitted, {out_w, out_h}, 0, 0, region.cols > out_w ? cv::INTER_AREA : cv::INTER_LINEAR);
  fitted.copyTo(tile(cv::Rect(0, 0, out_w, out_h)));
  return tile;
}

struct PyramidJob {
  int z, x, y;
};

std::vector<PyramidJob> pyramid_jobs(const Pyramid& p, const fs::path& dir) {
  std::vector<PyramidJob> jobs;
  for (int z = 0; z <= p.max_zoom; ++z) {
    fs::create_directories(dir / std::to_string(z));
    for (const auto& name : p.tiles[z]) {
      const size_t sep = name.find('_');
      jobs.push_back({z, std::stoi(name.substr(0, sep)), std::stoi(name.substr(sep + 1))});
    }
  }
  return jobs;
}

void write_pyramid_tile(const Slide& slide, const SlideLayout& layout, const Pyramid& p, const fs::path& dir,
                        const PyramidJob& job) {
  std::vector<uchar> jpeg;
  cv::imencode(".jpg", pyramid_tile(slide, layout, p, job.z, job.x, job.y), jpeg, {cv::IMWRITE_JPEG_QUALITY, 85});
  write_file_atomic((dir / std::to_string(job.z) / (std::to_string(job.x) + "_" + std::to_string(job.y) + ".jpg")).string(),
                    std::string(jpeg.begin(), jpeg.end()), Durability::deferred);
}

// The page: Leaflet with a pixel coordinate system (CRS.Simple): zoom `max_zoom` maps one tile pixel
// to one unit. #check (the tests) reports what loaded and every error into <pre id="viewer-check">.
const char* const kPage = R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>xai slide: @TITLE@</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="viewer/leaflet/leaflet.css">
<style>
html,body{margin:0;height:100%;font:14px system-ui,sans-serif}
#map{position:absolute;top:0;bottom:0;left:0;right:0;background:#f3f3f1}
.pixelated{image-rendering:pixelated}
.panel{background:#fff;padding:8px 10px;border-radius:5px;box-shadow:0 1px 5px rgba(0,0,0,.4);max-width:280px}
.panel h1{font-size:14px;margin:0 0 4px}
.bar{height:12px;border:1px solid #888;margin:4px 0 0}
.ends{display:flex;justify-content:space-between;font-size:12px}
</style></head><body>
<div id="map"></div>
<script>window.viewerErrors=[];window.addEventListener("error",e=>viewerErrors.push(String(e.message||e.type)),true);</script>
<script src="viewer/leaflet/leaflet.js"></script>
<script src="viewer/viewer-data.js"></script>
<script>
"use strict";
const D = VIEWER;
const map = L.map("map", {crs: L.CRS.Simple, minZoom: 0, maxZoom: D.maxZoom + 2, zoomSnap: 0.25});
// Level-0 slide pixels to map coordinates.
const at = (x, y) => map.unproject([x / D.baseDownsample, y / D.baseDownsample], D.maxZoom);
const slideBounds = L.latLngBounds(at(0, 0), at(D.width, D.height));
const present = D.tiles.map(names => new Set(names));
let tilesLoaded = 0, tilesFailed = 0;
const Pyramid = L.GridLayer.extend({
  createTile(c, done) {
    if (!present[c.z] || !present[c.z].has(c.x + "_" + c.y)) {  // glass: nothing was written
      const blank = document.createElement("div");
      setTimeout(() => done(null, blank), 0);
      return blank;
    }
    const img = document.createElement("img");
    img.alt = "";
    img.onload = () => { tilesLoaded++; done(null, img); };
    img.onerror = () => { tilesFailed++; viewerErrors.push("tile " + img.src); done(new Error("tile"), img); };
    img.src = "viewer/tiles/" + c.z + "/" + c.x + "_" + c.y + ".jpg";
    return img;
  }
});
const slide = new Pyramid({tileSize: 256, maxNativeZoom: D.maxZoom, bounds: slideBounds, noWrap: true}).addTo(map);
map.fitBounds(slideBounds);
const overlays = {};
const heat = [];
let heatLoaded = 0, heatFailed = 0;
D.layers.forEach((l, i) => {
  const layer = L.imageOverlay("viewer/" + l.file, L.latLngBounds(at(l.bounds[0], l.bounds[1]), at(l.bounds[0] + l.bounds[2], l.bounds[1] + l.bounds[3])),
                               {opacity: 0.5, className: l.pixelated ? "pixelated" : "", interactive: false});
  layer.on("load", () => heatLoaded++);
  layer.on("error", () => { heatFailed++; viewerErrors.push("layer " + l.file); });
  overlays[l.name] = layer;
  heat.push(layer);
  if (i === D.shown) layer.addTo(map);
});
L.control.layers(null, overlays, {collapsed: false}).addTo(map);
const Panel = L.Control.extend({
  onAdd() {
    const div = L.DomUtil.create("div", "panel");
    div.innerHTML = "<h1></h1><div id=info></div><label>opacity <input id=opacity type=range min=0 max=1 step=0.05 value=0.5></label><div id=legend></div>";
    div.querySelector("h1").textContent = D.title;
    div.querySelector("#info").textContent = D.info;
    L.DomEvent.disableClickPropagation(div);
    return div;
  }
});
new Panel({position: "bottomleft"}).addTo(map);
document.getElementById("opacity").addEventListener("input", e => heat.forEach(l => l.setOpacity(+e.target.value)));
function legend() {
  const shown = D.layers.filter(l => map.hasLayer(overlays[l.name]));
  const box = document.getElementById("legend");
  box.textContent = "";
  shown.forEach(l => {
    const name = document.createElement("div"); name.textContent = l.units;
    const bar = document.createElement("div"); bar.className = "bar"; bar.style.background = "linear-gradient(to right," + l.legend + ")";
    const ends = document.createElement("div"); ends.className = "ends";
    [l.low, l.high].forEach(t => { const s = document.createElement("span"); s.textContent = t; ends.appendChild(s); });
    box.append(name, bar, ends);
  });
}
map.on("overlayadd overlayremove", legend);
legend();
// A click names the tile under it and its probabilities.
map.on("click", e => {
  const p = map.project(e.latlng, D.maxZoom);
  const x = p.x * D.baseDownsample, y = p.y * D.baseDownsample;
  const step = D.stride * D.downsample, size = D.tile * D.downsample;
  const column = Math.round((x - size / 2) / step), row = Math.round((y - size / 2) / step);
  const t = D.data[column + "," + row];
  const lines = t ? ["tile " + column + "," + row + " (tissue " + Math.round(100 * t[t.length - 1]) + "%)"].concat(
                      D.labels.map((label, i) => "P(" + label + ") = " + t[i].toFixed(4)))
                  : ["no tile here: glass, too little tissue, or not read yet"];
  L.popup().setLatLng(e.latlng).setContent(lines.map(s => s.replace(/[&<>]/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;"})[c])).join("<br>")).openOn(map);
});
if (location.hash === "#check") {
  let reported = false;
  const report = () => {
    if (reported) return;
    reported = true;
    // A click at the centre of the tile most probable for the explained class, as a user's would be.
    let popup = "", clicked = "";
    const keys = Object.keys(D.data);
    if (keys.length) {
      clicked = keys.reduce((a, b) => D.data[b][D.target] > D.data[a][D.target] ? b : a);
      const [c, r] = clicked.split(",").map(Number);
      const half = D.tile * D.downsample / 2, step = D.stride * D.downsample;
      map.fire("click", {latlng: at(c * step + half, r * step + half)});
      const content = document.querySelector(".leaflet-popup-content");
      popup = content ? content.textContent : "";
    }
    const out = document.createElement("pre");
    out.id = "viewer-check";
    out.textContent = JSON.stringify({tilesLoaded, tilesFailed, heatLoaded, heatFailed, errors: viewerErrors, clicked, popup,
      layersShown: D.layers.filter(l => map.hasLayer(overlays[l.name])).map(l => l.name),
      heatImage: heat.filter(l => map.hasLayer(l)).map(l => l.getElement() ? l.getElement().naturalWidth : 0)});
    document.body.appendChild(out);
  };
  slide.on("load", () => setTimeout(report, 200));
  setTimeout(report, 8000);
}
</script></body></html>
)HTML";

}  // namespace

std::string leaflet_dir() {
  const char* env = std::getenv("XAI_LEAFLET_DIR");
  return env && *env ? env : "/usr/share/javascript/leaflet";
}

void require_leaflet() {
  const fs::path dir = leaflet_dir();
  if (!fs::is_regular_file(dir / "leaflet.js") || !fs::is_regular_file(dir / "leaflet.css"))
    throw usage_error("the slide viewer needs Leaflet (Debian's libjs-leaflet) in " + dir.string() +
                      ": install it, set XAI_LEAFLET_DIR, or pass " + setting_name("no_viewer"));
}

std::string slide_identity(const Slide& slide) {
  const SlideInfo& info = slide.info();
  const auto hash = info.properties.find("openslide.quickhash-1");
  if (hash != info.properties.end()) return "quickhash-1:" + hash->second;
  const auto dicom = info.properties.find("dicom.hash");
  if (dicom != info.properties.end()) return "dicom:" + dicom->second;
  std::string levels;
  for (const auto& l : info.levels) levels += std::to_string(l.width) + "x" + std::to_string(l.height) + ";";
  std::error_code ec;
  return "size:" + std::to_string(fs::file_size(info.path, ec)) + ";" + levels;
}

struct PyramidWriter::State {
  const Slide& slide;
  const SlideLayout layout;
  const fs::path viewer;
  Pyramid pyramid;
  json identity;
  bool reused = false;
  std::vector<PyramidJob> jobs;
  std::atomic<size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  std::thread background;

  State(const Slide& s, const SlideLayout& l, const fs::path& v) : slide(s), layout(l), viewer(v) {}

  // Takes tiles until none is left; the first error stops every thread.
  void work() {
    for (size_t i = next++; i < jobs.size(); i = next++) {
      try {
        write_pyramid_tile(slide, layout, pyramid, viewer / "tiles", jobs[i]);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        next = jobs.size();
      }
    }
  }
};

PyramidWriter::PyramidWriter(const Slide& slide, const SlideLayout& layout, const cv::Mat& tissue_mask,
                             const std::string& out_dir)
    : state_(std::make_unique<State>(slide, layout, fs::path(out_dir) / "viewer")) {
  State& st = *state_;
  st.pyramid = plan_pyramid(layout, tissue_mask);
  // The pyramid depends on the slide, the tile resolution and the tissue only: a resumed run or a
  // merge keeps the one already written.
  st.identity = {{"slide", slide_identity(slide)},
                 {"base_downsample", st.pyramid.base_downsample},
                 {"tiles", sha256_hex(json(st.pyramid.tiles).dump())}};
  const fs::path stamp = st.viewer / "pyramid.json";
  if (fs::exists(stamp)) {
    std::ifstream in(stamp);
    const json old = json::parse(in, nullptr, false);
    st.reused = !old.is_discarded() && old == st.identity;
  }
  if (!st.reused) {
    fs::remove(stamp);
    st.jobs = pyramid_jobs(st.pyramid, st.viewer / "tiles");
  }
}

PyramidWriter::~PyramidWriter() {
  state_->next = state_->jobs.size();
  if (state_->background.joinable()) state_->background.join();
}

void PyramidWriter::start_in_background() {
  State& st = *state_;
  if (st.jobs.empty() || st.background.joinable()) return;
  st.background = std::thread([&st] {
    // Below the model's threads: on a CPU the explanations keep their cores, and the pyramid takes
    // what they leave (on a GPU node, most of them). Linux gives each thread its own nice value; where
    // that is refused the thread just runs at the process's.
    static_cast<void>(setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10));
    st.work();
  });
}

json PyramidWriter::finish(int workers) {
  State& st = *state_;
  std::vector<std::thread> threads;
  const int helpers = st.jobs.empty() ? 0 : std::max(1, workers) - 1;  // a kept pyramid has nothing to write
  for (int w = 0; w < helpers; ++w) threads.emplace_back([&st] { st.work(); });
  st.work();
  for (auto& t : threads) t.join();
  if (st.background.joinable()) st.background.join();
  if (st.error) std::rethrow_exception(st.error);
  if (!st.reused) {
    sync_file_system(st.viewer.parent_path().string());
    write_file_atomic((st.viewer / "pyramid.json").string(), st.identity.dump(2) + "\n");
  }
  size_t count = 0;
  for (const auto& z : st.pyramid.tiles) count += z.size();
  return {{"levels", st.pyramid.max_zoom + 1}, {"tiles", count}, {"tile_size", kTileSize}, {"reused", st.reused}};
}

const ViewerPyramid& PyramidWriter::plan() const { return state_->pyramid; }

json write_slide_viewer(const Slide& slide, const SlideLayout& layout, const SlideMaps& maps,
                        const std::vector<Record>& tiles, const cv::Mat& tissue_mask,
                        const std::vector<ViewerLayer>& layers, int workers, const std::string& out_dir,
                        PyramidWriter* started) {
  require_leaflet();
  const fs::path viewer = fs::path(out_dir) / "viewer";
  fs::create_directories(viewer);
  copy_leaflet(viewer);
  std::unique_ptr<PyramidWriter> own;
  if (!started) own = std::make_unique<PyramidWriter>(slide, layout, tissue_mask, out_dir);
  PyramidWriter& writer = started ? *started : *own;
  const json pyramid_report = writer.finish(workers);
  const Pyramid& pyramid = writer.plan();

  json layer_list = json::array();
  int shown = -1;
  for (size_t i = 0; i < layers.size(); ++i) {
    const ViewerLayer& l = layers[i];
    write_file_atomic((viewer / l.file).string(), encode_png(l.rgba, l.file), Durability::deferred);
    layer_list.push_back({{"name", l.name}, {"file", l.file}, {"bounds", {l.bounds.x, l.bounds.y, l.bounds.width, l.bounds.height}},
                          {"pixelated", l.pixelated}, {"legend", l.legend}, {"low", l.low}, {"high", l.high}, {"units", l.units}});
    if (shown < 0 && !l.pixelated) shown = static_cast<int>(i);  // a stitched map first, else a probability map
  }
  if (shown < 0 && !layers.empty()) shown = static_cast<int>(layers.size()) - 1;
  json data = json::object();
  for (const auto& t : tiles) {
    json values = json::array();
    for (const auto& label : maps.labels) values.push_back(t.at("probabilities").value(label, 0.0));
    values.push_back(t.at("tissue"));
    data[std::to_string(t.at("tile").at(0).get<int>()) + "," + std::to_string(t.at("tile").at(1).get<int>())] = values;
  }
  const std::string slide_name = fs::path(slide.info().path).filename().string();
  const json viewer_data = {{"title", slide_name},
                            {"info", std::to_string(tiles.size()) + " tiles of " + std::to_string(layout.tile) + " px" +
                                         (layout.mpp ? " at " + short_number(*layout.mpp) + " µm/px" : "") +
                                         "; explained class: " + maps.labels.at(maps.target)},
                            {"width", layout.width},
                            {"height", layout.height},
                            {"maxZoom", pyramid.max_zoom},
                            {"baseDownsample", pyramid.base_downsample},
                            {"downsample", layout.downsample},
                            {"tile", layout.tile},
                            {"stride", layout.stride},
                            {"labels", maps.labels},
                            {"target", maps.target},
                            {"tiles", pyramid.tiles},
                            {"layers", layer_list},
                            {"shown", shown},
                            {"data", data}};
  write_file_atomic((viewer / "viewer-data.js").string(),
                    "const VIEWER = " + viewer_data.dump(-1, ' ', false, json::error_handler_t::replace) + ";\n",
                    Durability::deferred);
  std::string page = kPage;
  const std::string title_token = "@TITLE@";
  page.replace(page.find(title_token), title_token.size(), markup_escaped(slide_name));
  sync_file_system(out_dir);
  write_file_atomic((fs::path(out_dir) / "index.html").string(), page);
  return {{"page", "index.html"},
          {"library", "Leaflet (Debian's libjs-leaflet), copied into viewer/leaflet/"},
          {"pyramid", pyramid_report}};
}

}  // namespace xai
