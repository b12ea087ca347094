#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "xai/error.hpp"
#include "xai/image.hpp"
#include "test_helpers.hpp"

#include <limits>

namespace xai {
namespace {

std::string encode(const cv::Mat& image, const std::string& ext) {
  std::vector<uchar> bytes;
  EXPECT_TRUE(cv::imencode(ext, image, bytes));
  return std::string(bytes.begin(), bytes.end());
}

void expect_input_error(const std::string& bytes, const std::string& fragment, const ImageLimits& limits = {}) {
  try {
    decode_image(bytes, "name.png", limits);
    ADD_FAILURE() << "accepted; expected: " << fragment;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::input);
    const std::string message = e.what();
    EXPECT_EQ(message.rfind("name.png: ", 0), 0u) << message;
    EXPECT_NE(message.find(fragment), std::string::npos) << message;
  }
}

TEST(Image, EightAndSixteenBitMapToUnitRange) {
  cv::Mat eight(2, 3, CV_8UC3, cv::Scalar(0, 51, 255));
  const Image a = decode_image(encode(eight, ".png"), "a.png");
  EXPECT_EQ(a.source_bit_depth, 8);
  EXPECT_NEAR(a.pixels.at<cv::Vec3f>(1, 2)[1], 0.2f, 1e-6);
  EXPECT_NEAR(a.pixels.at<cv::Vec3f>(1, 2)[2], 1.0f, 1e-6);

  cv::Mat sixteen(2, 3, CV_16UC1, cv::Scalar(13107));  // 0.2 * 65535
  const Image b = decode_image(encode(sixteen, ".png"), "b.png");
  EXPECT_EQ(b.source_bit_depth, 16);
  EXPECT_TRUE(b.is_gray());
  EXPECT_NEAR(b.pixels.at<float>(0, 0), 0.2f, 1e-6);
}

TEST(Image, AlphaIsDroppedWithAWarning) {
  cv::Mat rgba(2, 2, CV_8UC4, cv::Scalar(10, 20, 30, 0));
  const Image image = decode_image(encode(rgba, ".png"), "a.png");
  EXPECT_EQ(image.pixels.channels(), 3);
  EXPECT_EQ(image.source_channels, 4);
  ASSERT_EQ(image.warnings.size(), 1u);
  EXPECT_NE(image.warnings[0].find("alpha"), std::string::npos);
}

TEST(Image, OnePixelImagesAreFine) {
  const Image image = decode_image(encode(cv::Mat(1, 1, CV_8UC1, cv::Scalar(7)), ".png"), "one.png");
  EXPECT_EQ(image.width(), 1);
  EXPECT_EQ(image.sha256.size(), 64u);
}

TEST(Image, BrokenInputsGiveOneLineErrors) {
  expect_input_error("", "empty");
  expect_input_error("hello, I am text", "not an image xai reads");
  const std::string png = encode(cv::Mat(64, 64, CV_8UC3, cv::Scalar(1, 2, 3)), ".png");
  expect_input_error(png.substr(0, png.size() / 2), "truncated PNG");
  cv::Mat noise(64, 64, CV_8UC3);
  cv::randu(noise, 0, 255);
  const std::string jpeg = encode(noise, ".jpg");
  expect_input_error(jpeg.substr(0, jpeg.size() / 2), "truncated JPEG");
  EXPECT_NO_THROW(decode_image(jpeg, "whole.jpg"));
}

TEST(Image, HugeImagesAreRefusedBeforeDecoding) {
  std::string png = encode(cv::Mat(4, 4, CV_8UC1, cv::Scalar(0)), ".png");
  // Patch the IHDR width and height to 100000 x 100000: the header check must refuse it.
  const unsigned char huge[8] = {0x00, 0x01, 0x86, 0xA0, 0x00, 0x01, 0x86, 0xA0};
  png.replace(16, 8, reinterpret_cast<const char*>(huge), 8);
  expect_input_error(png, "over the limit");
  ImageLimits small;
  small.max_pixels = 10;
  expect_input_error(encode(cv::Mat(4, 4, CV_8UC1, cv::Scalar(0)), ".bmp"), "over the limit", small);
}

// The strict JPEG decoder must give exactly what OpenCV's decoder gives for intact files (colour,
// gray, progressive, odd sizes), and refuse what OpenCV would pass on half-grey.
TEST(Image, StrictJpegDecodingMatchesOpenCvOnIntactFiles) {
  cv::RNG rng(7);
  for (const bool gray : {false, true})
    for (const bool progressive : {false, true})
      for (const cv::Size size : {cv::Size(1, 1), cv::Size(97, 61), cv::Size(256, 200)}) {
        cv::Mat image(size, gray ? CV_8UC1 : CV_8UC3);
        rng.fill(image, cv::RNG::UNIFORM, 0, 255);
        cv::GaussianBlur(image, image, cv::Size(5, 5), 0);
        std::vector<uchar> buffer;
        ASSERT_TRUE(cv::imencode(".jpg", image, buffer,
                                 {cv::IMWRITE_JPEG_QUALITY, 90, cv::IMWRITE_JPEG_PROGRESSIVE, progressive ? 1 : 0}));
        const cv::Mat reference = cv::imdecode(buffer, cv::IMREAD_UNCHANGED);
        const Image decoded = decode_image(std::string(buffer.begin(), buffer.end()), "x.jpg", {});
        ASSERT_EQ(decoded.pixels.channels(), reference.channels());
        cv::Mat ours;
        decoded.pixels.convertTo(ours, reference.type(), 255.0);
        EXPECT_EQ(cv::norm(ours, reference, cv::NORM_INF), 0.0) << size << " gray " << gray << " progressive " << progressive;
      }
}

TEST(Image, DamagedJpegIsRefused) {
  cv::Mat image(120, 160, CV_8UC3);
  cv::RNG(3).fill(image, cv::RNG::UNIFORM, 0, 255);
  std::string bytes = encode(image, ".jpg");
  for (size_t i = bytes.size() / 2; i < bytes.size() / 2 + 200; ++i) bytes[i] = static_cast<char>(i * 37);
  expect_input_error(bytes, "corrupt JPEG");
}

// The decoded-memory budget is checked against the header, before a decoder allocates.
TEST(Image, MemoryBudgetRefusesBeforeDecodingAndScalesJpegs) {
  ImageLimits budget;
  budget.max_decoded_bytes = 1 << 20;  // 1 MiB
  // 400x300 gray PNG: 120000 px x (1 byte + 4 float) = 600 KB fits; 3 channels (15 bytes/px) do not.
  EXPECT_NO_THROW(decode_image(encode(cv::Mat(300, 400, CV_8UC1, cv::Scalar(9)), ".png"), "a.png", budget));
  expect_input_error(encode(cv::Mat(300, 400, CV_8UC3, cv::Scalar(9)), ".png"), "(raise it with max_decoded_bytes)",
                     budget);
  // A JPEG over the budget is decoded by libjpeg at the largest 1/2^k scale that fits; OpenCV's
  // IMREAD_REDUCED_COLOR_2/4 use libjpeg's scaling too and are the reference.
  cv::Mat photo(600, 800, CV_8UC3);
  cv::randu(photo, 0, 255);
  cv::GaussianBlur(photo, photo, cv::Size(9, 9), 0);
  const std::string jpeg = encode(photo, ".jpg");
  const Image scaled = decode_image(jpeg, "p.jpg", budget);  // 480000 px x 15 = 7.2 MB: 1/4 gives 450 KB
  EXPECT_EQ(scaled.width(), 200);
  EXPECT_EQ(scaled.height(), 150);
  ASSERT_EQ(scaled.warnings.size(), 1u);
  EXPECT_NE(scaled.warnings[0].find("1/4 scale"), std::string::npos) << scaled.warnings[0];
  const cv::Mat reference = cv::imdecode(std::vector<uchar>(jpeg.begin(), jpeg.end()), cv::IMREAD_REDUCED_COLOR_4);
  cv::Mat ours;
  scaled.pixels.convertTo(ours, CV_8UC3, 255.0);
  EXPECT_EQ(cv::norm(ours, reference, cv::NORM_INF), 0.0);
  // The file itself is not read past the budget either.
  EXPECT_NO_THROW(decode_image(jpeg, "p.jpg"));
}

TEST(Image, ExifOrientationIsReportedOrApplied) {
  cv::Mat stored(40, 60, CV_8UC3);
  cv::randu(stored, 0, 255);
  const std::string png = encode(stored, ".png");
  const Image plain_png = decode_image(png, "a.png");
  const std::string jpeg = test::with_exif_orientation(encode(stored, ".jpg"), 6);
  const Image as_stored = decode_image(jpeg, "a.jpg");
  EXPECT_EQ(as_stored.width(), 60);
  ASSERT_EQ(as_stored.warnings.size(), 1u);
  EXPECT_NE(as_stored.warnings[0].find("EXIF orientation 6 not applied"), std::string::npos);
  ImageLimits upright;
  upright.apply_exif_orientation = true;
  for (int orientation = 1; orientation <= 8; ++orientation) {
    const Image turned = decode_image(test::with_exif_orientation(encode(stored, ".jpg"), orientation), "a.jpg", upright);
    cv::Mat expected = decode_image(encode(stored, ".jpg"), "a.jpg").pixels;
    // PIL's exif_transpose, written out: what each orientation needs to be shown upright.
    if (orientation == 2) cv::flip(expected, expected, 1);
    if (orientation == 3) cv::flip(expected, expected, -1);
    if (orientation == 4) cv::flip(expected, expected, 0);
    if (orientation == 5) expected = expected.t();
    if (orientation == 6) cv::flip(expected.t(), expected, 1);
    if (orientation == 7) cv::flip(expected.t(), expected, -1);
    if (orientation == 8) cv::flip(expected.t(), expected, 0);
    ASSERT_EQ(turned.pixels.size(), expected.size()) << orientation;
    EXPECT_EQ(cv::norm(turned.pixels, expected, cv::NORM_INF), 0.0) << orientation;
  }
  EXPECT_TRUE(plain_png.warnings.empty());
}

TEST(Image, NonFinitePixelsAndTwelveBitDataAreCaught) {
  cv::Mat values(10, 12, CV_32FC1, cv::Scalar(0.5));
  values.at<float>(7, 3) = std::numeric_limits<float>::quiet_NaN();
  expect_input_error(encode(values, ".tiff"), "NaN or infinite pixel (at x=3, y=7)");
  values.at<float>(7, 3) = std::numeric_limits<float>::infinity();
  expect_input_error(encode(values, ".tiff"), "NaN or infinite");
  const Image twelve = decode_image(encode(cv::Mat(8, 8, CV_16UC1, cv::Scalar(4095)), ".png"), "t.png");
  ASSERT_EQ(twelve.warnings.size(), 1u);
  EXPECT_NE(twelve.warnings[0].find("12-bit"), std::string::npos);
  EXPECT_TRUE(decode_image(encode(cv::Mat(8, 8, CV_16UC1, cv::Scalar(4096)), ".png"), "t.png").warnings.empty());
  expect_input_error(encode(cv::Mat(8, 8, CV_64FC1, cv::Scalar(0.5)), ".tiff"), "64-bit float");
}

// A motion photo is a JPEG followed by a video: valid, and its JPEG part is what is shown.
TEST(Image, DataAfterTheJpegEndMarkerIsIgnored) {
  const std::string jpeg = encode(cv::Mat(16, 16, CV_8UC3, cv::Scalar(10, 100, 200)), ".jpg");
  const Image with_video = decode_image(jpeg + std::string("\0\0\0\x18" "ftypmp42", 12) + std::string(500, 'v'), "m.jpg");
  EXPECT_EQ(cv::norm(with_video.pixels, decode_image(jpeg, "m.jpg").pixels, cv::NORM_INF), 0.0);
}

TEST(Image, MissingFilesAndDirectories) {
  EXPECT_THROW(load_image("/nonexistent/x.png"), Error);
  try {
    load_image("/tmp");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("directory"), std::string::npos);
  }
}

}  // namespace
}  // namespace xai
