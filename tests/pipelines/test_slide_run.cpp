// xai slide on a synthetic whole slide (scripts/make_test_slide.py: a pyramidal TIFF of synthetic H&E
// patches with malignant cells at known places, written by libvips) with the demo model. The truth is
// the generator's: which cells are tissue, which are malignant; tile probabilities are checked against
// the model run in Python on the regenerated patches (tests/reference/slide_reference.py).
#include <gtest/gtest.h>

#include <csignal>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <set>
#include <sstream>

#include "npy_reader.hpp"
#include "test_helpers.hpp"
#include "xai/error.hpp"
#include "xai/methods.hpp"
#include "xai/model.hpp"
#include "output/results_log.hpp"
#include "output/slide_outputs.hpp"
#include "input/stain.hpp"
#include "pipelines/slide_annotations.hpp"
#include "pipelines/slide_run.hpp"

namespace xai {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Cell = std::pair<int, int>;

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// tiles.csv as (column, row) -> the row's fields by header name.
std::map<Cell, std::map<std::string, std::string>> read_tiles_csv(const fs::path& path) {
  std::istringstream in(read_text(path));
  std::string line;
  std::getline(in, line);
  std::vector<std::string> header;
  for (std::istringstream h(line); std::getline(h, line, ',');) header.push_back(line);
  std::map<Cell, std::map<std::string, std::string>> rows;
  while (std::getline(in, line)) {
    std::map<std::string, std::string> fields;
    std::istringstream f(line);
    for (size_t i = 0; i < header.size() && std::getline(f, line, ','); ++i) fields[header[i]] = line;
    rows[{std::stoi(fields["column"]), std::stoi(fields["row"])}] = fields;
  }
  return rows;
}

float max_abs_difference(const std::string& a, const std::string& b) {
  const auto x = test::read_npy(a), y = test::read_npy(b);
  if (x.shape != y.shape) return INFINITY;
  float worst = 0;
  for (size_t i = 0; i < x.data.size(); ++i) {
    if (std::isnan(x.data[i]) != std::isnan(y.data[i])) return INFINITY;
    if (!std::isnan(x.data[i])) worst = std::max(worst, std::abs(x.data[i] - y.data[i]));
  }
  return worst;
}

class SlideRunTest : public ::testing::Test {
 protected:
  // One slide and one complete run (Grad-CAM, top tiles, viewer) shared by the tests.
  static void SetUpTestSuite() {
    dir_ = new test::TempDir;
    slide_ = dir_->file("slide.tif");
    int status = 0;
    const std::string out = test::run_command(XAI_PYTHON " " + std::string(XAI_SOURCE_DIR) +
                                                  "/scripts/make_test_slide.py " + slide_ + " 2>&1",
                                              &status);
    ASSERT_EQ(status, 0) << "making the test slide needs the tests' Python (XAI_PYTHON) and Debian's libvips-tools: " << out;
    truth_ = json::parse(read_text(dir_->file("slide.json")));
    model_ = new Model(Model::load(test::model_path("demo-histo.pt")));
    reference_ = run(dir_->file("whole"));
  }
  static void TearDownTestSuite() {
    delete model_;
    delete dir_;
  }

  static SlideOptions options(const std::string& out) {
    SlideOptions o;
    o.explain.methods = {"gradcam"};
    o.output_dir = out;
    o.top_tiles = 3;
    o.workers = 2;
    return o;
  }
  static SlideSummary run(const std::string& out, SlideOptions o) {
    o.output_dir = out;
    return run_slide(*model_, slide_, o);
  }
  static SlideSummary run(const std::string& out) { return run(out, options(out)); }
  static json report(const std::string& out) { return json::parse(read_text(fs::path(out) / "slide.json")); }

  static std::set<Cell> cells(const char* key) {
    std::set<Cell> out;
    for (const auto& c : truth_[key]) out.insert({c[0].get<int>(), c[1].get<int>()});
    return out;
  }

