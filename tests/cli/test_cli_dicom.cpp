// DICOM end to end: explained like any image (the same map as the equivalent 16-bit PNG), found by
// batch with and without an extension, and no identifying attribute in any output.
#include <opencv2/imgcodecs.hpp>

#include "cli_fixture.hpp"
#include "npy_reader.hpp"
#include "xai/image.hpp"

namespace {

using namespace xai::e2e;
namespace fs = std::filesystem;

class CliDicom : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    int status = 0;
    const std::string output = xai::test::run_command(XAI_PYTHON " " + std::string(XAI_SOURCE_DIR) +
                                                          "/tests/reference/dicom_reference.py make " + in("dicom").string() + " 2>&1",
                                                      &status);
    ASSERT_EQ(status, 0) << output;
  }
  // Every text a user or a browser could see in OUT, for the identifying values written into the files.
  void expect_no_identifiers(const fs::path& dir) {
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
      if (!entry.is_regular_file()) continue;
      const std::string bytes = read_bytes(entry.path());
      for (const char* value : {"DOE^JANE", "DOE", "PID-12345", "19700101", "ACC-777", "Sunnybrook", "20260101", "WHO^DR"})
        EXPECT_EQ(bytes.find(value), std::string::npos) << entry.path() << " contains " << value;
    }
  }
};

TEST_F(CliDicom, SameMapAsThePngOfTheWindowedImageAndNoIdentifiers) {
  const std::string tiny = model("tiny-scripted.pt");
  const fs::path ct = in("dicom") / "ct.dcm";
  // The windowed image as a 16-bit PNG: what a user would have converted by hand.
  const xai::Image windowed = xai::load_image(ct.string());
  cv::Mat png16;
  windowed.pixels.convertTo(png16, CV_16U, 65535.0);
  cv::imwrite(in("ct.png").string(), png16);
  const RunResult dicom = xai({"explain", "-q", "-m", tiny, ct.string(), "-o", (root_ / "a").string()});
  ASSERT_EQ(dicom.code, 0) << dicom;
  const RunResult png = xai({"explain", "-q", "-m", tiny, in("ct.png").string(), "-o", (root_ / "b").string()});
  ASSERT_EQ(png.code, 0) << png;
  const auto a = xai::test::read_npy((root_ / "a" / "ct.gradcam.npy").string());
  const auto b = xai::test::read_npy((root_ / "b" / "ct.gradcam.npy").string());
  ASSERT_EQ(a.data.size(), b.data.size());
  double worst = 0;
  for (size_t i = 0; i < a.data.size(); ++i) worst = std::max(worst, double(std::abs(a.data[i] - b.data[i])));
  EXPECT_LT(worst, 1e-3) << "16-bit quantisation is the only difference";
  const auto report = nlohmann::json::parse(read_bytes(root_ / "a" / "ct.json"));
  const auto& d = report.at("input").at("dicom");
  EXPECT_EQ(d.at("modality"), "CT");
  EXPECT_EQ(d.at("window").at("center"), 40.0);
  EXPECT_EQ(d.at("window").at("source"), "tags");
  EXPECT_EQ(d.at("rescale").at("slope"), 0.5);
  expect_no_identifiers(root_ / "a");

  // A preset window changes the image, hence the map; the report says which.
  const RunResult bone = xai({"explain", "-q", "-m", tiny, ct.string(), "--dicom-window", "bone", "-o", (root_ / "c").string()});
  ASSERT_EQ(bone.code, 0) << bone;
  const auto c = nlohmann::json::parse(read_bytes(root_ / "c" / "ct.json"));
  EXPECT_EQ(c.at("input").at("dicom").at("window").at("source"), "preset bone (--dicom-window)");
  expect_error(xai({"explain", "-m", tiny, ct.string(), "--dicom-window", "40", "-o", (root_ / "d").string()}), 2,
               {"--dicom-window 40", "C,W"});
}

