// A pathologist's outlines on a slide: polygons with class names, in level-0 pixel coordinates, as
// QuPath exports them (GeoJSON: File > Export objects) and as ASAP writes them (XML; Camelyon16's
// ground truth). Read for scoring a slide run against them (ground truth) and for the user's own
// tissue mask (any polygon is tissue).
#pragma once

#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace xai {

struct AnnotationPolygon {
  std::string class_name;  // QuPath's classification name, ASAP's PartOfGroup; empty: unclassified
  std::string name;        // the object's own name, when it has one
  std::vector<std::vector<cv::Point2d>> rings;  // the outer ring, then holes in it (level-0 pixels)
};

struct SlideAnnotations {
  std::string path;
  std::string format;  // "geojson" or "asap-xml"
  std::vector<AnnotationPolygon> polygons;

  // The class names, each once, in the order they first appear.
  std::vector<std::string> class_names() const;
};

// Whether `path` is read as GeoJSON (.geojson, .json) or ASAP XML (.xml), by its name.
bool is_annotation_file_name(const std::string& path);

// Throws input_error naming the file: unreadable, neither GeoJSON nor ASAP XML, a malformed polygon
// (fewer than 3 positions, coordinates that are not finite pixel positions), or no polygon at all.
// GeoJSON: a FeatureCollection, Feature, geometry or a bare array of features; Polygon and MultiPolygon
// (points and lines mark no area). ASAP: Annotation elements of Type Polygon, Rectangle or Spline
// (splines by their control points).
SlideAnnotations read_slide_annotations(const std::string& path);

// The polygons of `include_classes` (empty: every class not excluded) filled at `size` (`downsample`
// level-0 pixels per pixel), a pixel being inside when its centre is: 255 inside an outer ring, 0 in its
// holes; then the polygons of `exclude_classes` cleared to 0.
cv::Mat rasterize_annotations(const SlideAnnotations& annotations, const cv::Size& size, double downsample,
                              const std::vector<std::string>& include_classes,
                              const std::vector<std::string>& exclude_classes);

}  // namespace xai