  static inline test::TempDir* dir_ = nullptr;
  static inline std::string slide_;
  static inline json truth_;
  static inline Model* model_ = nullptr;
  static inline SlideSummary reference_;
};

TEST_F(SlideRunTest, ReadsOnlyTissueTilesAndTheMalignantRegionsGetTheTopProbabilities) {
  const std::string out = dir_->file("whole");
  const json r = report(out);
  EXPECT_EQ(r["layout"]["level"], 0);  // the card's 0.5 µm/px is the slide's level 0
  EXPECT_EQ(r["layout"]["tile"], 96);
  EXPECT_EQ(r["layout"]["columns"], 24);
  EXPECT_EQ(r["layout"]["rows"], 16);
  EXPECT_EQ(r["maps"]["target"]["label"], "malignant");
  EXPECT_TRUE(r["complete"].get<bool>()) << r.dump(2);
  // No identifying properties: only the allow-listed technical ones.
  for (const auto& [name, value] : r["slide"]["properties"].items())
    EXPECT_TRUE(name.rfind("openslide.", 0) == 0 || name.rfind("tiff.", 0) == 0) << name;

  const auto rows = read_tiles_csv(fs::path(out) / "tiles.csv");
  const std::set<Cell> tissue = cells("tissue_cells"), malignant = cells("malignant_cells");
  // Background (glass) tiles are never read; nearly every tissue cell is.
  for (const auto& [cell, fields] : rows) EXPECT_TRUE(tissue.count(cell)) << "a glass tile was read: " << cell.first << "," << cell.second;
  EXPECT_GE(rows.size(), tissue.size() * 95 / 100);
  EXPECT_EQ(r["counts"]["tissue_tiles"].get<size_t>(), rows.size());
  EXPECT_EQ(r["counts"]["background_tiles_not_read"].get<size_t>(), 24u * 16u - rows.size());

  // The known malignant cells are the most probable tiles.
  std::vector<std::pair<double, Cell>> ranked;
  for (const auto& [cell, fields] : rows) ranked.push_back({std::stod(fields.at("p_malignant")), cell});
  std::sort(ranked.rbegin(), ranked.rend());
  size_t found = 0;
  for (size_t i = 0; i < malignant.size(); ++i) found += malignant.count(ranked[i].second);
  EXPECT_EQ(found, malignant.size()) << "known regions among the top " << malignant.size() << " tiles";
  std::cout << "slide: " << found << " of " << malignant.size() << " known malignant regions are the top "
            << malignant.size() << " tiles (next best: p=" << ranked[malignant.size()].first << ")\n";

  // The stitched map's maximum falls inside a known region.
  const double px = r["outputs"]["maps"]["gradcam"]["peak"]["x"], py = r["outputs"]["maps"]["gradcam"]["peak"]["y"];
  const Cell peak_cell{static_cast<int>(px / 96), static_cast<int>(py / 96)};
  EXPECT_TRUE(malignant.count(peak_cell)) << "peak at " << px << "," << py;

  // Top tiles: the three malignant cells, each with its overlay and figure.
  const json top = json::parse(read_text(fs::path(out) / "top-tiles" / "top-tiles.json"));
  ASSERT_EQ(top["tiles"].size(), 3u);
  for (const auto& t : top["tiles"]) {
    EXPECT_TRUE(malignant.count({t["tile"][0].get<int>(), t["tile"][1].get<int>()})) << t.dump();
    for (const auto& f : t["files"]) EXPECT_TRUE(fs::exists(fs::path(out) / f.get<std::string>())) << f;
  }
}

TEST_F(SlideRunTest, TileProbabilitiesEqualThePythonModelOnTheRegeneratedPatches) {
  const auto rows = read_tiles_csv(fs::path(dir_->file("whole")) / "tiles.csv");
  std::string cells_arg;
  std::vector<Cell> checked = {{6, 5}, {14, 8}, {17, 4}, {12, 8}, {5, 7}, {20, 6}};
  for (const auto& c : checked) cells_arg += " " + std::to_string(c.first) + "," + std::to_string(c.second);
  int status = 0;
  const std::string out = test::run_command(XAI_PYTHON " " + std::string(XAI_SOURCE_DIR) +
                                                "/tests/reference/slide_reference.py " + dir_->file("slide.json") + " " +
                                                test::model_path("demo-histo.pt") + " " + test::model_path("demo-histo.json") +
                                                cells_arg,
                                            &status);
  ASSERT_EQ(status, 0) << out;
  const json expected = json::parse(out);
  for (const auto& c : checked) {
    const std::string key = std::to_string(c.first) + "," + std::to_string(c.second);
    ASSERT_TRUE(rows.count(c)) << key;
    EXPECT_NEAR(std::stod(rows.at(c).at("p_benign")), expected[key][0].get<double>(), 1e-4) << key;
    EXPECT_NEAR(std::stod(rows.at(c).at("p_malignant")), expected[key][1].get<double>(), 1e-4) << key;
  }
}

TEST_F(SlideRunTest, OverlappingTilesAreAveragedInTheStitchedMap) {
  const std::string out = dir_->file("overlap");
  SlideOptions o = options(out);
  o.stride = 48;
  o.top_tiles = 0;
  o.viewer = false;
  run(out, o);
  const json r = report(out);
  const SlideLayout layout = SlideLayout::from_json(r["layout"]);
  EXPECT_EQ(layout.stride, 48);
  // Sum and count of every tile's map per canvas pixel, from the journal, independently of the run's
  // stitching; the run's map must be their mean.
  cv::Mat sum(layout.canvas_height, layout.canvas_width, CV_64FC1, cv::Scalar(0)), count = sum.clone();
  size_t tiles = 0;
  for (const auto& record : read_results((fs::path(out) / "tiles.jsonl").string())) {
    cv::Rect rect;
    const cv::Mat values = decode_tile_map(record["stitch"]["gradcam"], &rect);
    cv::Mat as_double;
    values.convertTo(as_double, CV_64FC1);
    sum(rect) += as_double;
    count(rect) += 1;
    ++tiles;
  }
  EXPECT_GT(tiles, 3 * reference_.done);  // about four times the tiles of the run without overlap
  const auto stitched = test::read_npy((fs::path(out) / "map-gradcam.npy").string());
  ASSERT_EQ(stitched.shape, (std::vector<size_t>{static_cast<size_t>(layout.canvas_height), static_cast<size_t>(layout.canvas_width)}));
  double worst = 0;
  size_t overlapped = 0;
  for (int y = 0; y < layout.canvas_height; ++y)
    for (int x = 0; x < layout.canvas_width; ++x) {
      const float v = stitched.data[static_cast<size_t>(y) * layout.canvas_width + x];
      const double n = count.at<double>(y, x);
      if (n == 0) {
        EXPECT_TRUE(std::isnan(v));
        continue;
      }
      overlapped += n >= 4;
      worst = std::max(worst, std::abs(v - sum.at<double>(y, x) / n));
    }
  EXPECT_LT(worst, 1e-4);
  EXPECT_GT(overlapped, 1000u);
}

TEST_F(SlideRunTest, ShardsMergeIntoWhatOneRunWrites) {
  std::vector<std::string> parts;
  for (int i = 0; i < 3; ++i) {
    parts.push_back(dir_->file("shard" + std::to_string(i)));
    SlideOptions o = options(parts.back());
    o.shard = Shard{i, 3};
    const SlideSummary s = run(parts.back(), o);
    EXPECT_GT(s.explained, 0u);
    EXPECT_FALSE(fs::exists(fs::path(parts.back()) / "index.html")) << "shards leave the viewer to the merge";
  }
  const std::string merged = dir_->file("merged");
  const size_t done = merge_slide_outputs(parts, merged);
  const std::string whole = dir_->file("whole");
  EXPECT_EQ(done, reference_.done);
  for (const char* name : {"probability-benign.npy", "probability-malignant.npy", "map-gradcam.npy"})
    EXPECT_LT(max_abs_difference((fs::path(merged) / name).string(), (fs::path(whole) / name).string()), 1e-5) << name;
  EXPECT_EQ(read_tiles_csv(fs::path(merged) / "tiles.csv").size(), read_tiles_csv(fs::path(whole) / "tiles.csv").size());
  const json a = json::parse(read_text(fs::path(merged) / "top-tiles" / "top-tiles.json"));
  const json b = json::parse(read_text(fs::path(whole) / "top-tiles" / "top-tiles.json"));
  ASSERT_EQ(a["tiles"].size(), b["tiles"].size());
  for (size_t i = 0; i < a["tiles"].size(); ++i) {
    EXPECT_EQ(a["tiles"][i]["tile"], b["tiles"][i]["tile"]);
    for (const auto& f : a["tiles"][i]["files"]) EXPECT_TRUE(fs::exists(fs::path(merged) / f.get<std::string>())) << f;
  }
  EXPECT_TRUE(report(merged)["complete"].get<bool>());
  EXPECT_TRUE(fs::exists(fs::path(merged) / "index.html"));
  // A shard of another run does not merge.
  const std::string other = dir_->file("other");
  SlideOptions o = options(other);
  o.shard = Shard{0, 3};
  o.stride = 48;
  o.top_tiles = 0;
  run(other, o);
  EXPECT_THROW(merge_slide_outputs({parts[0], other}, dir_->file("mixed")), Error);
}

TEST_F(SlideRunTest, ResolutionsTheSlideCannotGiveAreRefused) {
  SlideOptions o = options(dir_->file("finer"));
  o.mpp = 0.25;  // the slide is scanned at 0.5
  try {
    run(dir_->file("finer"), o);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::usage);
    EXPECT_NE(std::string(e.what()).find("does not invent resolution"), std::string::npos) << e.what();
  }
  // Coarser: the nearest level at or above the resolution, resized.
  o = options(dir_->file("coarse"));
  o.mpp = 1.5;
  o.top_tiles = 0;
  o.viewer = false;
  run(dir_->file("coarse"), o);
  const json r = report(dir_->file("coarse"));
  EXPECT_EQ(r["layout"]["level"], 1);
  EXPECT_NEAR(r["layout"]["downsample"].get<double>(), 3.0, 1e-9);
  EXPECT_EQ(r["layout"]["read_side"], 144);  // 96 tile pixels of 3 level-0 pixels from level 1 (2x)
  EXPECT_NEAR(r["layout"]["mpp"].get<double>(), 1.5, 1e-9);
}

