#include "input/tissue_mask.hpp"

#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "xai/error.hpp"
#include "core/file_read.hpp"
#include "xai/image.hpp"
#include "core/text.hpp"

namespace xai {
namespace {

using json = nlohmann::json;

bool is_geojson_name(const std::string& path) {
  const std::string name = lower(path);
  for (const char* ext : {".geojson", ".json"})
    if (name.size() >= std::strlen(ext) && name.compare(name.size() - std::strlen(ext), std::string::npos, ext) == 0)
      return true;
  return false;
}

// One ring of [x, y] positions (level-0 pixels) as mask pixels.
std::vector<cv::Point> ring_points(const json& ring, double downsample, const std::string& path) {
  if (!ring.is_array() || ring.size() < 3) throw input_error(path + ": a polygon ring needs at least 3 positions");
  std::vector<cv::Point> points;
  for (const json& position : ring) {
    if (!position.is_array() || position.size() < 2 || !position[0].is_number() || !position[1].is_number())
      throw input_error(path + ": a position is not [x, y] (level-0 pixel coordinates)");
    const double x = position[0].get<double>() / downsample, y = position[1].get<double>() / downsample;
    if (!std::isfinite(x) || !std::isfinite(y) || std::abs(x) > 1e7 || std::abs(y) > 1e7)
      throw input_error(path + ": a position is not a finite pixel coordinate");
    points.emplace_back(static_cast<int>(std::lround(x)), static_cast<int>(std::lround(y)));
  }
  return points;
}

// A Polygon's rings: the outer one is tissue, the others are holes in it.
void draw_polygon(cv::Mat& mask, const json& rings, double downsample, const std::string& path) {
  if (!rings.is_array() || rings.empty()) throw input_error(path + ": a Polygon has no rings");
  for (size_t r = 0; r < rings.size(); ++r) {
    const std::vector<std::vector<cv::Point>> ring = {ring_points(rings[r], downsample, path)};
    cv::fillPoly(mask, ring, cv::Scalar(r == 0 ? 255 : 0), cv::LINE_8);
  }
}

// Draws every polygon of a GeoJSON object (FeatureCollection, Feature, geometry, or a bare array of
// features as QuPath writes one); returns how many polygons it drew.
int draw_geojson(cv::Mat& mask, const json& node, double downsample, const std::string& path) {
  if (node.is_array()) {
    int n = 0;
    for (const json& item : node) n += draw_geojson(mask, item, downsample, path);
    return n;
  }
  if (!node.is_object() || !node.contains("type") || !node["type"].is_string()) return 0;
  const std::string type = node["type"].get<std::string>();
  if (type == "FeatureCollection") return node.contains("features") ? draw_geojson(mask, node["features"], downsample, path) : 0;
  if (type == "Feature") return node.contains("geometry") ? draw_geojson(mask, node["geometry"], downsample, path) : 0;
  if (type == "GeometryCollection")
    return node.contains("geometries") ? draw_geojson(mask, node["geometries"], downsample, path) : 0;
  if (type == "Polygon") {
    draw_polygon(mask, node.value("coordinates", json()), downsample, path);
    return 1;
  }
  if (type == "MultiPolygon") {
    int n = 0;
    for (const json& polygon : node.value("coordinates", json::array())) {
      draw_polygon(mask, polygon, downsample, path);
      ++n;
    }
    return n;
  }
  return 0;  // points and lines mark no area
}

}  // namespace

cv::Mat read_tissue_mask(const std::string& path, const cv::Size& size, double downsample, int64_t slide_width,
                         int64_t slide_height) {
  cv::Mat mask;
  if (is_geojson_name(path)) {
    const json document = json::parse(read_regular_file(path, 256ull << 20, ExitCode::input), nullptr, false);
    if (document.is_discarded()) throw input_error(path + ": not valid JSON (a GeoJSON tissue mask was expected)");
    mask = cv::Mat::zeros(size, CV_8UC1);
    if (draw_geojson(mask, document, downsample, path) == 0)
      throw input_error(path + ": no Polygon or MultiPolygon in it (GeoJSON in level-0 pixel coordinates)");
  } else {
    const cv::Mat raw = decode_pixels(read_image_bytes(path), path).pixels;
    // The mask covers the whole slide: its shape must be the slide's, whatever its size.
    const double mask_aspect = static_cast<double>(raw.cols) / raw.rows;
    const double slide_aspect = static_cast<double>(slide_width) / static_cast<double>(slide_height);
    if (std::abs(mask_aspect / slide_aspect - 1) > 0.02)
      throw input_error(path + ": the mask is " + std::to_string(raw.cols) + "x" + std::to_string(raw.rows) +
                        ", not the slide's shape (" + std::to_string(slide_width) + "x" + std::to_string(slide_height) +
                        " at level 0)");
    cv::Mat gray;
    if (raw.channels() == 1) gray = raw;
    else cv::cvtColor(raw, gray, raw.channels() == 4 ? cv::COLOR_BGRA2GRAY : cv::COLOR_BGR2GRAY);
    cv::Mat tissue = gray > 0, resized;
    cv::resize(tissue, resized, size, 0, 0, cv::INTER_NEAREST);
    mask = resized > 0;
  }
  if (cv::countNonZero(mask) == 0) throw input_error(path + ": the tissue mask marks no tissue on the slide");
  return mask;
}

}  // namespace xai
