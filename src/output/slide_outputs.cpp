#include "output/slide_outputs.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <sstream>

#include "xai/atomic_file.hpp"
#include "xai/error.hpp"
#include "output/figure.hpp"
#include "output/print_figure.hpp"
#include "output/gallery.hpp"
#include "output/npy.hpp"
#include "input/slide.hpp"
#include "output/slide_geojson.hpp"
#include "output/slide_viewer.hpp"
#include "core/file_read.hpp"
#include "core/text.hpp"

namespace xai {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;
constexpr float kNoData = std::numeric_limits<float>::quiet_NaN();

std::string path_in(const std::string& dir, const std::string& name) { return (fs::path(dir) / name).string(); }

// Each tile's own cell: the stride-wide square at its centre (the whole tile when tiles do not
// overlap), so overlapping tiles' cells tile the slide without covering each other.
cv::Rect2d own_cell(const SlideLayout& layout, int column, int row) {
  const double step = layout.stride * layout.downsample, inset = (layout.tile - layout.stride) / 2.0 * layout.downsample;
  return {column * step + inset, row * step + inset, step, step};
}

cv::Rect to_pixels(const cv::Rect2d& level0, double downsample, const cv::Size& size) {
  const int x0 = static_cast<int>(std::lround(level0.x / downsample)), y0 = static_cast<int>(std::lround(level0.y / downsample));
  const int x1 = static_cast<int>(std::lround((level0.x + level0.width) / downsample));
  const int y1 = static_cast<int>(std::lround((level0.y + level0.height) / downsample));
  return cv::Rect(x0, y0, std::max(1, x1 - x0), std::max(1, y1 - y0)) & cv::Rect(0, 0, size.width, size.height);
}

// Values (NaN where there is none) drawn over `background` with `scale`; the rest left as it is.
cv::Mat draw_over(const cv::Mat& background, const cv::Mat& values, const ColourScale& scale) {
  const cv::Mat covered = values == values;  // not NaN
  cv::Mat filled = values.clone();
  filled.setTo(0, ~covered);
  cv::Mat drawn;
  if (scale.kind == ColourScale::Kind::signed_) {
    drawn = render_signed_map(background, filled, scale.high, scale.signed_colormap);
  } else {
    cv::Mat levels = (filled - scale.low) / std::max(1e-12, scale.high - scale.low);
    levels = cv::max(cv::min(levels, 1.0), 0.0);
    drawn = overlay(background, levels, scale.colormap, scale.alpha);
  }
  cv::Mat out = background.clone();
  drawn.copyTo(out, covered);
  return out;
}

// A map at another size: values averaged where covered, NaN where less than half of a pixel is.
cv::Mat resized_with_gaps(const cv::Mat& values, const cv::Size& size) {
  const cv::Mat covered = values == values;
  cv::Mat filled = values.clone(), weight;
  filled.setTo(0, ~covered);
  covered.convertTo(weight, CV_32FC1, 1.0 / 255);
  const int interpolation = size.area() < values.size().area() ? cv::INTER_AREA : cv::INTER_LINEAR;
  cv::Mat sum_r, weight_r;
  cv::resize(filled, sum_r, size, 0, 0, interpolation);
  cv::resize(weight, weight_r, size, 0, 0, interpolation);
  cv::Mat out(size, CV_32FC1, cv::Scalar(kNoData));
  for (int y = 0; y < size.height; ++y)
    for (int x = 0; x < size.width; ++x)
      if (weight_r.at<float>(y, x) >= 0.5f) out.at<float>(y, x) = sum_r.at<float>(y, x) / weight_r.at<float>(y, x);
  return out;
}

// A signed value's colour on white: the sign's colour of the scale's map, as strong as |value| / limit.
cv::Vec3b diverging_colour(double value, const ColourScale& scale) {
  const double t = std::clamp(value / std::max(1e-12, scale.high), -1.0, 1.0);
  const cv::Vec3b end = t >= 0 ? positive_colour(scale.signed_colormap) : negative_colour(scale.signed_colormap);
  cv::Vec3b c;
  for (int k = 0; k < 3; ++k) c[k] = cv::saturate_cast<uchar>(255 + std::abs(t) * (end[k] - 255.0));
  return c;
}

// RGBA for the viewer: the scale's colours, opaque where there is a value.
cv::Mat layer_rgba(const cv::Mat& values, const ColourScale& scale) {
  const cv::Mat covered = values == values;
  cv::Mat filled = values.clone();
  filled.setTo(0, ~covered);
  cv::Mat bgr;
  if (scale.kind == ColourScale::Kind::signed_) {
    // Diverging through white in the overlays' colours (the run's signed colour map).
    bgr.create(values.size(), CV_8UC3);
    for (int y = 0; y < values.rows; ++y)
      for (int x = 0; x < values.cols; ++x) bgr.at<cv::Vec3b>(y, x) = diverging_colour(filled.at<float>(y, x), scale);
  } else {
    cv::Mat levels = (filled - scale.low) / std::max(1e-12, scale.high - scale.low);
    bgr = colorize(cv::max(cv::min(levels, 1.0), 0.0), scale.colormap);
  }
  cv::Mat rgba;
  cv::cvtColor(bgr, rgba, cv::COLOR_BGR2RGBA);
  std::vector<cv::Mat> channels;
  cv::split(rgba, channels);
  channels[3] = covered.clone();
  cv::merge(channels, rgba);
  return rgba;
}

// CSS gradient stops of a scale, low to high.
std::string legend_of(const ColourScale& scale) {
  std::string stops;
  for (int i = 0; i <= 10; ++i) {
    const double v = scale.low + (scale.high - scale.low) * i / 10.0;
    cv::Vec3b c;
    if (scale.kind == ColourScale::Kind::signed_) {
      c = diverging_colour(v, scale);
    } else {
      c = colorize(cv::Mat(1, 1, CV_32FC1, cv::Scalar(i / 10.0)), scale.colormap).at<cv::Vec3b>(0, 0);
    }
    char text[32];
    std::snprintf(text, sizeof text, "%s#%02x%02x%02x %d%%", i ? "," : "", c[2], c[1], c[0], i * 10);
    stops += text;
  }
  return stops;
}

// What every output of one slide is drawn from.
struct SlideOutputContext {
  const SlideLayout& layout;
  const SlideMaps& maps;
  const std::vector<Record>& tiles;
  const SlideRendering& rendering;
  const std::string& out_dir;
  cv::Size thumb_size;
  cv::Mat background;      // the thumbnail as overlays are drawn over it
  std::string slide_name;  // the figures' caption
};

// Per class: one probability per tile, NaN where no tile was read (glass, or not yet done).
std::vector<cv::Mat> probability_grids(const SlideOutputContext& s) {
  std::vector<cv::Mat> grids;
  for (size_t c = 0; c < s.maps.labels.size(); ++c)
    grids.emplace_back(std::max(1, s.layout.rows), std::max(1, s.layout.columns), CV_32FC1, cv::Scalar(kNoData));
  for (const auto& t : s.tiles) {
    const int column = t.at("tile").at(0).get<int>(), row = t.at("tile").at(1).get<int>();
    if (column < 0 || row < 0 || column >= s.layout.columns || row >= s.layout.rows) continue;
    for (size_t c = 0; c < s.maps.labels.size(); ++c)
      grids[c].at<float>(row, column) = t.at("probabilities").value(s.maps.labels[c], kNoData);
  }
  return grids;
}

// Each tile's own cell on the thumbnail, NaN where no tile was read.
cv::Mat grid_on_thumbnail(const cv::Mat& grid, const SlideLayout& layout, const cv::Size& thumb_size) {
  cv::Mat on_thumb(thumb_size, CV_32FC1, cv::Scalar(kNoData));
  for (int r = 0; r < layout.rows; ++r)
    for (int k = 0; k < layout.columns; ++k)
      if (const float p = grid.at<float>(r, k); p == p)
        on_thumb(to_pixels(own_cell(layout, k, r), layout.thumbnail_downsample, thumb_size)).setTo(p);
  return on_thumb;
}

// The viewer's layer of one class: a block per tile over the tiles' cells.
ViewerLayer probability_layer(const SlideLayout& layout, const cv::Mat& grid, const ColourScale& scale,
                              const std::string& label, const std::string& file_label) {
  ViewerLayer layer;
  layer.name = "P(" + label + ")";
  layer.file = "probability-" + file_label + ".png";
  layer.rgba = layer_rgba(grid, scale);
  const cv::Rect2d first = own_cell(layout, 0, 0);
  layer.bounds = cv::Rect2d(first.x, first.y, first.width * layout.columns, first.height * layout.rows);
  layer.pixelated = true;
  layer.legend = legend_of(scale);
  layer.low = "0", layer.high = "1", layer.units = scale.units;
  return layer;
}

// probability-LABEL.npy and overlay-LABEL.png per class; returns slide.json's "probabilities".
json write_probability_maps(const SlideOutputContext& s, std::vector<ViewerLayer>& layers) {
  json files = json::object();
  const std::vector<cv::Mat> grids = probability_grids(s);
  for (size_t c = 0; c < s.maps.labels.size(); ++c) {
    const std::string label = file_safe(s.maps.labels[c]);
    const std::string npy = "probability-" + label + ".npy", png = "overlay-" + label + ".png";
    write_npy(path_in(s.out_dir, npy), grids[c].ptr<float>(), {static_cast<size_t>(grids[c].rows), static_cast<size_t>(grids[c].cols)});
    const cv::Mat on_thumb = grid_on_thumbnail(grids[c], s.layout, s.thumb_size);
    ColourScale scale;
    scale.colormap = s.rendering.colormap;
    scale.alpha = s.rendering.alpha;
    scale.units = "P(" + s.maps.labels[c] + ")";
    write_file_atomic(path_in(s.out_dir, png),
                      print_figure({draw_over(s.background, on_thumb, scale)}, {"P(" + s.maps.labels[c] + ") per tile"},
                                   {s.slide_name, std::to_string(s.tiles.size()) + " tiles of " +
                                                      std::to_string(s.layout.tile) + " px"},
                                   &scale, 0, FigureFormat::png, 0));
    files[s.maps.labels[c]] = {{"map", npy}, {"overlay", png}};
    layers.push_back(probability_layer(s.layout, grids[c], scale, s.maps.labels[c], label));
  }
  return files;
}

// A method's tiles' maps on the canvas: their sum and how many tiles cover each pixel.
struct Stitched {
  cv::Mat values;  // overlapping tiles averaged; NaN where no tile lies
  cv::Mat weight;
};

Stitched stitch_tile_maps(const SlideLayout& layout, const std::vector<Record>& tiles, const std::string& method) {
  const cv::Size canvas_size(layout.canvas_width, layout.canvas_height);
  cv::Mat sum(canvas_size, CV_32FC1, cv::Scalar(0)), weight(canvas_size, CV_32FC1, cv::Scalar(0));
  for (const auto& t : tiles) {
    if (!t.contains("maps") || !t["maps"].contains(method)) continue;
    cv::Rect rect;
    const cv::Mat values = decode_tile_map(t["maps"][method], &rect);
    if ((rect & cv::Rect(0, 0, canvas_size.width, canvas_size.height)) != rect)
      throw output_error("tiles.jsonl: a tile's map lies outside the slide's canvas");
    sum(rect) += values;
    weight(rect) += 1.0;
  }
  cv::Mat stitched(canvas_size, CV_32FC1, cv::Scalar(kNoData));
  cv::divide(sum, weight, stitched);
  stitched.setTo(kNoData, weight == 0);
  return {stitched, weight};
}

// One scale for the whole slide: 0..the largest value (a signed map: symmetric around 0).
ColourScale stitched_scale(const Stitched& map, const SlideRendering& rendering, const std::string& units, bool is_signed) {
  double lo = 0, hi = 0;
  if (cv::countNonZero(map.weight) > 0) cv::minMaxLoc(map.values, &lo, &hi, nullptr, nullptr, map.weight > 0);
  ColourScale scale;
  scale.colormap = rendering.colormap;
  scale.signed_colormap = rendering.signed_colormap;
  scale.alpha = rendering.alpha;
  scale.units = units;
  if (is_signed) {
    scale.kind = ColourScale::Kind::signed_;
    const double limit = std::max({std::abs(lo), std::abs(hi), 1e-12});
    scale.low = -limit, scale.high = limit;
  } else {
    scale.low = std::min(0.0, lo), scale.high = hi > scale.low ? hi : scale.low + 1;
  }
  return scale;
}

// The peak of the stitched map, in level-0 pixels: where on the slide the map is strongest.
json stitched_peak(const Stitched& map, double canvas_downsample) {
  cv::Point peak;
  cv::Mat finite = map.values.clone();
  finite.setTo(-std::numeric_limits<float>::infinity(), map.weight == 0);
  cv::minMaxLoc(finite, nullptr, nullptr, nullptr, &peak);
  return {{"value", finite.at<float>(peak)},
          {"x", (peak.x + 0.5) * canvas_downsample},
          {"y", (peak.y + 0.5) * canvas_downsample}};
}

// The viewer's layer of one method: the stitched map over the whole canvas.
ViewerLayer stitched_layer(const SlideLayout& layout, const Stitched& map, const ColourScale& scale,
                           const std::string& method, const std::string& file_name) {
  ViewerLayer layer;
  layer.name = method;
  layer.file = "map-" + file_name + ".png";
  layer.rgba = layer_rgba(map.values, scale);
  layer.bounds = cv::Rect2d(0, 0, layout.canvas_width * layout.canvas_downsample, layout.canvas_height * layout.canvas_downsample);
  layer.legend = legend_of(scale);
  layer.low = short_number(scale.low), layer.high = short_number(scale.high), layer.units = scale.units;
  return layer;
}

// Per method: the tiles' maps stitched on the canvas, overlapping tiles averaged, as map-METHOD.npy
// and overlay-METHOD.png; returns slide.json's "maps".
json write_stitched_maps(const SlideOutputContext& s, std::vector<ViewerLayer>& layers,
                         std::vector<StitchedMapView>& stitched) {
  json files = json::object();
  for (size_t m = 0; m < s.maps.methods.size(); ++m) {
    const std::string& method = s.maps.methods[m];
    const Stitched map = stitch_tile_maps(s.layout, s.tiles, method);
    const std::string name = file_safe(method);
    const std::string npy = "map-" + name + ".npy", png = "overlay-" + name + ".png";
    write_npy(path_in(s.out_dir, npy), map.values.ptr<float>(), {static_cast<size_t>(map.values.rows), static_cast<size_t>(map.values.cols)});
    const ColourScale scale = stitched_scale(map, s.rendering, s.maps.units[m], s.maps.is_signed[m]);
    const cv::Mat on_thumb = resized_with_gaps(map.values, s.thumb_size);
    write_file_atomic(path_in(s.out_dir, png),
                      print_figure({draw_over(s.background, on_thumb, scale)},
                                   {method + " for " + s.maps.labels[s.maps.target] + ", stitched"},
                                   {s.slide_name, std::to_string(s.tiles.size()) + " tiles; overlapping tiles averaged"},
                                   &scale, 0, FigureFormat::png, 0));
    files[method] = {{"map", npy}, {"overlay", png}, {"scale", {scale.low, scale.high}}, {"units", scale.units}};
    if (cv::countNonZero(map.weight) > 0) files[method]["peak"] = stitched_peak(map, s.layout.canvas_downsample);
    layers.push_back(stitched_layer(s.layout, map, scale, method, name));
    stitched.push_back({method, map.values, static_cast<bool>(s.maps.is_signed[m])});
  }
  return files;
}

// The tiles with a result in grid order: row by row, left to right.
std::vector<const Record*> in_grid_order(const std::vector<Record>& tiles) {
  std::vector<const Record*> ordered;
  for (const auto& t : tiles) ordered.push_back(&t);
  std::sort(ordered.begin(), ordered.end(), [](const Record* a, const Record* b) {
    return std::make_pair(a->at("tile").at(1).get<int>(), a->at("tile").at(0).get<int>()) <
           std::make_pair(b->at("tile").at(1).get<int>(), b->at("tile").at(0).get<int>());
  });
  return ordered;
}

// tiles.csv: a row per tile with a result, in grid order.
void write_tiles_csv(const SlideOutputContext& s) {
  const std::vector<const Record*> ordered = in_grid_order(s.tiles);
  write_file_atomic(path_in(s.out_dir, "tiles.csv"), [&](std::ostream& out) {
    out << "column,row,x,y,size,tissue";
    for (const auto& label : s.maps.labels) out << "," << csv_field("p_" + label);
    for (const auto& method : s.maps.methods) out << "," << csv_field(method + "_peak") << "," << csv_field(method + "_mean");
    out << "\n";
    out.precision(7);
    for (const Record* t : ordered) {
      out << t->at("tile").at(0).get<int>() << "," << t->at("tile").at(1).get<int>() << "," << t->at("x").get<int64_t>()
          << "," << t->at("y").get<int64_t>() << "," << std::lround(s.layout.footprint()) << "," << t->at("tissue").get<double>();
      for (const auto& label : s.maps.labels) out << "," << t->at("probabilities").value(label, kNoData);
      for (const auto& method : s.maps.methods) {
        if (t->contains("maps") && (*t)["maps"].contains(method))
          out << "," << (*t)["maps"][method].value("peak", 0.0) << "," << (*t)["maps"][method].value("mean", 0.0);
        else
          out << ",,";
      }
      out << "\n";
    }
  });
}

// The explained top tiles (top-tiles/top-tiles.json, written before the outputs), or none.
json top_tiles_of(const json& report, const std::string& out_dir) {
  if (!report.contains("top_tiles")) return json::array();
  const std::string index = path_in(out_dir, report["top_tiles"].value("index", "top-tiles/top-tiles.json"));
  std::error_code ec;
  if (!fs::is_regular_file(index, ec)) return json::array();
  const json top = json::parse(read_regular_file(index, 64ull << 20, ExitCode::output), nullptr, false);
  return top.is_object() && top.contains("tiles") && top["tiles"].is_array() ? top["tiles"] : json::array();
}

}  // namespace