// Issue 29, item 5: two pale tissue cells of the test slide were silently read as glass (214 of 216).
// A lower saturation threshold, or the user's own mask (an image or GeoJSON), reads every tissue cell and
// nothing else; slide.json says how many tiles were not read, and why.
TEST_F(SlideRunTest, TissueThresholdAndUserMasksReadEveryTissueCell) {
  const std::set<Cell> tissue = cells("tissue_cells");
  const auto read_cells = [](const std::string& out) {
    std::set<Cell> read;
    for (const auto& [cell, fields] : read_tiles_csv(fs::path(out) / "tiles.csv")) read.insert(cell);
    return read;
  };
  const auto quick = [&](const std::string& name) {
    SlideOptions o = options(dir_->file(name));
    o.top_tiles = 0;
    o.viewer = false;
    return o;
  };
  // The default (Otsu) misses pale cells and says so in its counts.
  const json whole = report(dir_->file("whole"));
  const size_t grid = whole["counts"]["grid_tiles"], tissue_tiles = whole["counts"]["tissue_tiles"];
  EXPECT_EQ(whole["counts"]["not_read"]["glass"].get<size_t>() + whole["counts"]["not_read"]["below_min_tissue"].get<size_t>(),
            grid - tissue_tiles);
  EXPECT_GT(whole["counts"]["not_read"]["below_min_tissue"].get<size_t>(), 0u);

  SlideOptions o = quick("threshold");
  o.tissue.threshold = 40;
  run(dir_->file("threshold"), o);
  EXPECT_EQ(read_cells(dir_->file("threshold")), tissue);
  EXPECT_EQ(report(dir_->file("threshold"))["tissue"]["threshold"], 40.0);

  // An image mask at one pixel per cell (any size with the slide's shape).
  cv::Mat cell_mask(16, 24, CV_8UC1, cv::Scalar(0));
  for (const auto& [c, r] : tissue) cell_mask.at<uchar>(r, c) = 255;
  cv::imwrite(dir_->file("cells.png"), cell_mask);
  o = quick("image-mask");
  o.tissue.mask_path = dir_->file("cells.png");
  run(dir_->file("image-mask"), o);
  EXPECT_EQ(read_cells(dir_->file("image-mask")), tissue);

  // GeoJSON as QuPath exports it: a FeatureCollection of polygons in level-0 pixels, one per cell (a
  // hole in one of them leaves its cell under --min-tissue).
  json features = json::array();
  const int side = truth_["patch"].get<int>();
  const Cell holed = *tissue.begin();
  for (const auto& [c, r] : tissue) {
    const double x0 = c * side, y0 = r * side, x1 = x0 + side, y1 = y0 + side;
    json rings = json::array({json::array({{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}, {x0, y0}})});
    if (Cell{c, r} == holed)
      rings.push_back(json::array({{x0 + 8, y0 + 8}, {x1 - 8, y0 + 8}, {x1 - 8, y1 - 8}, {x0 + 8, y1 - 8}, {x0 + 8, y0 + 8}}));
    features.push_back({{"type", "Feature"}, {"geometry", {{"type", "Polygon"}, {"coordinates", rings}}},
                        {"properties", {{"objectType", "annotation"}}}});
  }
  std::ofstream(dir_->file("tissue.geojson")) << json{{"type", "FeatureCollection"}, {"features", features}}.dump();
  o = quick("geojson-mask");
  o.tissue.mask_path = dir_->file("tissue.geojson");
  run(dir_->file("geojson-mask"), o);
  std::set<Cell> expected = tissue;
  expected.erase(holed);
  EXPECT_EQ(read_cells(dir_->file("geojson-mask")), expected);
  const json r = report(dir_->file("geojson-mask"));
  EXPECT_EQ(r["tissue"]["mask"], dir_->file("tissue.geojson"));
  // The holed cell is among the tiles with too little tissue (as are neighbours the polygons' edges touch).
  EXPECT_GE(r["counts"]["not_read"]["below_min_tissue"].get<size_t>(), 1u) << r["counts"].dump();
  EXPECT_EQ(r["counts"]["not_read"]["glass"].get<size_t>() + r["counts"]["not_read"]["below_min_tissue"].get<size_t>() +
                expected.size(),
            r["counts"]["grid_tiles"].get<size_t>());

  // A mask of another shape, or one that marks nothing, is refused naming the file.
  cv::imwrite(dir_->file("square.png"), cv::Mat(16, 16, CV_8UC1, cv::Scalar(255)));
  o = quick("bad-mask");
  o.tissue.mask_path = dir_->file("square.png");
  EXPECT_THROW(run(dir_->file("bad-mask"), o), Error);
  std::ofstream(dir_->file("points.geojson")) << R"({"type":"Point","coordinates":[1,2]})";
  o.tissue.mask_path = dir_->file("points.geojson");
  EXPECT_THROW(run(dir_->file("bad-mask"), o), Error);
}

