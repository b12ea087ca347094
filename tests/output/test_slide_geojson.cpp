// tiles.geojson as QuPath reads it: a Feature per tile on its level-0 footprint with its numbers, top
// tiles as annotations, and contours of a stitched map whose regions are known in closed form.
#include <gtest/gtest.h>

#include <limits>

#include "output/slide_geojson.hpp"

namespace xai {
namespace {

using json = nlohmann::ordered_json;

SlideLayout layout_of() {
  SlideLayout l;
  l.tile = 32, l.stride = 32, l.downsample = 2;  // a tile covers 64 level-0 pixels
  l.columns = 4, l.rows = 3, l.width = 256, l.height = 192;
  l.canvas_downsample = 4, l.canvas_width = 64, l.canvas_height = 48;
  return l;
}

SlideMaps maps_of() {
  SlideMaps m;
  m.labels = {"benign", "malignant"};
  m.target = 1;
  m.methods = {"gradcam"};
  m.units = {"relative"};
  m.is_signed = {false};
  return m;
}

Record tile_record(int column, int row, double p_malignant) {
  return {{"tile", {column, row}}, {"x", column * 64}, {"y", row * 64}, {"tissue", 0.75},
          {"probabilities", {{"benign", 1 - p_malignant}, {"malignant", p_malignant}}},
          {"maps", {{"gradcam", {{"peak", 0.5 + column}, {"mean", 0.25}}}}}};
}

// The ring's bounding box (x0, y0, x1, y1).
std::array<double, 4> bounds(const json& ring) {
  std::array<double, 4> b = {1e30, 1e30, -1e30, -1e30};
  for (const auto& p : ring) {
    b[0] = std::min(b[0], p[0].get<double>()), b[1] = std::min(b[1], p[1].get<double>());
    b[2] = std::max(b[2], p[0].get<double>()), b[3] = std::max(b[3], p[1].get<double>());
  }
  return b;
}

TEST(SlideGeoJson, EachTileIsAQuPathTileObjectOnItsFootprintWithItsNumbers) {
  const std::vector<Record> tiles = {tile_record(0, 0, 0.1), tile_record(3, 2, 0.9)};
  const json top = json::array({{{"tile", {3, 2}}, {"x", 192}, {"y", 128}, {"probability", 0.9}}});
  const json g = slide_geojson(layout_of(), maps_of(), tiles, top, {}, std::nullopt);
  ASSERT_EQ(g["type"], "FeatureCollection");
  ASSERT_EQ(g["features"].size(), 3u);
  for (size_t i = 0; i < 2; ++i) {
    const json& f = g["features"][i];
    EXPECT_EQ(f["type"], "Feature");
    EXPECT_EQ(f["properties"]["objectType"], "tile");
    EXPECT_EQ(f["geometry"]["type"], "Polygon");
    const json& ring = f["geometry"]["coordinates"][0];
    EXPECT_EQ(ring.front(), ring.back()) << "a closed ring";
    const int column = tiles[i]["tile"][0], row = tiles[i]["tile"][1];
    EXPECT_EQ(bounds(ring), (std::array<double, 4>{column * 64.0, row * 64.0, column * 64.0 + 64, row * 64.0 + 64}));
    const json& m = f["properties"]["measurements"];
    EXPECT_EQ(m["column"], column);
    EXPECT_EQ(m["row"], row);
    EXPECT_DOUBLE_EQ(m["P(malignant)"].get<double>(), tiles[i]["probabilities"]["malignant"].get<double>());
    EXPECT_DOUBLE_EQ(m["gradcam peak"].get<double>(), 0.5 + column);
    EXPECT_DOUBLE_EQ(m["tissue fraction"].get<double>(), 0.75);
    // Classified as the tile's most probable class, with a colour QuPath can show.
    EXPECT_EQ(f["properties"]["classification"]["name"], i == 0 ? "benign" : "malignant");
    EXPECT_EQ(f["properties"]["classification"]["color"].size(), 3u);
  }
  const json& annotation = g["features"][2];
  EXPECT_EQ(annotation["properties"]["objectType"], "annotation");
  EXPECT_EQ(bounds(annotation["geometry"]["coordinates"][0]), (std::array<double, 4>{192, 128, 256, 192}));
  EXPECT_EQ(annotation["properties"]["measurements"]["rank"], 1);
}

TEST(SlideGeoJson, ContoursOutlineTheRegionsAboveTheFractionOfThePeakWithTheirHoles) {
  const SlideLayout layout = layout_of();
  cv::Mat values(layout.canvas_height, layout.canvas_width, CV_32FC1, cv::Scalar(0.1));
  values(cv::Rect(0, 40, 64, 8)).setTo(std::numeric_limits<float>::quiet_NaN());  // no tile there
  values(cv::Rect(10, 5, 20, 20)).setTo(1.0);   // a ring of strong values...
  values(cv::Rect(15, 10, 10, 10)).setTo(0.2);  // ...around a weak hole
  values(cv::Rect(40, 30, 4, 3)).setTo(0.8);    // and a small second region
  const StitchedMapView map{"gradcam", values, false};
  const json g = slide_geojson(layout, maps_of(), {}, json::array(), {map}, 0.5);
  ASSERT_EQ(g["features"].size(), 1u);
  const json& f = g["features"][0];
  EXPECT_EQ(f["properties"]["objectType"], "annotation");
  EXPECT_DOUBLE_EQ(f["properties"]["measurements"]["threshold"].get<double>(), 0.5);
  ASSERT_EQ(f["geometry"]["type"], "MultiPolygon");
  const json& polygons = f["geometry"]["coordinates"];
  ASSERT_EQ(polygons.size(), 2u);
  // Through the boundary pixels' centres, in level-0 pixels: (x + 0.5) * 4.
  std::vector<std::array<double, 4>> outer;
  for (const auto& p : polygons) outer.push_back(bounds(p[0]));
  std::sort(outer.begin(), outer.end());
  EXPECT_EQ(outer[0], (std::array<double, 4>{10.5 * 4, 5.5 * 4, 29.5 * 4, 24.5 * 4}));
  EXPECT_EQ(outer[1], (std::array<double, 4>{40.5 * 4, 30.5 * 4, 43.5 * 4, 32.5 * 4}));
  for (const auto& p : polygons)
    if (bounds(p[0])[0] == 10.5 * 4) {
      ASSERT_EQ(p.size(), 2u) << "the weak middle is a hole";
      // The hole's ring runs through the strong pixels around it.
      EXPECT_EQ(bounds(p[1]), (std::array<double, 4>{14.5 * 4, 9.5 * 4, 25.5 * 4, 20.5 * 4}));
    }
}

}  // namespace
}  // namespace xai