cv::Rect SlideLayout::canvas_rect(int64_t x0, int64_t y0) const {
  const cv::Rect2d footprint(static_cast<double>(x0), static_cast<double>(y0), this->footprint(), this->footprint());
  return to_pixels(footprint, canvas_downsample, {canvas_width, canvas_height});
}

cv::Mat stitched_map(const SlideLayout& layout, const std::vector<Record>& tiles, const std::string& method) {
  return stitch_tile_maps(layout, tiles, method).values;
}

cv::Mat probability_canvas(const SlideLayout& layout, const std::vector<Record>& tiles, const std::string& label) {
  const cv::Size canvas_size(layout.canvas_width, layout.canvas_height);
  cv::Mat sum(canvas_size, CV_32FC1, cv::Scalar(0)), weight(canvas_size, CV_32FC1, cv::Scalar(0));
  for (const auto& t : tiles) {
    const double p = t.at("probabilities").value(label, std::numeric_limits<double>::quiet_NaN());
    if (!(p == p)) continue;
    const cv::Rect rect = layout.canvas_rect(t.at("x").get<int64_t>(), t.at("y").get<int64_t>());
    sum(rect) += p;
    weight(rect) += 1.0;
  }
  cv::Mat canvas;
  cv::divide(sum, weight, canvas);
  canvas.setTo(kNoData, weight == 0);
  return canvas;
}