// tiles.geojson (QuPath's File > Import objects) holds exactly tiles.csv: every tile object lies on
// its own grid cell in level-0 pixels and carries the same numbers; the top tiles are annotations.
TEST_F(SlideRunTest, TilesGeoJsonMapsBackOntoTheTilesOfTilesCsv) {
  const fs::path out = dir_->file("whole");
  const auto rows = read_tiles_csv(out / "tiles.csv");
  const json g = json::parse(read_text(out / "tiles.geojson"));
  ASSERT_EQ(g["type"], "FeatureCollection");
  const int side = truth_["patch"].get<int>();
  size_t tile_objects = 0;
  std::set<Cell> annotated;
  for (const auto& f : g["features"]) {
    // QuPath's GeoJSON: a Feature with a closed Polygon ring and properties.objectType.
    ASSERT_EQ(f["type"], "Feature");
    ASSERT_EQ(f["geometry"]["type"], "Polygon");
    const json& ring = f["geometry"]["coordinates"][0];
    ASSERT_EQ(ring.size(), 5u);
    EXPECT_EQ(ring.front(), ring.back());
    double x0 = 1e30, y0 = 1e30, x1 = -1e30, y1 = -1e30;
    for (const auto& p : ring) {
      x0 = std::min(x0, p[0].get<double>()), y0 = std::min(y0, p[1].get<double>());
      x1 = std::max(x1, p[0].get<double>()), y1 = std::max(y1, p[1].get<double>());
    }
    EXPECT_EQ(x1 - x0, side);
    EXPECT_EQ(y1 - y0, side);
    // The cell the footprint covers, from its coordinates alone.
    const Cell cell{static_cast<int>(x0) / side, static_cast<int>(y0) / side};
    EXPECT_EQ(x0, cell.first * side);
    EXPECT_EQ(y0, cell.second * side);
    const std::string type = f["properties"]["objectType"];
    if (type == "annotation") {
      annotated.insert(cell);
      continue;
    }
    ASSERT_EQ(type, "tile");
    ++tile_objects;
    ASSERT_TRUE(rows.count(cell)) << "a tile object on a cell tiles.csv does not have: " << cell.first << "," << cell.second;
    const auto& row = rows.at(cell);
    const json& m = f["properties"]["measurements"];
    EXPECT_EQ(m["column"].get<int>(), cell.first);
    EXPECT_EQ(m["row"].get<int>(), cell.second);
    EXPECT_NEAR(m["P(malignant)"].get<double>(), std::stod(row.at("p_malignant")), 1e-6);
    EXPECT_NEAR(m["P(benign)"].get<double>(), std::stod(row.at("p_benign")), 1e-6);
    EXPECT_NEAR(m["gradcam peak"].get<double>(), std::stod(row.at("gradcam_peak")), 1e-6);
    EXPECT_NEAR(m["gradcam mean"].get<double>(), std::stod(row.at("gradcam_mean")), 1e-6);
    EXPECT_EQ(f["properties"]["classification"]["name"],
              std::stod(row.at("p_malignant")) > std::stod(row.at("p_benign")) ? "malignant" : "benign");
  }
  EXPECT_EQ(tile_objects, rows.size());
  // xai's own annotation reader takes the file back: one polygon per tile object and top tile, classes as given.
  const SlideAnnotations back = read_slide_annotations((out / "tiles.geojson").string());
  EXPECT_EQ(back.polygons.size(), g["features"].size());
  const std::vector<std::string> classes = back.class_names();
  EXPECT_NE(std::find(classes.begin(), classes.end(), "xai top tile"), classes.end());
  const json top = json::parse(read_text(out / "top-tiles" / "top-tiles.json"));
  std::set<Cell> top_cells;
  for (const auto& t : top["tiles"]) top_cells.insert({t["tile"][0].get<int>(), t["tile"][1].get<int>()});
  EXPECT_EQ(annotated, top_cells);
}

