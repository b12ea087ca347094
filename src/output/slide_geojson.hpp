// A slide run as GeoJSON objects that QuPath imports (File > Import objects): one "tile" object per
// read tile with its measurements (class probabilities, each method's map peak and mean, tissue
// fraction), the top tiles as annotations, and optionally each stitched map's strongest regions as
// annotation polygons. Coordinates are level-0 pixels, origin at the slide's top-left corner: QuPath's
// own convention, so the objects land on the tiles they describe.
#pragma once

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <optional>
#include <string>
#include <vector>

#include "output/results_log.hpp"
#include "output/slide_outputs.hpp"

namespace xai {

// One method's stitched map (NaN where no tile lies), for its contours.
struct StitchedMapView {
  std::string method;
  cv::Mat values;  // CV_32FC1 on the layout's canvas
  bool is_signed = false;
};

// `top_tiles`: top-tiles.json's "tiles" (empty when none were explained). `contour_fraction`: when
// set, each stitched map's regions at or above that fraction of its peak (the positive side of signed
// maps) are traced as polygons (outer rings and holes).
nlohmann::ordered_json slide_geojson(const SlideLayout& layout, const SlideMaps& maps, const std::vector<Record>& tiles,
                                     const nlohmann::ordered_json& top_tiles,
                                     const std::vector<StitchedMapView>& stitched,
                                     std::optional<double> contour_fraction);

}  // namespace xai
