#include "output/slide_geojson.hpp"

#include <opencv2/imgproc.hpp>

#include <array>
#include <cmath>
#include <limits>

#include "output/figure.hpp"

namespace xai {
namespace {

using json = nlohmann::ordered_json;

// Distinct colours for QuPath's classes (RGB), in the order the classes are listed.
const std::vector<std::array<int, 3>> kClassColours = {{0, 114, 178}, {230, 159, 0}, {0, 158, 115}, {204, 121, 167},
                                                       {86, 180, 233}, {213, 94, 0},  {240, 228, 66}, {0, 0, 0}};

json class_colour(size_t index) {
  const auto& c = kClassColours[index % kClassColours.size()];
  return {c[0], c[1], c[2]};
}

json square(double x, double y, double side) {
  return json::array({json::array({{x, y}, {x + side, y}, {x + side, y + side}, {x, y + side}, {x, y}})});
}

json feature(const char* object_type, const std::string& name, json geometry, json classification, json measurements) {
  json properties = {{"objectType", object_type}, {"name", name}};
  if (!classification.is_null()) properties["classification"] = std::move(classification);
  if (!measurements.is_null()) properties["measurements"] = std::move(measurements);
  return {{"type", "Feature"}, {"geometry", std::move(geometry)}, {"properties", std::move(properties)}};
}

std::string tile_name(int column, int row) { return "tile " + std::to_string(column) + "," + std::to_string(row); }

// A tile object per tile: its footprint, classified as its most probable class, with its numbers.
json tile_feature(const Record& t, const SlideLayout& layout, const SlideMaps& maps) {
  const int column = t.at("tile").at(0).get<int>(), row = t.at("tile").at(1).get<int>();
  json measurements = {{"column", column}, {"row", row}, {"tissue fraction", t.at("tissue").get<double>()}};
  size_t predicted = 0;
  double best = -1;
  for (size_t c = 0; c < maps.labels.size(); ++c) {
    const double p = t.at("probabilities").value(maps.labels[c], std::numeric_limits<double>::quiet_NaN());
    measurements["P(" + maps.labels[c] + ")"] = p;
    if (p > best) best = p, predicted = c;
  }
  for (const auto& method : maps.methods)
    if (t.contains("maps") && t["maps"].contains(method)) {
      measurements[method + " peak"] = t["maps"][method].value("peak", 0.0);
      measurements[method + " mean"] = t["maps"][method].value("mean", 0.0);
    }
  const json geometry = {{"type", "Polygon"},
                         {"coordinates", square(static_cast<double>(t.at("x").get<int64_t>()),
                                                static_cast<double>(t.at("y").get<int64_t>()), layout.footprint())}};
  return feature("tile", tile_name(column, row), geometry,
                 {{"name", maps.labels[predicted]}, {"color", class_colour(predicted)}}, measurements);
}

json top_tile_feature(const json& tile, size_t rank, const SlideLayout& layout, const SlideMaps& maps) {
  const std::string& label = maps.labels[maps.target];
  const double p = tile.value("probability", 0.0);
  const json geometry = {{"type", "Polygon"},
                         {"coordinates", square(static_cast<double>(tile.at("x").get<int64_t>()),
                                                static_cast<double>(tile.at("y").get<int64_t>()), layout.footprint())}};
  return feature("annotation",
                 "top " + std::to_string(rank + 1) + ": P(" + label + ") " + short_number(p) + ", " +
                     tile_name(tile.at("tile").at(0).get<int>(), tile.at("tile").at(1).get<int>()),
                 geometry, {{"name", "xai top tile"}, {"color", json::array({255, 0, 255})}},
                 {{"rank", rank + 1}, {"P(" + label + ")", p}});
}

// A contour of canvas pixels as a closed ring of level-0 positions through the boundary pixels' centres.
json ring_of(const std::vector<cv::Point>& contour, double canvas_downsample) {
  json ring = json::array();
  for (const cv::Point& p : contour) ring.push_back({(p.x + 0.5) * canvas_downsample, (p.y + 0.5) * canvas_downsample});
  ring.push_back(ring.front());
  return ring;
}

// The map's regions at or above `fraction` of its peak as one MultiPolygon (outer rings with their
// holes); null when nothing reaches it or a region is too small to outline.
json contour_geometry(const StitchedMapView& map, double fraction, double canvas_downsample, double* threshold) {
  double peak = 0;
  const cv::Mat covered = map.values == map.values;
  if (cv::countNonZero(covered) == 0) return nullptr;
  cv::minMaxLoc(map.values, nullptr, &peak, nullptr, nullptr, covered);
  if (!(peak > 0)) return nullptr;
  *threshold = fraction * peak;
  cv::Mat region = (map.values >= *threshold) & covered;
  std::vector<std::vector<cv::Point>> contours;
  std::vector<cv::Vec4i> hierarchy;
  cv::findContours(region, contours, hierarchy, cv::RETR_CCOMP, cv::CHAIN_APPROX_SIMPLE);
  json polygons = json::array();
  for (size_t i = 0; i < contours.size(); ++i) {
    if (hierarchy[i][3] >= 0 || contours[i].size() < 3) continue;  // holes are added to their outer ring
    json rings = json::array({ring_of(contours[i], canvas_downsample)});
    for (int hole = hierarchy[i][2]; hole >= 0; hole = hierarchy[hole][0])
      if (contours[hole].size() >= 3) rings.push_back(ring_of(contours[hole], canvas_downsample));
    polygons.push_back(std::move(rings));
  }
  if (polygons.empty()) return nullptr;
  return {{"type", "MultiPolygon"}, {"coordinates", polygons}};
}

}  // namespace

json slide_geojson(const SlideLayout& layout, const SlideMaps& maps, const std::vector<Record>& tiles,
                   const json& top_tiles, const std::vector<StitchedMapView>& stitched,
                   std::optional<double> contour_fraction) {
  json features = json::array();
  for (const auto& t : tiles) features.push_back(tile_feature(t, layout, maps));
  if (top_tiles.is_array())
    for (size_t rank = 0; rank < top_tiles.size(); ++rank) features.push_back(top_tile_feature(top_tiles[rank], rank, layout, maps));
  if (contour_fraction)
    for (size_t m = 0; m < stitched.size(); ++m) {
      double threshold = 0;
      json geometry = contour_geometry(stitched[m], *contour_fraction, layout.canvas_downsample, &threshold);
      if (geometry.is_null()) continue;
      const std::string name = stitched[m].method + " >= " + short_number(*contour_fraction) + " of its peak";
      features.push_back(feature("annotation", name, std::move(geometry),
                                 {{"name", "xai " + stitched[m].method}, {"color", class_colour(maps.labels.size() + m)}},
                                 {{"threshold", threshold}, {"fraction of peak", *contour_fraction}}));
    }
  return {{"type", "FeatureCollection"}, {"features", features}};
}

}  // namespace xai