// The generator's lesion outlines, as QuPath (GeoJSON) and ASAP (XML, Camelyon16's groups) write them,
// score the run the same way; the numbers are recomputed here from tiles.csv and the truth's cells.
TEST_F(SlideRunTest, AnnotationsScoreTheRunAgainstTheGeneratorsTruth) {
  const std::string out = dir_->file("whole");
  SlideAnnotationSettings settings;
  settings.path = dir_->file("slide.geojson");
  const SlideAnnotationScore from_geojson = score_slide_run(out, settings);
  settings.path = dir_->file("slide.xml");
  const SlideAnnotationScore from_xml = score_slide_run(out, settings);
  const auto& r = from_geojson.report;
  EXPECT_EQ(r["annotations"]["truth_classes"].dump(), "[\"Tumor\"]");
  EXPECT_EQ(from_xml.report["annotations"]["truth_classes"].dump(), "[\"_0\"]");
  EXPECT_EQ(r["tiles"], from_xml.report["tiles"]);
  EXPECT_EQ(r["localisation"], from_xml.report["localisation"]);
  EXPECT_TRUE(fs::exists(fs::path(out) / "annotations.json"));

  // Positive tiles are exactly the malignant cells that were read.
  const auto rows = read_tiles_csv(fs::path(out) / "tiles.csv");
  const std::set<Cell> malignant = cells("malignant_cells");
  std::vector<double> pos, neg;
  for (const auto& [cell, fields] : rows) (malignant.count(cell) ? pos : neg).push_back(std::stod(fields.at("p_malignant")));
  EXPECT_EQ(r["tiles"]["positive"].get<size_t>(), pos.size());
  EXPECT_EQ(r["tiles"]["negative"].get<size_t>(), neg.size());
  // ROC AUC by its definition: the fraction of (positive, negative) pairs ranked right, ties half.
  double right = 0;
  for (double p : pos)
    for (double n : neg) right += p > n ? 1.0 : p == n ? 0.5 : 0.0;
  EXPECT_NEAR(r["tiles"]["roc_auc"].get<double>(), right / (pos.size() * neg.size()), 1e-6);
  // Sensitivity at FPR <= 0.05: every threshold tried, the best one kept.
  double best = 0;
  for (double t : pos) {
    double fp = 0, tp = 0;
    for (double n : neg) fp += n >= t - 1e-7;
    for (double p : pos) tp += p >= t - 1e-7;
    if (fp / neg.size() <= 0.05) best = std::max(best, tp / pos.size());
  }
  EXPECT_NEAR(r["tiles"]["sensitivity"]["value"].get<double>(), best, 1e-9);
  // The probability map points with its most probable tile, which is a malignant one (the run's own test).
  EXPECT_EQ(r["localisation"]["maps"]["P(malignant)"]["pointing"].get<double>(), 1.0);

  // Localisation, recomputed from map-gradcam.npy and the outlines filled here: the pointing game (is
  // the stitched map's maximum inside an outline?) and the energy inside.
  const auto& gradcam = r["localisation"]["maps"]["gradcam"];
  const auto map = test::read_npy((fs::path(out) / "map-gradcam.npy").string());
  const json layout = report(out)["layout"];
  const double ds = layout["canvas"]["downsample"];
  // Inside an outline when the pixel's centre is (cv::pointPolygonTest, near the outlines only).
  cv::Mat truth_mask = cv::Mat::zeros(static_cast<int>(map.shape[0]), static_cast<int>(map.shape[1]), CV_8UC1);
  for (const auto& lesion : truth_["lesions"])
    for (const auto& outline : lesion["outlines"]) {
      std::vector<cv::Point2f> ring;
      for (const auto& p : outline) ring.emplace_back(p[0].get<float>(), p[1].get<float>());
      const cv::Rect box = cv::boundingRect(ring);
      for (int y = std::max(0, static_cast<int>(box.y / ds) - 1); y <= (box.y + box.height) / ds + 1 && y < truth_mask.rows; ++y)
        for (int x = std::max(0, static_cast<int>(box.x / ds) - 1); x <= (box.x + box.width) / ds + 1 && x < truth_mask.cols; ++x)
          if (const double side = cv::pointPolygonTest(ring, cv::Point2f((x + 0.5) * ds, (y + 0.5) * ds), false); side >= 0)
            truth_mask.at<uchar>(y, x) = std::max<uchar>(truth_mask.at<uchar>(y, x), side > 0 ? 255 : 128);
    }
  // A pixel centre exactly on an outline may go either way: the energy must lie between counting such
  // pixels out and counting them in.
  double inside = 0, inside_with_edges = 0, total = 0, peak = -1;
  bool peak_inside = false;
  for (size_t i = 0; i < map.data.size(); ++i) {
    if (std::isnan(map.data[i])) continue;
    const double v = std::max(0.0f, map.data[i]);
    total += v;
    if (truth_mask.data[i] == 255) inside += v;
    if (truth_mask.data[i] != 0) inside_with_edges += v;
    if (v > peak) peak = v, peak_inside = truth_mask.data[i] == 255;
  }
  EXPECT_EQ(gradcam["pointing"].get<double>(), peak_inside ? 1.0 : 0.0);
  EXPECT_GE(gradcam["energy_inside"].get<double>(), inside / total - 1e-6);
  EXPECT_LE(gradcam["energy_inside"].get<double>(), inside_with_edges / total + 1e-6);
  EXPECT_GT(gradcam["energy_inside"].get<double>(), 0.0);
  std::cout << "slide annotations: tile AUC " << r["tiles"]["roc_auc"] << ", sensitivity "
            << r["tiles"]["sensitivity"]["value"] << " at FPR <= 0.05; gradcam energy inside "
            << gradcam["energy_inside"] << ", iou_top " << gradcam["iou_top"] << "\n";

  // A class the file does not have is refused, naming the classes it has.
  settings.classes = {"Necrosis"};
  try {
    score_slide_run(out, settings);
    ADD_FAILURE() << "an unknown class was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::usage);
    EXPECT_NE(std::string(e.what()).find("'_0'"), std::string::npos) << e.what();
  }
}