json SlideLayout::to_json() const {
  return {{"level", level},
          {"level_downsample", level_downsample},
          {"downsample", downsample},
          {"mpp", mpp ? json(*mpp) : json(nullptr)},
          {"resolution_from", resolution_from},
          {"tile", tile},
          {"stride", stride},
          {"read_side", read_side},
          {"columns", columns},
          {"rows", rows},
          {"min_tissue", min_tissue},
          {"size", {width, height}},
          {"thumbnail_downsample", thumbnail_downsample},
          {"canvas", {{"downsample", canvas_downsample}, {"size", {canvas_width, canvas_height}}}}};
}

SlideLayout SlideLayout::from_json(const json& j) {
  try {
    SlideLayout l;
    l.level = j.at("level").get<int>();
    l.level_downsample = j.at("level_downsample").get<double>();
    l.downsample = j.at("downsample").get<double>();
    if (!j.at("mpp").is_null()) l.mpp = j.at("mpp").get<double>();
    l.resolution_from = j.at("resolution_from").get<std::string>();
    l.tile = j.at("tile").get<int>();
    l.stride = j.at("stride").get<int>();
    l.read_side = j.at("read_side").get<int>();
    l.columns = j.at("columns").get<int>();
    l.rows = j.at("rows").get<int>();
    l.min_tissue = j.at("min_tissue").get<double>();
    l.width = j.at("size").at(0).get<int64_t>();
    l.height = j.at("size").at(1).get<int64_t>();
    l.thumbnail_downsample = j.at("thumbnail_downsample").get<double>();
    l.canvas_downsample = j.at("canvas").at("downsample").get<double>();
    l.canvas_width = j.at("canvas").at("size").at(0).get<int>();
    l.canvas_height = j.at("canvas").at("size").at(1).get<int>();
    if (l.tile < 1 || l.stride < 1 || l.columns < 0 || l.rows < 0 || l.canvas_width < 1 || l.canvas_height < 1 ||
        !(l.downsample > 0) || !(l.canvas_downsample > 0))
      throw std::invalid_argument("values out of range");
    return l;
  } catch (const std::exception& e) {
    throw output_error(std::string("slide.json: the tile layout is not readable (") + first_line(e.what()) + ")");
  }
}

