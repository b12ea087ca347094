// Annotation files as QuPath and ASAP write them: polygons, classes, holes and exclusions, checked
// against areas known in closed form; malformed files fail naming the file.
#include <gtest/gtest.h>

#include <fstream>

#include "input/annotations.hpp"
#include "test_helpers.hpp"
#include "xai/error.hpp"

namespace xai {
namespace {

std::string write(const test::TempDir& dir, const std::string& name, const std::string& text) {
  std::ofstream(dir.file(name), std::ios::binary) << text;
  return dir.file(name);
}

// A 40x40 square at (10,10) with a 10x10 hole at (20,20), class Tumor; a 20x10 rectangle at (60,10),
// class Exclusion; a bare polygon without a class; a point (no area).
const char* kGeoJson = R"({"type": "FeatureCollection", "features": [
  {"type": "Feature", "properties": {"name": "big", "classification": {"name": "Tumor", "color": [200, 0, 0]}},
   "geometry": {"type": "Polygon", "coordinates": [[[10,10],[50,10],[50,50],[10,50],[10,10]],
                                                   [[20,20],[30,20],[30,30],[20,30],[20,20]]]}},
  {"type": "Feature", "properties": {"classification": {"name": "Exclusion"}},
   "geometry": {"type": "MultiPolygon", "coordinates": [[[[60,10],[80,10],[80,20],[60,20],[60,10]]]]}},
  {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [[[0,70],[10,70],[10,80],[0,80]]]}},
  {"type": "Feature", "properties": {"classification": {"name": "Tumor"}}, "geometry": {"type": "Point", "coordinates": [5, 5]}}
]})";

TEST(Annotations, GeoJsonPolygonsKeepTheirClassesHolesAndNames) {
  test::TempDir dir;
  const SlideAnnotations a = read_slide_annotations(write(dir, "a.geojson", kGeoJson));
  EXPECT_EQ(a.format, "geojson");
  ASSERT_EQ(a.polygons.size(), 3u);  // the point marks no area
  EXPECT_EQ(a.polygons[0].class_name, "Tumor");
  EXPECT_EQ(a.polygons[0].name, "big");
  EXPECT_EQ(a.polygons[0].rings.size(), 2u);
  EXPECT_EQ(a.polygons[1].class_name, "Exclusion");
  EXPECT_EQ(a.polygons[2].class_name, "");
  EXPECT_EQ(a.class_names(), (std::vector<std::string>{"Tumor", "Exclusion", ""}));
}

TEST(Annotations, RasterisedAreasAreThePolygonsAreasWithHolesAndExclusionsCleared) {
  test::TempDir dir;
  const SlideAnnotations a = read_slide_annotations(write(dir, "a.geojson", kGeoJson));
  // Level-0 pixels 1:1; a pixel is inside when its centre is, so the count is the area.
  const cv::Mat tumor = rasterize_annotations(a, {100, 100}, 1.0, {"Tumor"}, {});
  EXPECT_EQ(cv::countNonZero(tumor), 40 * 40 - 10 * 10);
  EXPECT_EQ(tumor.at<uchar>(25, 25), 0) << "inside the hole";
  EXPECT_EQ(tumor.at<uchar>(15, 15), 255);
  // Every class (the exclusion too, when it is not excluded); then the exclusion cleared.
  const cv::Mat all = rasterize_annotations(a, {100, 100}, 1.0, {}, {});
  EXPECT_EQ(cv::countNonZero(all), 40 * 40 - 10 * 10 + 20 * 10 + 10 * 10);
  const cv::Mat excluded = rasterize_annotations(a, {100, 100}, 1.0, {}, {"Exclusion"});
  EXPECT_EQ(cv::countNonZero(excluded), 40 * 40 - 10 * 10 + 10 * 10);
  // At a quarter of the resolution: pixel (c, r) covers [4c, 4c + 4), inside when 4c + 2 is. The square
  // [10, 50) holds centres 10, 14, ..., 46 (columns 2..11); the hole [20, 30) centres 22, 26 (columns 5, 6).
  const cv::Mat coarse = rasterize_annotations(a, {25, 25}, 4.0, {"Tumor"}, {});
  EXPECT_EQ(cv::countNonZero(coarse), 10 * 10 - 2 * 2);
  EXPECT_EQ(coarse.at<uchar>(2, 2), 255);
  EXPECT_EQ(coarse.at<uchar>(1, 1), 0);
  EXPECT_EQ(coarse.at<uchar>(5, 5), 0);
  // A tilted polygon: its area (a diamond of diagonals 40 and 40: 800) within a pixel per row.
  const std::string diamond = write(dir, "d.geojson", R"({"type": "Polygon", "coordinates": [[[50,10],[70,30],[50,50],[30,30]]]})");
  const int filled = cv::countNonZero(rasterize_annotations(read_slide_annotations(diamond), {100, 100}, 1.0, {}, {}));
  EXPECT_NEAR(filled, 800, 40);
}

