// Shared helpers for the unit tests.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>

#include <filesystem>
#include <random>
#include <regex>
#include <string>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "input/preprocess.hpp"

namespace xai::test {

inline std::string model_path(const std::string& name) { return std::string(XAI_MODELS_DIR) + "/" + name; }
inline std::string data_path(const std::string& name) { return std::string(XAI_TEST_DATA) + "/" + name; }

// The example patches as committed (examples/patches/{benign,malignant}-N.png and their masks), copied
// once per build folder: what a user has written into the checkout (the quick start's xai-out/, a
// stray file) never reaches a test. `from` is for the test of this helper itself.
inline std::string pristine_copy(const std::filesystem::path& from, const std::filesystem::path& to) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(to, ec)) return to.string();
  // Built beside and renamed into place: tests running side by side never see half a copy.
  const fs::path building = to.string() + ".building-" + std::to_string(::getpid());
  fs::create_directories(building);
  static const std::regex committed(R"((benign|malignant)-[0-9]+(\.mask)?\.png)");
  for (const auto& entry : fs::directory_iterator(from))
    if (entry.is_regular_file() && std::regex_match(entry.path().filename().string(), committed))
      fs::copy_file(entry.path(), building / entry.path().filename());
  fs::rename(building, to, ec);
  if (ec) fs::remove_all(building, ec);  // another test was first: its copy is the same
  return to.string();
}
inline std::string example_patches() {
  return pristine_copy(std::filesystem::path(XAI_SOURCE_DIR) / "examples/patches",
                       std::filesystem::path(XAI_BUILD_DIR) / "test-examples" / "patches");
}

// A deterministic smooth random input of the given shape (already normalised).
inline InputBlob random_blob(int channels, int height, int width, unsigned seed) {
  InputBlob blob{channels, height, width, {}};
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  blob.values.resize(static_cast<size_t>(channels) * height * width);
  for (auto& v : blob.values) v = noise(rng);
  return blob;
}

// A JPEG with an EXIF APP1 segment after SOI that declares `orientation` (1..8): a little-endian TIFF
// block with one IFD entry, tag 0x0112 (Orientation), type SHORT, count 1.
inline std::string with_exif_orientation(const std::string& jpeg, int orientation) {
  std::string tiff = std::string("II*\0", 4) + std::string("\x08\0\0\0", 4);  // header, IFD at offset 8
  tiff += std::string("\x01\0", 2);                                            // one entry
  tiff += std::string("\x12\x01\x03\0\x01\0\0\0", 8);                          // 0x0112, SHORT, count 1
  tiff += static_cast<char>(orientation), tiff += std::string(3, '\0');          // value, padded
  tiff += std::string(4, '\0');                                                 // no next IFD
  const std::string payload = std::string("Exif\0\0", 6) + tiff;
  const size_t length = payload.size() + 2;
  std::string segment = "\xff\xe1";
  segment += static_cast<char>(length >> 8), segment += static_cast<char>(length & 0xff);
  return jpeg.substr(0, 2) + segment + payload + jpeg.substr(2);
}

// A PNG chunk: length, type, data and the CRC-32 of type and data (zlib's CRC, computed bit by bit
// here: independent of xai's table).
inline std::string png_chunk(const std::string& type, const std::string& data) {
  const std::string body = type + data;
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : body) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
  }
  c ^= 0xFFFFFFFFu;
  auto be = [](uint32_t v) {
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
  };
  return be(static_cast<uint32_t>(data.size())) + body + be(c);
}

// A temporary directory removed when the object goes out of scope.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::temp_directory_path() /
           ("xai-test-" + std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

// DIR/NAME.png: a smooth random 8-bit RGB picture (blurred noise: texture a model reacts to, never
// flat), for tests that compare against a reference on a real image file. Returns the path.
inline std::string write_random_picture(const TempDir& dir, const std::string& name, int size = 64) {
  cv::Mat picture(size, size, CV_8UC3);
  cv::randu(picture, 0, 255);
  cv::GaussianBlur(picture, picture, cv::Size(0, 0), 2);
  cv::imwrite(dir.file(name), picture);
  return dir.file(name);
}

// A test with its own temporary directory `dir_`, removed afterwards.
class TempDirTest : public ::testing::Test {
 protected:
  TempDir temp_;
  const std::filesystem::path& dir_ = temp_.path;
};

// Standard output of a shell command ("" if it could not be started); `status`, if given, gets
// pclose()'s result.
inline std::string run_command(const std::string& command, int* status = nullptr) {
  std::string output;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return output;
  char chunk[65536];
  for (size_t n; (n = std::fread(chunk, 1, sizeof(chunk), pipe)) > 0;) output.append(chunk, n);
  const int result = ::pclose(pipe);
  if (status) *status = result;
  return output;
}

}  // namespace xai::test
