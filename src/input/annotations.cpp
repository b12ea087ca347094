#include "input/annotations.hpp"

#include <nlohmann/json.hpp>
#include <pugixml.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "core/file_read.hpp"
#include "core/text.hpp"
#include "xai/error.hpp"

namespace xai {
namespace {

using json = nlohmann::json;
constexpr unsigned long long kMaxAnnotationBytes = 256ull << 20;

bool has_extension(const std::string& path, const std::string& ext) {
  const std::string name = lower(path);
  return name.size() >= ext.size() && name.compare(name.size() - ext.size(), std::string::npos, ext) == 0;
}

bool is_geojson_name(const std::string& path) { return has_extension(path, ".geojson") || has_extension(path, ".json"); }

cv::Point2d checked_position(double x, double y, const std::string& path) {
  if (!std::isfinite(x) || !std::isfinite(y) || std::abs(x) > 1e9 || std::abs(y) > 1e9)
    throw input_error(path + ": a position is not a finite pixel coordinate");
  return {x, y};
}

std::vector<cv::Point2d> geojson_ring(const json& ring, const std::string& path) {
  if (!ring.is_array() || ring.size() < 3) throw input_error(path + ": a polygon ring needs at least 3 positions");
  std::vector<cv::Point2d> points;
  for (const json& position : ring) {
    if (!position.is_array() || position.size() < 2 || !position[0].is_number() || !position[1].is_number())
      throw input_error(path + ": a position is not [x, y] (level-0 pixel coordinates)");
    points.push_back(checked_position(position[0].get<double>(), position[1].get<double>(), path));
  }
  return points;
}

AnnotationPolygon geojson_polygon(const json& rings, const std::string& path) {
  if (!rings.is_array() || rings.empty()) throw input_error(path + ": a Polygon has no rings");
  AnnotationPolygon polygon;
  for (const json& ring : rings) polygon.rings.push_back(geojson_ring(ring, path));
  return polygon;
}

// QuPath writes "classification": {"name": ...}; older exports and other tools a plain string.
std::string feature_class(const json& properties) {
  if (!properties.is_object() || !properties.contains("classification")) return {};
  const json& c = properties["classification"];
  if (c.is_string()) return c.get<std::string>();
  if (c.is_object() && c.contains("name") && c["name"].is_string()) return c["name"].get<std::string>();
  return {};
}

// Every polygon under `node`, each with the class and name of the Feature it belongs to.
void collect_geojson(const json& node, const std::string& class_name, const std::string& name,
                     const std::string& path, std::vector<AnnotationPolygon>& out) {
  if (node.is_array()) {
    for (const json& item : node) collect_geojson(item, class_name, name, path, out);
    return;
  }
  if (!node.is_object() || !node.contains("type") || !node["type"].is_string()) return;
  const std::string type = node["type"].get<std::string>();
  const auto member = [&](const char* key) { return node.contains(key) ? node[key] : json(); };
  if (type == "FeatureCollection") {
    collect_geojson(member("features"), class_name, name, path, out);
  } else if (type == "Feature") {
    const json properties = member("properties");
    const std::string own_name =
        properties.is_object() && properties.contains("name") && properties["name"].is_string() ? properties["name"].get<std::string>() : "";
    collect_geojson(member("geometry"), feature_class(properties), own_name, path, out);
  } else if (type == "GeometryCollection") {
    collect_geojson(member("geometries"), class_name, name, path, out);
  } else if (type == "Polygon" || type == "MultiPolygon") {
    const json coordinates = member("coordinates");
    std::vector<json> polygons;
    if (type == "Polygon") polygons.push_back(coordinates);
    else if (coordinates.is_array()) polygons.assign(coordinates.begin(), coordinates.end());
    for (const json& rings : polygons) {
      AnnotationPolygon polygon = geojson_polygon(rings, path);
      polygon.class_name = class_name, polygon.name = name;
      out.push_back(std::move(polygon));
    }
  }
  // Points and lines mark no area.
}

double coordinate_attribute(const pugi::xml_node& node, const char* name, const std::string& path) {
  const char* text = node.attribute(name).value();
  char* end = nullptr;
  const double value = std::strtod(text, &end);
  if (end == text || *end != '\0') throw input_error(path + ": a Coordinate's " + name + " is not a number ('" + text + "')");
  return value;
}

// ASAP's <ASAP_Annotations><Annotations><Annotation Type="Polygon" PartOfGroup="..."><Coordinates>
// <Coordinate Order="0" X=".." Y=".."/>: one ring, its points in Order.
std::vector<AnnotationPolygon> read_asap_xml(const std::string& text, const std::string& path) {
  pugi::xml_document document;
  const pugi::xml_parse_result parsed = document.load_buffer(text.data(), text.size());
  if (!parsed) throw input_error(path + ": not valid XML (" + parsed.description() + "; ASAP annotations were expected)");
  const pugi::xml_node root = document.child("ASAP_Annotations");
  if (!root) throw input_error(path + ": no ASAP_Annotations element (ASAP's annotation XML was expected)");
  std::vector<AnnotationPolygon> polygons;
  for (const pugi::xml_node& annotation : root.child("Annotations").children("Annotation")) {
    const std::string type = annotation.attribute("Type").value();
    if (type != "Polygon" && type != "Rectangle" && type != "Spline") continue;  // dots and lines mark no area
    std::vector<std::pair<long, cv::Point2d>> ordered;
    for (const pugi::xml_node& c : annotation.child("Coordinates").children("Coordinate"))
      ordered.emplace_back(c.attribute("Order").as_llong(static_cast<long long>(ordered.size())),
                           checked_position(coordinate_attribute(c, "X", path), coordinate_attribute(c, "Y", path), path));
    if (ordered.size() < 3)
      throw input_error(path + ": annotation '" + std::string(annotation.attribute("Name").value()) +
                        "' has fewer than 3 coordinates");
    std::stable_sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    AnnotationPolygon polygon;
    polygon.class_name = annotation.attribute("PartOfGroup").value();
    if (polygon.class_name == "None") polygon.class_name.clear();
    polygon.name = annotation.attribute("Name").value();
    polygon.rings.emplace_back();
    for (const auto& [order, point] : ordered) polygon.rings.back().push_back(point);
    polygons.push_back(std::move(polygon));
  }
  return polygons;
}

bool named_in(const std::string& name, const std::vector<std::string>& names) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// A pixel is inside when its centre is (even-odd over all the polygon's rings, so holes stay out): the
// filled area is the polygon's area, without the extra boundary pixels a line-drawing fill adds (those
// would make a tile that an outline only touches at its edge a positive one). Scanline by scanline.
void fill_polygon(cv::Mat& mask, const AnnotationPolygon& polygon, double downsample, uchar value) {
  double top = std::numeric_limits<double>::infinity(), bottom = -top;
  for (const auto& ring : polygon.rings)
    for (const cv::Point2d& p : ring) top = std::min(top, p.y), bottom = std::max(bottom, p.y);
  const int first_row = std::max(0, static_cast<int>(std::floor(top / downsample - 0.5)));
  const int last_row = std::min(mask.rows - 1, static_cast<int>(std::ceil(bottom / downsample)));
  std::vector<double> crossings;
  for (int row = first_row; row <= last_row; ++row) {
    const double y = (row + 0.5) * downsample;
    crossings.clear();
    for (const auto& ring : polygon.rings)
      for (size_t i = 0; i < ring.size(); ++i) {
        const cv::Point2d& a = ring[i];
        const cv::Point2d& b = ring[(i + 1) % ring.size()];
        if ((a.y <= y) != (b.y <= y)) crossings.push_back(a.x + (y - a.y) * (b.x - a.x) / (b.y - a.y));
      }
    std::sort(crossings.begin(), crossings.end());
    uchar* pixels = mask.ptr<uchar>(row);
    for (size_t k = 0; k + 1 < crossings.size(); k += 2) {
      // Columns whose centre (c + 0.5) * downsample lies in [left, right).
      const int from = std::max(0, static_cast<int>(std::ceil(crossings[k] / downsample - 0.5)));
      const int to = std::min(mask.cols, static_cast<int>(std::ceil(crossings[k + 1] / downsample - 0.5)));
      for (int c = from; c < to; ++c) pixels[c] = value;
    }
  }
}

}  // namespace

std::vector<std::string> SlideAnnotations::class_names() const {
  std::vector<std::string> names;
  for (const auto& p : polygons)
    if (!named_in(p.class_name, names)) names.push_back(p.class_name);
  return names;
}

bool is_annotation_file_name(const std::string& path) { return is_geojson_name(path) || has_extension(path, ".xml"); }

SlideAnnotations read_slide_annotations(const std::string& path) {
  SlideAnnotations annotations;
  annotations.path = path;
  const std::string text = read_regular_file(path, kMaxAnnotationBytes, ExitCode::input);
  if (has_extension(path, ".xml")) {
    annotations.format = "asap-xml";
    annotations.polygons = read_asap_xml(text, path);
  } else if (is_geojson_name(path)) {
    annotations.format = "geojson";
    const json document = json::parse(text, nullptr, false);
    if (document.is_discarded()) throw input_error(path + ": not valid JSON (GeoJSON was expected)");
    collect_geojson(document, "", "", path, annotations.polygons);
  } else {
    throw input_error(path + ": expected GeoJSON (.geojson, .json: QuPath's export) or ASAP XML (.xml)");
  }
  if (annotations.polygons.empty())
    throw input_error(path + ": no polygon in it (" +
                      (annotations.format == "geojson" ? "GeoJSON Polygon or MultiPolygon" : "ASAP Polygon annotation") +
                      " in level-0 pixel coordinates)");
  return annotations;
}

cv::Mat rasterize_annotations(const SlideAnnotations& annotations, const cv::Size& size, double downsample,
                              const std::vector<std::string>& include_classes,
                              const std::vector<std::string>& exclude_classes) {
  cv::Mat mask = cv::Mat::zeros(size, CV_8UC1);
  for (const auto& polygon : annotations.polygons)
    if (!named_in(polygon.class_name, exclude_classes) &&
        (include_classes.empty() || named_in(polygon.class_name, include_classes)))
      fill_polygon(mask, polygon, downsample, 255);
  for (const auto& polygon : annotations.polygons)
    if (named_in(polygon.class_name, exclude_classes)) fill_polygon(mask, polygon, downsample, 0);
  return mask;
}

}  // namespace xai
