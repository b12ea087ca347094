// DICOM input against pydicom (tests/reference/dicom_reference.py): files written by pydicom here
// (CT with rescale and windows, MONOCHROME1 X-ray, SIGMOID VOI, multi-frame) and pydicom's own test
// files (RLE, JPEG-LS, deflate, big endian, RGB, YBR 4:2:2, JPEG, JPEG 2000, truncated, a bad VR).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "npy_reader.hpp"
#include "test_helpers.hpp"
#include "input/dicom.hpp"
#include "xai/error.hpp"
#include "xai/image.hpp"
#include "xai/inputs.hpp"

namespace xai {
namespace {

namespace fs = std::filesystem;

std::string pydicom_files() {
  int status = 0;
  std::string dir = test::run_command(
      XAI_PYTHON " -c \"import os, pydicom.data; print(os.path.dirname(pydicom.data.__file__))\" 2>/dev/null", &status);
  while (!dir.empty() && (dir.back() == '\n' || dir.back() == '\r')) dir.pop_back();
  return status == 0 ? dir + "/test_files/" : "";
}

class Dicom : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    int status = 0;
    const std::string output = test::run_command(XAI_PYTHON " " + std::string(XAI_SOURCE_DIR) +
                                                     "/tests/reference/dicom_reference.py make " + dir_->path.string() + " 2>&1",
                                                 &status);
    ASSERT_EQ(status, 0) << output;
    pydicom_ = pydicom_files();
    ASSERT_FALSE(pydicom_.empty()) << "python3-pydicom is needed (scripts/setup.sh installs it)";
  }
  static void TearDownTestSuite() { delete dir_; }

  struct Case {
    std::string file, window = "tags";
    int frame = 0;
    double tolerance = 1e-5;
  };

  static Image read(const Case& c) {
    ImageLimits limits;
    if (c.window != "tags") {
      limits.dicom.window = parse_window(c.window);
      limits.dicom.window_from = "option";
    }
    limits.dicom.frame = c.frame;
    return load_image(c.file, limits);
  }

  // Every case decoded by xai and by the reference in one Python run.
  static void compare(const std::vector<Case>& cases) {
    nlohmann::json list = nlohmann::json::array();
    for (size_t i = 0; i < cases.size(); ++i)
      list.push_back({{"file", cases[i].file}, {"window", cases[i].window}, {"frame", cases[i].frame},
                      {"out", dir_->file("expected_" + std::to_string(i) + ".npy")}});
    std::ofstream(dir_->file("cases.json")) << list.dump();
    int status = 0;
    const std::string output = test::run_command(XAI_PYTHON " " + std::string(XAI_SOURCE_DIR) +
                                                     "/tests/reference/dicom_reference.py expect " + dir_->path.string() + " 2>&1",
                                                 &status);
    ASSERT_EQ(status, 0) << output;
    for (size_t i = 0; i < cases.size(); ++i) {
      SCOPED_TRACE(cases[i].file + " window " + cases[i].window + " frame " + std::to_string(cases[i].frame));
      const Image ours = read(cases[i]);
      const test::NpyArray expected = test::read_npy(dir_->file("expected_" + std::to_string(i) + ".npy"));
      ASSERT_EQ(expected.data.size(), ours.pixels.total() * ours.pixels.channels());
      const cv::Mat flat = ours.pixels.isContinuous() ? ours.pixels : ours.pixels.clone();
      double worst = 0, lo = 1, hi = 0;
      for (size_t k = 0; k < expected.data.size(); ++k) {
        worst = std::max(worst, std::abs(double(flat.ptr<float>()[k]) - expected.data[k]));
        lo = std::min(lo, double(expected.data[k]));
        hi = std::max(hi, double(expected.data[k]));
      }
      EXPECT_LE(worst, cases[i].tolerance);
      EXPECT_GT(hi - lo, 0.05) << "a flat image would match too easily";
      ASSERT_TRUE(ours.dicom.has_value());
    }
  }

  static std::string generated(const std::string& name) { return dir_->file(name); }
  static std::string bundled(const std::string& name) { return pydicom_ + name; }

  static test::TempDir* dir_;
  static std::string pydicom_;
};
test::TempDir* Dicom::dir_ = nullptr;
std::string Dicom::pydicom_;