// Stain normalisation on a slide: one set of source stains for the whole slide, estimated from the
// thumbnail's tissue, equal to numpy's on the run's own thumbnail.png and tissue.png; every tile mapped
// with it (the tiles' probabilities change).
TEST_F(SlideRunTest, StainNormalisationUsesTheSlidesStainsFromItsThumbnail) {
  const std::string out = dir_->file("stain");
  const std::string reference = std::string(XAI_SOURCE_DIR) + "/examples/ihc-crop.png";
  const ModelCard original = model_->card();
  model_->mutable_card().stain = macenko_reference(reference);
  SlideOptions o = options(out);
  o.top_tiles = 0;
  o.viewer = false;
  const SlideSummary summary = run(out, o);
  model_->mutable_card() = original;
  ASSERT_EQ(summary.code, ExitCode::ok);
  const json r = report(out);
  ASSERT_TRUE(r.contains("stain_normalization")) << r.dump(2);
  const json& stain = r["stain_normalization"];
  EXPECT_EQ(stain["reference"], reference);

  int status = 0;
  const std::string numpy_text = test::run_command(
      std::string(XAI_PYTHON) + " " + XAI_SOURCE_DIR + "/tests/reference/macenko_reference.py " + out + "/thumbnail.png " +
          reference + " " + dir_->file("stain-thumbnail.npy") + " " + out + "/tissue.png",
      &status);
  ASSERT_EQ(status, 0) << numpy_text;
  const json numpy = json::parse(numpy_text);
  for (const char* part : {"source", "target"})
    for (const char* stain_name : {"hematoxylin", "eosin"})
      for (int c = 0; c < 3; ++c)
        EXPECT_NEAR(stain[part][stain_name][c].get<double>(), numpy[part][stain_name][c].get<double>(), 1e-6)
            << part << " " << stain_name;
  for (int k = 0; k < 2; ++k)
    EXPECT_NEAR(stain["source"]["max_concentrations"][k].get<double>(),
                numpy["source"]["max_concentrations"][k].get<double>(), 1e-5);

  const auto plain = read_tiles_csv(fs::path(dir_->file("whole")) / "tiles.csv");
  const auto normalised = read_tiles_csv(fs::path(out) / "tiles.csv");
  ASSERT_EQ(plain.size(), normalised.size());
  double moved = 0;
  for (const auto& [cell, fields] : plain)
    moved = std::max(moved, std::abs(std::stod(fields.at("p_malignant")) - std::stod(normalised.at(cell).at("p_malignant"))));
  EXPECT_GT(moved, 1e-3) << "normalised tiles gave the same probabilities";
  // Tiles are keyed by the target stains: a normalised run does not resume an unnormalised one's tiles.
  EXPECT_NE(r["fingerprint"], report(dir_->file("whole"))["fingerprint"]);
}