TEST(Annotations, AsapXmlIsReadInCoordinateOrderWithItsGroups) {
  test::TempDir dir;
  // Camelyon16's layout: groups _0 (tumour) and _2 (exclusion); coordinates listed out of order.
  const std::string path = write(dir, "a.xml", R"(<?xml version="1.0"?>
<ASAP_Annotations>
  <Annotations>
    <Annotation Name="Annotation 0" Type="Polygon" PartOfGroup="_0" Color="#F4FA58">
      <Coordinates>
        <Coordinate Order="2" X="50" Y="50" />
        <Coordinate Order="0" X="10" Y="10" />
        <Coordinate Order="3" X="10" Y="50" />
        <Coordinate Order="1" X="5.0e1" Y="10" />
      </Coordinates>
    </Annotation>
    <Annotation Name="Annotation 1" Type="Polygon" PartOfGroup="_2" Color="#64FE2E">
      <Coordinates>
        <Coordinate Order="0" X="20" Y="20" /><Coordinate Order="1" X="30" Y="20" />
        <Coordinate Order="2" X="30" Y="30" /><Coordinate Order="3" X="20" Y="30" />
      </Coordinates>
    </Annotation>
    <Annotation Name="Dot" Type="Dot" PartOfGroup="_0"><Coordinates><Coordinate Order="0" X="1" Y="1" /></Coordinates></Annotation>
  </Annotations>
  <AnnotationGroups><Group Name="_0" PartOfGroup="None" Color="#FF0000"><Attributes /></Group></AnnotationGroups>
</ASAP_Annotations>)");
  const SlideAnnotations a = read_slide_annotations(path);
  EXPECT_EQ(a.format, "asap-xml");
  ASSERT_EQ(a.polygons.size(), 2u);
  EXPECT_EQ(a.polygons[0].class_name, "_0");
  EXPECT_EQ(a.polygons[0].name, "Annotation 0");
  ASSERT_EQ(a.polygons[0].rings[0].size(), 4u);
  EXPECT_EQ(a.polygons[0].rings[0][1], cv::Point2d(50, 10));
  EXPECT_EQ(a.polygons[0].rings[0][2], cv::Point2d(50, 50));
  // The exclusion inside the tumour is a hole in the truth, as Camelyon16 means it.
  const cv::Mat truth = rasterize_annotations(a, {100, 100}, 1.0, {}, {"_2"});
  EXPECT_EQ(cv::countNonZero(truth), 40 * 40 - 10 * 10);
}

TEST(Annotations, MalformedFilesFailNamingTheFile) {
  test::TempDir dir;
  const auto fails_with = [&](const std::string& name, const std::string& text, const std::string& why) {
    const std::string path = write(dir, name, text);
    try {
      read_slide_annotations(path);
      ADD_FAILURE() << name << " was read";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::input) << e.what();
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
  };
  fails_with("broken.geojson", "{\"type\": ", "not valid JSON");
  fails_with("points.geojson", R"({"type": "Point", "coordinates": [1, 2]})", "no polygon");
  fails_with("two.geojson", R"({"type": "Polygon", "coordinates": [[[1, 2], [3, 4]]]})", "at least 3 positions");
  fails_with("nan.geojson", R"({"type": "Polygon", "coordinates": [[[1, 2], [3, "x"], [5, 6]]]})", "[x, y]");
  fails_with("broken.xml", "<ASAP_Annotations><Annotations>", "not valid XML");
  fails_with("other.xml", "<svg></svg>", "ASAP_Annotations");
  fails_with("number.xml",
             R"(<ASAP_Annotations><Annotations><Annotation Type="Polygon"><Coordinates><Coordinate Order="0" X="a" Y="1"/>
                <Coordinate Order="1" X="2" Y="1"/><Coordinate Order="2" X="2" Y="2"/></Coordinates></Annotation></Annotations></ASAP_Annotations>)",
             "not a number");
  fails_with("notes.txt", "anything", "expected GeoJSON");
}

}  // namespace
}  // namespace xai