json SlideMaps::to_json() const {
  json methods_json = json::array();
  for (size_t m = 0; m < methods.size(); ++m)
    methods_json.push_back({{"method", methods[m]}, {"units", units[m]}, {"signed", static_cast<bool>(is_signed[m])}});
  return {{"labels", labels}, {"target", {{"index", target}, {"label", labels.at(target)}}}, {"methods", methods_json}};
}

SlideMaps SlideMaps::from_json(const json& j) {
  try {
    SlideMaps m;
    m.labels = j.at("labels").get<std::vector<std::string>>();
    m.target = j.at("target").at("index").get<int>();
    for (const auto& entry : j.at("methods")) {
      m.methods.push_back(entry.at("method").get<std::string>());
      m.units.push_back(entry.at("units").get<std::string>());
      m.is_signed.push_back(entry.at("signed").get<bool>());
    }
    if (m.target < 0 || m.target >= static_cast<int>(m.labels.size())) throw std::invalid_argument("target out of range");
    return m;
  } catch (const std::exception& e) {
    throw output_error(std::string("slide.json: the maps' description is not readable (") + first_line(e.what()) + ")");
  }
}

json encode_tile_map(const cv::Rect& rect, const cv::Mat& values) {
  CV_Assert(values.type() == CV_32FC1 && values.isContinuous() && values.size() == rect.size());
  double lo, hi;
  cv::minMaxLoc(values, &lo, &hi);
  return {{"rect", {rect.x, rect.y, rect.width, rect.height}},
          {"peak", hi},
          {"mean", cv::mean(values)[0]},
          {"values", base64_encode(std::string(reinterpret_cast<const char*>(values.data), values.total() * sizeof(float)))}};
}