// The same slide as a DICOM whole-slide image (scripts/make_test_slide.py --dicom: level 0 holds the
// TIFF's pixels exactly) gives the same tiles and probabilities as the TIFF.
TEST_F(SlideRunTest, ADicomWholeSlideImageGivesTheTiffsTiles) {
  int status = 0;
  const std::string made = test::run_command(XAI_PYTHON " " + std::string(XAI_SOURCE_DIR) + "/scripts/make_test_slide.py " +
                                                 dir_->file("again.tif") + " --dicom " + dir_->file("dicom") + " 2>&1",
                                             &status);
  ASSERT_EQ(status, 0) << made;
  const std::string out = dir_->file("from-dicom");
  SlideOptions o = options(out);
  o.top_tiles = 0;
  o.viewer = false;
  const SlideSummary summary = run_slide(*model_, dir_->file("dicom"), o);
  ASSERT_EQ(summary.code, ExitCode::ok);
  const auto tiff = read_tiles_csv(fs::path(dir_->file("whole")) / "tiles.csv");
  const auto dicom = read_tiles_csv(fs::path(out) / "tiles.csv");
  ASSERT_EQ(tiff.size(), dicom.size());
  for (const auto& [cell, fields] : tiff) {
    ASSERT_TRUE(dicom.count(cell)) << cell.first << "," << cell.second;
    EXPECT_NEAR(std::stod(fields.at("p_malignant")), std::stod(dicom.at(cell).at("p_malignant")), 1e-6);
  }
  const json r = report(out);
  EXPECT_EQ(r["slide"]["format"], "dicom");
  EXPECT_EQ(r["layout"]["level"], 0);  // the card's 0.5 µm/px from the Pixel Spacing
}

// Issue 29, item 3: RISE's map (a probability-weighted mask average, not signed) was stitched and drawn
// as a signed map. The slide takes each method's kind from the registry.
TEST_F(SlideRunTest, EachStitchedMapHasItsMethodsKind) {
  SlideOptions o = options(dir_->file("rise"));
  o.explain.methods = {"gradcam", "rise", "occlusion"};
  o.explain.rise.masks = 8;
  o.explain.rise.grid = 4;
  o.explain.occlusion.window = 48;
  o.explain.occlusion.stride = 48;
  o.mpp = 1.5;  // the coarse level: a few tiles
  o.top_tiles = 0;
  o.viewer = false;
  run(dir_->file("rise"), o);
  const json methods = report(dir_->file("rise"))["maps"]["methods"];
  ASSERT_EQ(methods.size(), 3u);
  for (const auto& m : methods)
    EXPECT_EQ(m["signed"].get<bool>(), find_method(m["method"].get<std::string>()).map_kind().is_signed) << m.dump();
  EXPECT_FALSE(methods[1]["signed"].get<bool>());
  EXPECT_TRUE(methods[2]["signed"].get<bool>());
}