TEST_F(Dicom, WindowsRescaleAndPhotometricsEqualPydicom) {
  compare({
      {generated("ct.dcm")},                       // the first of two windows (40/80), slope 0.5, intercept -1024
      {generated("ct.dcm"), "brain"},              // presets are given windows
      {generated("ct.dcm"), "-600,1500"},
      {generated("ct.dcm"), "minmax"},
      {generated("ct.dcm"), "percentile:2"},
      {generated("IM0001")},                       // no extension
      {generated("xray.dcm")},                     // MONOCHROME1, 12 of 16 bits
      {generated("sigmoid.dcm")},                  // VOI LUT function SIGMOID
      {generated("multi.dcm")},                    // no window: the value range; the middle frame
      {generated("multi.dcm"), "tags", 1},
      {generated("multi.dcm"), "tags", 3},
      {bundled("MR_small.dcm")},                   // signed 16-bit
      {bundled("MR_small_bigendian.dcm")},
      {bundled("image_dfl.dcm")},                  // deflated transfer syntax
      {bundled("CT_small.dcm")},
      {bundled("SC_rgb_rle_2frame.dcm"), "tags", 1},
      {bundled("SC_rgb_rle_2frame.dcm"), "tags", 2},
      {bundled("SC_ybr_full_422_uncompressed.dcm"), "tags", 0, 2.0 / 255},  // rounding of the YCbCr equations
  });
}

TEST_F(Dicom, CompressedFilesDecodeToTheUncompressedPixels) {
  const Image plain = read({bundled("MR_small.dcm")});
  for (const char* name : {"MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm"}) {
    SCOPED_TRACE(name);
    const Image compressed = read({bundled(name)});
    EXPECT_EQ(cv::norm(compressed.pixels, plain.pixels, cv::NORM_INF), 0.0);
    EXPECT_NE(compressed.dicom->transfer_syntax, plain.dicom->transfer_syntax);
  }
  // Lossy JPEG (baseline YCbCr, extended 12-bit): decoded, with the file's size.
  const Image jpeg = read({bundled("SC_rgb_jpeg_dcmtk.dcm")});
  EXPECT_EQ(jpeg.pixels.channels(), 3);
  const Image extended = read({bundled("JPGExtended.dcm")});
  EXPECT_EQ(extended.pixels.channels(), 1);
  EXPECT_EQ(extended.dicom->bits_stored, 12);
}

TEST_F(Dicom, WhatCannotBeReadIsAOneLineInputError) {
  struct Bad {
    std::string file, says;
    int frame = 0;
  };
  const std::vector<Bad> bad = {
      {bundled("JPEG2000.dcm"), "JPEG 2000"},
      {bundled("MR_truncated.dcm"), "MR_truncated.dcm"},
      {bundled("badVR.dcm"), "32 bits allocated"},
      {generated("notdicom.dcm"), "not a readable DICOM file"},
      {generated("multi.dcm"), "has 3 frame(s)", 4},
  };
  for (const auto& b : bad) {
    SCOPED_TRACE(b.file);
    try {
      read({b.file, "tags", b.frame});
      ADD_FAILURE() << "expected an input error";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::input);
      const std::string what = e.what();
      EXPECT_NE(what.find(b.says), std::string::npos) << what;
      EXPECT_NE(what.find(fs::path(b.file).filename().string()), std::string::npos) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
  }
}

TEST_F(Dicom, ReportFieldsAndWindowParsing) {
  const Image ct = read({generated("ct.dcm")});
  EXPECT_EQ(ct.dicom->modality, "CT");
  EXPECT_EQ(ct.dicom->window_source, "tags");
  EXPECT_DOUBLE_EQ(ct.dicom->window_center, 40);
  EXPECT_DOUBLE_EQ(ct.dicom->rescale_slope, 0.5);
  EXPECT_DOUBLE_EQ(ct.dicom->rescale_intercept, -1024);
  EXPECT_EQ(read({generated("ct.dcm"), "lung"}).dicom->window_source, "preset lung (dicom_window)");
  const Image multi = read({generated("multi.dcm")});
  EXPECT_EQ(multi.dicom->frame, 2);
  EXPECT_EQ(multi.dicom->frames, 3);
  ASSERT_EQ(multi.warnings.size(), 1u);
  EXPECT_NE(multi.warnings[0].find("frame 2 of 3"), std::string::npos);
  EXPECT_TRUE(read({generated("xray.dcm")}).dicom->inverted);
  for (const char* bad : {"40", "40,0", "a,b", "percentile:50", "percentile:", "brainy", "40,80,1", "nan,80"})
    EXPECT_THROW(parse_window(bad), Error) << bad;
  EXPECT_EQ(parse_window("percentile:1.5").percentile, 1.5);
  EXPECT_TRUE(is_extensionless_dicom(generated("IM0001")));
  EXPECT_FALSE(is_extensionless_dicom(generated("notdicom.dcm")));
}

}  // namespace
}  // namespace xai
