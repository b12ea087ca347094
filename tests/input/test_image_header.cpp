#include "input/image_header.hpp"

#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include "test_helpers.hpp"
#include "xai/error.hpp"

namespace xai {
namespace {

std::string encode(const cv::Mat& image, const std::string& ext, const std::vector<int>& params = {}) {
  std::vector<uchar> bytes;
  EXPECT_TRUE(cv::imencode(ext, image, bytes, params)) << ext;
  return std::string(bytes.begin(), bytes.end());
}

// The header must declare what the decoder then produces: format, size, channels and depth, for every
// format and sample layout OpenCV writes (the decoder is the independent reference).
TEST(ImageHeader, DeclaresWhatTheDecoderProduces) {
  struct Case {
    std::string ext;
    ImageFormat format;
  };
  const std::vector<Case> cases = {{".png", ImageFormat::png},   {".jpg", ImageFormat::jpeg}, {".tiff", ImageFormat::tiff},
                                   {".bmp", ImageFormat::bmp},   {".pgm", ImageFormat::pnm},  {".ppm", ImageFormat::pnm},
                                   {".webp", ImageFormat::webp}, {".pam", ImageFormat::pnm}};
  for (const auto& c : cases)
    for (int type : {CV_8UC1, CV_8UC3, CV_16UC1, CV_16UC3, CV_8UC4, CV_32FC1}) {
      const bool sixteen = CV_MAT_DEPTH(type) == CV_16U, four = CV_MAT_CN(type) == 4, is_float = CV_MAT_DEPTH(type) == CV_32F;
      if (sixteen && (c.ext == ".jpg" || c.ext == ".bmp" || c.ext == ".webp" || c.ext == ".pam")) continue;
      if (four && c.ext != ".png" && c.ext != ".tiff" && c.ext != ".webp") continue;
      if (is_float && c.ext != ".tiff") continue;
      if (c.ext == ".pgm" && CV_MAT_CN(type) != 1) continue;
      if (c.ext == ".ppm" && CV_MAT_CN(type) != 3) continue;
      if (!cv::haveImageWriter("x" + c.ext)) continue;
      cv::Mat image(23, 37, type);
      cv::randu(image, 0, is_float ? 1 : 200);
      const std::string bytes = encode(image, c.ext, c.ext == ".webp" ? std::vector<int>{cv::IMWRITE_WEBP_QUALITY, 101}
                                                                      : std::vector<int>{});
      const cv::Mat decoded = cv::imdecode(std::vector<uchar>(bytes.begin(), bytes.end()), cv::IMREAD_UNCHANGED);
      SCOPED_TRACE(c.ext + " type " + std::to_string(type));
      ASSERT_FALSE(decoded.empty());
      const ImageHeader header = read_image_header(bytes);
      EXPECT_EQ(header.format, c.format);
      EXPECT_TRUE(header.refusal.empty()) << header.refusal;
      EXPECT_EQ(header.width, 37u);
      EXPECT_EQ(header.height, 23u);
      EXPECT_FALSE(header.more_frames);
      // The estimate may count an alpha channel the decoder does not produce, never fewer samples.
      EXPECT_GE(header.channels, decoded.channels());
      EXPECT_EQ(header.bits_per_sample > 16 ? 32 : header.bits_per_sample > 8 ? 16 : 8,
                decoded.depth() == CV_8U ? 8 : decoded.depth() == CV_16U ? 16 : 32);
      EXPECT_GE(header.decoded_bytes(), decoded.total() * decoded.elemSize());
    }
}

TEST(ImageHeader, RefusedFormatsAreNamed) {
  std::string dicom(128, '\0');
  dicom += "DICM";
  dicom += std::string(64, '\x02');
  EXPECT_EQ(read_image_header(dicom).format_name, "DICOM");
  EXPECT_NE(read_image_header(dicom).refusal.find("DICOM is read as an image to explain"), std::string::npos);
  // A DICOM file whose preamble is a TIFF header (dual-format files) is DICOM, never handed to libtiff.
  std::string dual = encode(cv::Mat(8, 8, CV_8UC1, cv::Scalar(3)), ".tiff");
  dual.resize(128, '\0');
  dual += "DICM";
  EXPECT_EQ(read_image_header(dual).format_name, "DICOM");
  EXPECT_EQ(read_image_header("GIF89a\x01\x00\x01\x00").format_name, "GIF");
  EXPECT_EQ(read_image_header(std::string("\0\0\0\x0cjP  \r\n\x87\n", 12) + "xxxx").format_name, "JPEG 2000");
  EXPECT_EQ(read_image_header("PF\n3 2\n-1\n").format_name, "PFM");
  EXPECT_EQ(read_image_header("#?RADIANCE\n").format_name, "Radiance HDR");
  const ImageHeader text = read_image_header("hello, I am text");
  EXPECT_EQ(text.format, ImageFormat::unknown);
  EXPECT_NE(text.refusal.find("unknown format"), std::string::npos);
  if (cv::haveImageWriter("x.pfm")) EXPECT_EQ(read_image_header(encode(cv::Mat(4, 4, CV_32FC1, 0.5), ".pfm")).format_name, "PFM");
  if (cv::haveImageWriter("x.hdr"))
    EXPECT_EQ(read_image_header(encode(cv::Mat(4, 4, CV_32FC3, cv::Scalar(0.5, 0.5, 0.5)), ".hdr")).format_name, "Radiance HDR");
}

TEST(ImageHeader, OrientationAndFramesAreReported) {
  const std::string jpeg = encode(cv::Mat(10, 20, CV_8UC3, cv::Scalar(1, 2, 3)), ".jpg");
  EXPECT_EQ(read_image_header(jpeg).exif_orientation, 0);
  for (int orientation = 1; orientation <= 8; ++orientation) {
    const ImageHeader h = read_image_header(test::with_exif_orientation(jpeg, orientation));
    EXPECT_EQ(h.exif_orientation, orientation);
    EXPECT_EQ(h.width, 20u);  // the SOF after the APP1 segment is still found
  }
  const std::string path = std::filesystem::temp_directory_path() / ("xai-pages-" + std::to_string(::getpid()) + ".tiff");
  ASSERT_TRUE(cv::imwritemulti(path, std::vector<cv::Mat>{cv::Mat(5, 6, CV_8UC1, 1), cv::Mat(5, 6, CV_8UC1, 2)}));
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(read_image_header(bytes).more_frames);
  std::filesystem::remove(path);
  EXPECT_FALSE(read_image_header(encode(cv::Mat(5, 6, CV_8UC1, 1), ".tiff")).more_frames);
}

// Headers are untrusted: no truncation or random damage may read out of bounds or throw (ASan and
// UBSan builds run this too).
TEST(ImageHeader, DamagedHeadersNeverCrash) {
  std::mt19937 rng(11);
  std::vector<std::string> seeds;
  for (const char* ext : {".png", ".jpg", ".tiff", ".bmp", ".ppm", ".webp", ".pam"})
    if (cv::haveImageWriter(std::string("x") + ext)) seeds.push_back(encode(cv::Mat(9, 7, CV_8UC3, cv::Scalar(4, 5, 6)), ext));
  seeds.push_back(test::with_exif_orientation(seeds[1], 6));
  for (const auto& seed : seeds) {
    for (size_t cut = 0; cut <= seed.size(); ++cut) EXPECT_NO_THROW(read_image_header(seed.substr(0, cut)));
    for (int trial = 0; trial < 300; ++trial) {
      std::string damaged = seed;
      for (int k = 0; k < 4; ++k) damaged[rng() % std::min<size_t>(damaged.size(), 256)] = static_cast<char>(rng());
      const ImageHeader h = read_image_header(damaged);
      (void)h.decoded_bytes();
    }
  }
}

// PNG: only the critical chunks (and tRNS) reach libpng; the pixels are unchanged.
TEST(ImageHeader, PngAncillaryChunksAreNotDecoded) {
  cv::Mat image(6, 9, CV_8UC3);
  cv::randu(image, 0, 255);
  std::string png = encode(image, ".png");
  // Insert a tEXt chunk (with its CRC) after IHDR.
  png.insert(33, test::png_chunk("tEXt", std::string("Comment\0hello", 13)));
  const std::string kept = png_bytes_to_decode(png, "x.png");
  EXPECT_EQ(kept.find("tEXt"), std::string::npos);
  EXPECT_LT(kept.size(), png.size());
  const cv::Mat decoded = cv::imdecode(std::vector<uchar>(kept.begin(), kept.end()), cv::IMREAD_UNCHANGED);
  EXPECT_EQ(cv::norm(decoded, image, cv::NORM_INF), 0.0);
  std::string damaged = png;
  damaged[40] ^= 0x20;  // inside the tEXt chunk: its CRC no longer matches
  EXPECT_THROW(png_bytes_to_decode(damaged, "x.png"), Error);
  EXPECT_THROW(png_bytes_to_decode(png.substr(0, png.size() - 20), "x.png"), Error);
}

}  // namespace
}  // namespace xai