TEST_F(CliDicom, BatchFindsDicomWithAndWithoutExtensionAmongOtherFiles) {
  const fs::path mixed = in("mixed");
  fs::create_directories(mixed / "sub");
  fs::copy_file(in("dicom") / "ct.dcm", mixed / "ct.dcm");
  fs::copy_file(in("dicom") / "IM0001", mixed / "sub" / "IM0001");
  fs::copy_file(in("dicom") / "xray.dcm", mixed / "sub" / "1.2.840.99.7");  // named by UID
  fs::copy_file(in("dicom") / "notdicom.dcm", mixed / "broken.dcm");
  cv::imwrite((mixed / "patch.png").string(), test_image(48, 40, 1));
  write_bytes(mixed / "notes.txt", "not an image\n");
  write_bytes(mixed / "README", "no extension, not DICOM\n");
  const RunResult r = xai({"batch", "-m", model("tiny-scripted.pt"), mixed.string(), "-o", out_dir().string(),
                           "--dicom-window", "lung"});
  EXPECT_EQ(r.code, 8) << "the broken .dcm fails, the rest is written\n" << r;
  EXPECT_NE(r.err.find("4 explained, 0 already done, 1 failed"), std::string::npos) << r;
  EXPECT_NE(r.err.find("broken.dcm: not a readable DICOM file"), std::string::npos) << r;
  const std::string csv = read_bytes(out_dir() / "summary.csv");
  for (const char* name : {"ct.dcm", "IM0001", "1.2.840.99.7", "patch.png"}) EXPECT_NE(csv.find(name), std::string::npos) << name;
  // --dicom-window applies to the DICOM files; the PNG says it was read as stored.
  const auto png_report = nlohmann::json::parse(read_bytes(out_dir() / "patch.json"));
  EXPECT_NE(png_report.at("warnings").dump().find("--dicom-window applies to DICOM files only"), std::string::npos);
  expect_no_identifiers(out_dir());
}

// Issue 29, item 9: UID-named files lost their last dotted part in output names (1.2.840.99.7 ->
// 1.2.840.99.*), so a sibling 1.2.840.99.8 made both "share a stem" and renamed the first one's outputs.
TEST_F(CliDicom, UidNamedFilesKeepTheirWholeNameAndASiblingRenamesNothing) {
  const fs::path series = in("series");
  fs::create_directories(series);
  fs::copy_file(in("dicom") / "xray.dcm", series / "1.2.840.99.7");
  RunResult r = xai({"batch", "-m", model("tiny-scripted.pt"), series.string(), "-o", out_dir().string()});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_TRUE(fs::exists(out_dir() / "1.2.840.99.7.json")) << r;
  EXPECT_TRUE(fs::exists(out_dir() / "1.2.840.99.7.gradcam.png"));
  fs::copy_file(in("dicom") / "xray.dcm", series / "1.2.840.99.8");
  r = xai({"batch", "-m", model("tiny-scripted.pt"), series.string(), "-o", out_dir().string()});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_NE(r.err.find("1 explained, 1 already done"), std::string::npos) << r;
  for (const char* name : {"1.2.840.99.7.json", "1.2.840.99.8.json", "1.2.840.99.7.gradcam.png", "1.2.840.99.8.gradcam.png"})
    EXPECT_TRUE(fs::exists(out_dir() / name)) << name;
  EXPECT_FALSE(fs::exists(out_dir() / "1.2.840.99.json"));
  // explain names its outputs the same way.
  r = xai({"explain", "-q", "-m", model("tiny-scripted.pt"), (series / "1.2.840.99.8").string(), "-o", in("one").string()});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_TRUE(fs::exists(in("one") / "1.2.840.99.8.json"));
}