cv::Mat decode_tile_map(const json& entry, cv::Rect* rect) {
  try {
    const auto& r = entry.at("rect");
    *rect = cv::Rect(r.at(0).get<int>(), r.at(1).get<int>(), r.at(2).get<int>(), r.at(3).get<int>());
    const std::string bytes = base64_decode(entry.at("values").get<std::string>());
    if (rect->width < 1 || rect->height < 1 || bytes.size() != static_cast<size_t>(rect->area()) * sizeof(float))
      throw std::invalid_argument("the values do not fill the rectangle");
    cv::Mat values(rect->size(), CV_32FC1);
    std::memcpy(values.data, bytes.data(), bytes.size());
    return values;
  } catch (const std::exception& e) {
    throw output_error(std::string("tiles.jsonl: a tile's map is not readable (") + first_line(e.what()) + ")");
  }
}

json write_slide_outputs(const Slide& slide, const cv::Mat& thumbnail, const cv::Mat& tissue_mask,
                         const SlideLayout& layout, const SlideMaps& maps, const std::vector<Record>& tiles,
                         const SlideRendering& rendering, json report, const std::string& out_dir) {
  const auto start = std::chrono::steady_clock::now();
  const SlideOutputContext context{layout, maps, tiles, rendering, out_dir, thumbnail.size(),
                                   overlay_background(thumbnail, rendering.background),
                                   fs::path(slide.info().path).filename().string()};
  json outputs = json::object();
  std::vector<ViewerLayer> layers;
  outputs["probabilities"] = write_probability_maps(context, layers);
  std::vector<StitchedMapView> stitched;
  outputs["maps"] = write_stitched_maps(context, layers, stitched);
  write_tiles_csv(context);
  outputs["tiles"] = "tiles.csv";
  write_file_atomic(path_in(out_dir, "tiles.geojson"),
                    slide_geojson(layout, maps, tiles, top_tiles_of(report, out_dir), stitched, rendering.contours).dump() + "\n");
  outputs["geojson"] = "tiles.geojson";
  // A score against annotations described the outputs as they were; rebuilt, they are scored anew.
  std::error_code ec;
  fs::remove(path_in(out_dir, "annotations.json"), ec);
  outputs["thumbnail"] = "thumbnail.png";
  outputs["tissue"] = "tissue.png";

  if (rendering.viewer) {
    report["viewer"] =
        write_slide_viewer(slide, layout, maps, tiles, tissue_mask, layers, rendering.workers, out_dir, rendering.pyramid);
    outputs["viewer"] = "index.html";
  }
  report["layout"] = layout.to_json();
  report["maps"] = maps.to_json();
  report["outputs"] = outputs;
  report["timings"]["outputs_seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  write_file_atomic(path_in(out_dir, "slide.json"), report.dump(2, ' ', false, json::error_handler_t::replace) + "\n");
  return report;
}

}  // namespace xai