// The viewer's pyramid is written while the tiles are explained. A run stopped before its end stamps
// no pyramid, so the run that completes it writes the pyramid again, whole, rather than trusting tiles
// the stopped one may not have written; the run after that keeps it.
TEST_F(SlideRunTest, AStoppedRunsPyramidIsWrittenAgainAndACompleteOneKept) {
  const std::string out = dir_->file("stopped-viewer");
  const std::atomic<int> stop{SIGINT};
  SlideOptions o = options(out);
  o.top_tiles = 0;
  o.stop = &stop;
  EXPECT_TRUE(run(out, o).stopped);
  EXPECT_FALSE(fs::exists(fs::path(out) / "viewer" / "pyramid.json"));
  EXPECT_FALSE(fs::exists(fs::path(out) / "index.html"));
  o.stop = nullptr;
  ASSERT_EQ(run(out, o).code, ExitCode::ok);
  const json written = report(out).at("viewer").at("pyramid");
  EXPECT_FALSE(written.at("reused").get<bool>());
  size_t files = 0;
  for (const auto& f : fs::recursive_directory_iterator(fs::path(out) / "viewer" / "tiles"))
    if (f.path().extension() == ".jpg") ++files;
  EXPECT_EQ(files, written.at("tiles").get<size_t>());
  const json whole = report(dir_->file("whole")).at("viewer").at("pyramid");
  EXPECT_EQ(written.at("tiles"), whole.at("tiles")) << "the same pyramid as one uninterrupted run's";
  EXPECT_EQ(written.at("levels"), whole.at("levels"));
  ASSERT_EQ(run(out, o).code, ExitCode::ok);
  EXPECT_TRUE(report(out).at("viewer").at("pyramid").at("reused").get<bool>());
}

// The viewer loads in a real browser: the pyramid's tiles and the heatmap layer load, nothing fails,
// and every file the page names exists.
TEST_F(SlideRunTest, ViewerLoadsInHeadlessChromium) {
  if (std::string(XAI_CHROMIUM).empty()) GTEST_SKIP() << "chromium is not installed";
  const fs::path out = dir_->file("whole");
  std::string data = read_text(out / "viewer" / "viewer-data.js");
  const std::string prefix = "const VIEWER = ";
  ASSERT_EQ(data.rfind(prefix, 0), 0u);
  const json viewer = json::parse(data.substr(prefix.size(), data.rfind(';') - prefix.size()));
  size_t files = 0;
  for (size_t z = 0; z < viewer["tiles"].size(); ++z)
    for (const auto& name : viewer["tiles"][z]) {
      EXPECT_TRUE(fs::exists(out / "viewer" / "tiles" / std::to_string(z) / (name.get<std::string>() + ".jpg"))) << name;
      ++files;
    }
  EXPECT_GT(files, 10u);
  for (const auto& layer : viewer["layers"]) EXPECT_TRUE(fs::exists(out / "viewer" / layer["file"].get<std::string>()));
  for (const char* f : {"viewer/leaflet/leaflet.js", "viewer/leaflet/leaflet.css"}) EXPECT_TRUE(fs::exists(out / f)) << f;
  EXPECT_EQ(viewer["layers"][viewer["shown"].get<int>()]["name"], "gradcam");

  auto check = [&] {
    const std::string dom = test::run_command(
        "timeout 120 '" + std::string(XAI_CHROMIUM) +
        "' --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --allow-file-access-from-files"
        " --window-size=1200,900 --virtual-time-budget=15000 --dump-dom 'file://" + (out / "index.html").string() +
        "#check' 2>/dev/null");
    const std::string open = "<pre id=\"viewer-check\">";
    const size_t at = dom.find(open);
    if (at == std::string::npos) {
      ADD_FAILURE() << "the page did not report:\n" << dom.substr(0, 2000);
      return json();
    }
    return json::parse(dom.substr(at + open.size(), dom.find("</pre>", at) - at - open.size()));
  };
  const json seen = check();
  EXPECT_GT(seen.value("tilesLoaded", 0), 0) << seen.dump();
  EXPECT_EQ(seen.value("tilesFailed", -1), 0) << seen.dump();
  EXPECT_TRUE(seen.value("errors", json::array()).empty()) << seen.dump();
  EXPECT_EQ(seen.value("layersShown", json::array()), json::array({"gradcam"})) << seen.dump();
  ASSERT_EQ(seen.value("heatImage", json::array()).size(), 1u) << seen.dump();
  EXPECT_GT(seen["heatImage"][0].get<int>(), 0) << "the heatmap layer's image loaded";

  // Clicking the most probable tile names it and its probabilities, as tiles.csv has them.
  const auto rows = read_tiles_csv(out / "tiles.csv");
  const std::string clicked = seen.value("clicked", "");
  ASSERT_FALSE(clicked.empty()) << seen.dump();
  const Cell cell{std::stoi(clicked.substr(0, clicked.find(','))), std::stoi(clicked.substr(clicked.find(',') + 1))};
  ASSERT_TRUE(rows.count(cell)) << clicked;
  char expected[64];
  std::snprintf(expected, sizeof expected, "P(malignant) = %.4f", std::stod(rows.at(cell).at("p_malignant")));
  const std::string popup = seen.value("popup", "");
  EXPECT_NE(popup.find("tile " + clicked), std::string::npos) << popup;
  EXPECT_NE(popup.find(expected), std::string::npos) << popup << " vs " << expected;

  // The check can fail: a layer image that went missing is reported.
  const fs::path layer = out / "viewer" / "map-gradcam.png";
  fs::rename(layer, out / "moved.png");
  const json broken = check();
  fs::rename(out / "moved.png", layer);
  EXPECT_FALSE(broken.value("errors", json::array()).empty()) << broken.dump();
}

}  // namespace
}  // namespace xai