// --frames all: every frame of a multi-frame file is an input of its own (STEM.fNNN.*), each the same
// as asking for that frame with --frame; a file declaring more frames than it holds fails alone.
TEST_F(CliDicom, FramesAllExplainsEveryFrameAsItsOwnInput) {
  const std::string tiny = model("tiny-scripted.pt");
  const fs::path multi = in("dicom") / "multi.dcm";
  const RunResult all = xai({"explain", "-q", "-m", tiny, multi.string(), "--frames", "all", "-o", (root_ / "all").string()});
  ASSERT_EQ(all.code, 0) << all;
  EXPECT_EQ(all.err.find("the middle one"), std::string::npos) << "no frame was chosen for the user\n" << all;
  EXPECT_FALSE(fs::exists(root_ / "all" / "multi.json"));
  for (int frame = 1; frame <= 3; ++frame) {
    const std::string stem = "multi.f00" + std::to_string(frame);
    const auto report = nlohmann::json::parse(read_bytes(root_ / "all" / (stem + ".json")));
    EXPECT_EQ(report.at("input").at("dicom").at("frame"), frame);
    EXPECT_EQ(report.at("input").at("dicom").at("frames"), 3);
    const fs::path one = root_ / ("one" + std::to_string(frame));
    ASSERT_EQ(xai({"explain", "-q", "-m", tiny, multi.string(), "--frame", std::to_string(frame), "-o", one.string()}).code, 0);
    // The same frame: the same map (a later pass of the same process may use other kernels: 1e-6).
    EXPECT_LT(max_abs_diff(read_map(root_ / "all" / (stem + ".gradcam.npy")), read_map(one / "multi.gradcam.npy")), 1e-6)
        << "frame " << frame;
  }
  // The frames differ, so their maps do.
  EXPECT_NE(xai::test::read_npy((root_ / "all" / "multi.f001.gradcam.npy").string()).data,
            xai::test::read_npy((root_ / "all" / "multi.f003.gradcam.npy").string()).data);
  expect_error(xai({"explain", "-m", tiny, multi.string(), "--frames", "all", "--frame", "2"}), 2, {"--frames", "--frame"});
  expect_error(xai({"explain", "-m", tiny, multi.string(), "--frames", "2"}), 2, {"--frames"});

  // Batch: the frames, a single-frame file and a PNG; a copy of the file that declares 9 frames but
  // holds 3 fails on its own. Resuming redoes nothing that was written.
  const fs::path mixed = in("frames");
  fs::create_directories(mixed);
  fs::copy_file(multi, mixed / "multi.dcm");
  fs::copy_file(in("dicom") / "ct.dcm", mixed / "ct.dcm");
  cv::imwrite((mixed / "patch.png").string(), test_image(48, 40, 1));
  std::string forged = read_bytes(multi);
  const std::string frames_element("\x28\x00\x08\x00IS\x02\x00" "3", 9);
  const size_t at = forged.find(frames_element);
  ASSERT_NE(at, std::string::npos) << "Number of Frames (0028,0008) IS \"3 \"";
  forged[at + 8] = '9';
  write_bytes(mixed / "forged.dcm", forged);
  const std::vector<std::string> batch = {"batch", "-m", tiny, mixed.string(), "-o", out_dir().string(), "--frames", "all"};
  const RunResult first = xai(batch);
  EXPECT_EQ(first.code, 8) << first;
  EXPECT_NE(first.err.find("5 explained, 0 already done, 1 failed"), std::string::npos) << first;
  EXPECT_NE(first.err.find("forged.dcm: --frames all: the file declares 9 frames"), std::string::npos) << first;
  for (const char* stem : {"multi.f001", "multi.f002", "multi.f003", "ct", "patch"})
    EXPECT_TRUE(fs::exists(out_dir() / (std::string(stem) + ".json"))) << stem;
  const std::string csv = read_bytes(out_dir() / "summary.csv");
  for (const char* id : {"multi.dcm#f001", "multi.dcm#f002", "multi.dcm#f003"}) EXPECT_NE(csv.find(id), std::string::npos) << id;
  EXPECT_LT(max_abs_diff(read_map(out_dir() / "multi.f002.gradcam.npy"), read_map(root_ / "one2" / "multi.gradcam.npy")),
            1e-6);
  const RunResult again = xai(batch);
  EXPECT_EQ(again.code, 8) << again;
  EXPECT_NE(again.err.find("0 explained, 5 already done, 1 failed"), std::string::npos) << again;
  // Without --frames all each file is one input (the middle frame, with a warning; the forged file's
  // middle frame is past its data).
  const RunResult whole = xai({"batch", "-m", tiny, mixed.string(), "-o", (root_ / "whole").string()});
  EXPECT_NE(whole.err.find("3 explained, 0 already done, 1 failed"), std::string::npos) << whole;
  EXPECT_TRUE(fs::exists(root_ / "whole" / "multi.json"));
}

}  // namespace
