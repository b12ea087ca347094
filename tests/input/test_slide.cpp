// Whole-slide reading through OpenSlide, on a pyramidal tiled TIFF written here by libvips from an
// image of known pixels (lossless, so level 0 must equal it exactly).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "test_helpers.hpp"
#include "xai/error.hpp"
#include "input/slide.hpp"

namespace xai {
namespace {

TEST(Slide, PyramidalTiffLevelsRegionsMppAndThumbnail) {
  test::TempDir dir;
  cv::Mat image(2000, 3000, CV_8UC3);
  cv::randu(image, 0, 256);
  cv::imwrite(dir.file("slide.png"), image);
  int status = 0;
  // 2000 pixels per mm: 0.5 microns per pixel.
  const std::string out = test::run_command("vips tiffsave " + dir.file("slide.png") + " " + dir.file("slide.tif") +
                                                " --tile --pyramid --tile-width 256 --tile-height 256 --compression deflate"
                                                " --xres 2000 --yres 2000 2>&1",
                                            &status);
  ASSERT_EQ(status, 0) << "vips (Debian's libvips-tools) is needed: " << out;
  const Slide slide = Slide::open(dir.file("slide.tif"));
  const SlideInfo& info = slide.info();
  ASSERT_GE(info.levels.size(), 3u);
  EXPECT_EQ(info.levels[0].width, 3000);
  EXPECT_EQ(info.levels[0].height, 2000);
  EXPECT_NEAR(info.levels[1].downsample, 2.0, 1e-3);
  ASSERT_TRUE(info.mpp_x.has_value());
  EXPECT_NEAR(*info.mpp_x, 0.5, 1e-6);
  EXPECT_EQ(info.vendor, "generic-tiff");
  const cv::Mat region = slide.read_region(1000, 500, 0, 300, 200);
  EXPECT_EQ(cv::norm(region, image(cv::Rect(1000, 500, 300, 200)), cv::NORM_INF), 0);
  // Level 1 at level-0 (1000, 500): each pixel the mean of a 2x2 block (rounded).
  const cv::Mat half = slide.read_region(1000, 500, 1, 50, 40);
  cv::Mat expected;
  cv::resize(image(cv::Rect(1000, 500, 100, 80)), expected, {50, 40}, 0, 0, cv::INTER_AREA);
  EXPECT_LE(cv::norm(half, expected, cv::NORM_INF), 1);
  // Past the slide's edge: no scan, white.
  const cv::Mat outside = slide.read_region(2990, 0, 0, 20, 4);
  EXPECT_EQ(outside.at<cv::Vec3b>(0, 15), cv::Vec3b(255, 255, 255));
  double downsample = 0;
  const cv::Mat thumb = slide.thumbnail(300, &downsample);
  EXPECT_EQ(thumb.size(), cv::Size(300, 200));
  EXPECT_NEAR(downsample, 10.0, 1e-9);
  EXPECT_EQ(slide.level_for_downsample(3.0), 1);
  EXPECT_EQ(slide.level_for_downsample(1.0), 0);
  // Only technical properties are exposed.
  for (const auto& [name, value] : info.properties)
    EXPECT_TRUE(name.rfind("openslide.", 0) == 0 || name == "tiff.ResolutionUnit" || name == "tiff.XResolution" ||
                name == "tiff.YResolution")
        << name;
}

// Issue 29, item 4: libvips (like most TIFF writers) stores 72 dpi when told nothing, which read as a
// scan at 353 µm per pixel and refused every run. No microscope scans that coarse: unknown, with a warning.
TEST(Slide, AWritersDefaultResolutionIsUnknownNotBelieved) {
  test::TempDir dir;
  cv::Mat image(600, 900, CV_8UC3, cv::Scalar(200, 180, 220));
  cv::imwrite(dir.file("slide.png"), image);
  int status = 0;
  const std::string out = test::run_command("vips tiffsave " + dir.file("slide.png") + " " + dir.file("slide.tif") +
                                                " --tile --pyramid --tile-width 256 --tile-height 256"
                                                " --xres 2.834645669 --yres 2.834645669 2>&1",  // 72 dpi, in pixels per mm
                                            &status);
  ASSERT_EQ(status, 0) << out;
  const Slide slide = Slide::open(dir.file("slide.tif"));
  EXPECT_FALSE(slide.info().mpp_x.has_value());
  EXPECT_FALSE(slide.info().mpp_y.has_value());
  ASSERT_EQ(slide.info().warnings.size(), 1u);
  EXPECT_NE(slide.info().warnings[0].find("352.8 µm per pixel"), std::string::npos) << slide.info().warnings[0];
  EXPECT_NE(slide.info().warnings[0].find("unknown"), std::string::npos);
  // The raw tags stay in the properties (what the file says), only the resolution is not believed.
  EXPECT_EQ(slide.info().properties.count("tiff.XResolution"), 1u);
  EXPECT_GT(kCoarsestPlausibleMpp, 10.0);  // 0.1-10 µm/px: every scanner; 100: the bound
}

TEST(Slide, NotASlideIsAnInputError) {
  test::TempDir dir;
  std::ofstream(dir.file("notes.svs")) << "not a slide";
  try {
    Slide::open(dir.file("notes.svs"));
    FAIL() << "opened a text file";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::input);
    EXPECT_NE(std::string(e.what()).find("notes.svs"), std::string::npos) << e.what();
  }
  EXPECT_EQ(mpp_from_resolution("2000", "centimeter"), 5.0);
  EXPECT_FALSE(mpp_from_resolution("0", "centimeter").has_value());
  EXPECT_FALSE(mpp_from_resolution("300", "none").has_value());
}

// DICOM whole-slide images (Supplement 145) as scripts/make_test_slide.py --dicom writes them with
// pydicom: the same slide as its pyramidal TIFF, level 0 TILED_FULL uncompressed (so equal pixel for
// pixel), level 1 TILED_SPARSE without its glass tiles, level 2 JPEG baseline.
TEST(Slide, DicomWholeSlideLevelsEqualTheTiffs) {
  test::TempDir dir;
  int status = 0;
  const std::string made = test::run_command(std::string(XAI_PYTHON) + " " + XAI_SOURCE_DIR +
                                                 "/scripts/make_test_slide.py " + dir.file("slide.tif") + " --dicom " +
                                                 dir.file("dicom") + " 2>&1",
                                             &status);
  ASSERT_EQ(status, 0) << made;
  const Slide tiff = Slide::open(dir.file("slide.tif"));
  for (const std::string& path : {dir.file("dicom"), dir.file("dicom") + "/level-2.dcm"}) {
    SCOPED_TRACE(path);
    const Slide dicom = Slide::open(path);  // the folder, or any one of its instances
    const SlideInfo& info = dicom.info();
    EXPECT_EQ(info.vendor, "dicom");
    ASSERT_EQ(info.levels.size(), 3u);
    EXPECT_EQ(info.levels[0].width, 2304);
    EXPECT_EQ(info.levels[0].height, 1536);
    EXPECT_DOUBLE_EQ(info.levels[1].downsample, 2.0);
    EXPECT_DOUBLE_EQ(info.levels[2].downsample, 4.0);
    ASSERT_TRUE(info.mpp_x.has_value());
    EXPECT_NEAR(*info.mpp_x, 0.5, 1e-9);
    EXPECT_EQ(info.properties.count("dicom.hash"), 1u);
    // Level 0, across tile boundaries and over the last column's overhang: the TIFF's pixels exactly.
    for (const cv::Rect r : {cv::Rect(200, 190, 300, 150), cv::Rect(2200, 1400, 104, 136), cv::Rect(0, 0, 96, 96)})
      EXPECT_EQ(cv::norm(dicom.read_region(r.x, r.y, 0, r.width, r.height), tiff.read_region(r.x, r.y, 0, r.width, r.height),
                         cv::NORM_INF),
                0)
          << r;
    // Level 1: a stored tile is level 0 shrunk by area averaging (as the writer did); a glass tile the
    // writer left out is white.
    const cv::Mat level0 = tiff.read_region(0, 0, 0, 2304, 1536);
    cv::Mat half, quarter;
    cv::resize(level0, half, {1152, 768}, 0, 0, cv::INTER_AREA);
    cv::resize(half, quarter, {576, 384}, 0, 0, cv::INTER_AREA);
    EXPECT_LE(cv::norm(dicom.read_region(2 * 300, 2 * 300, 1, 200, 150), half(cv::Rect(300, 300, 200, 150)), cv::NORM_INF), 1);
    EXPECT_EQ(dicom.read_region(2 * 1100, 0, 1, 8, 8).at<cv::Vec3b>(4, 4), cv::Vec3b(255, 255, 255));  // tile (4, 0)
    // Level 2, JPEG (quality 95): close, not equal.
    cv::Mat difference;
    cv::absdiff(dicom.read_region(0, 0, 2, 576, 384), quarter, difference);
    EXPECT_LT(cv::mean(difference)[0], 3.0);
    // Reading from several threads at once gives the same pixels.
    std::vector<cv::Mat> parallel(4);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) threads.emplace_back([&, t] { parallel[t] = dicom.read_region(512 * t, 256, 0, 300, 300); });
    for (auto& t : threads) t.join();
    for (int t = 0; t < 4; ++t) EXPECT_EQ(cv::norm(parallel[t], level0(cv::Rect(512 * t, 256, 300, 300)), cv::NORM_INF), 0);
  }
}

TEST(Slide, DicomFilesThatAreNoWholeSlideAreRefusedNamingThem) {
  test::TempDir dir;
  // A CT image from pydicom's test files is DICOM, but no whole-slide image.
  int status = 0;
  const std::string ct = test::run_command(std::string(XAI_PYTHON) +
                                               " -c 'from pydicom.data import get_testdata_file; print(get_testdata_file(\"CT_small.dcm\"))'",
                                           &status);
  ASSERT_EQ(status, 0) << ct;
  const std::string ct_path = ct.substr(0, ct.find_last_not_of("\n") + 1);
  try {
    Slide::open(ct_path);
    ADD_FAILURE() << "a CT file opened as a slide";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::input);
    EXPECT_NE(std::string(e.what()).find("not a DICOM whole-slide image"), std::string::npos) << e.what();
  }
  std::filesystem::create_directories(dir.file("empty"));
  EXPECT_THROW(Slide::open(dir.file("empty")), Error);
}

}  // namespace
}  // namespace xai
