#include "xai/image.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>

#include "xai/error.hpp"
#include "xai/sha256.hpp"

namespace xai {
namespace {

namespace fs = std::filesystem;

std::string read_all_bytes(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw input_error(path + ": no such file");
  if (fs::is_directory(path, ec)) throw input_error(path + ": is a directory, not an image");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw input_error(path + ": cannot open (permission denied?)");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw input_error(path + ": read error");
  return buffer.str();
}

uint32_t big_endian_u32(const unsigned char* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

// Header-only size check for PNG so a huge file is refused before a huge allocation.
void check_png_header_size(const std::string& bytes, const std::string& name, const ImageLimits& limits) {
  static const unsigned char signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (bytes.size() < 24 || bytes.compare(0, 8, std::string(reinterpret_cast<const char*>(signature), 8)) != 0)
    return;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const long long width = big_endian_u32(p + 16), height = big_endian_u32(p + 20);
  if (width * height > limits.max_pixels)
    throw input_error(name + ": image is " + std::to_string(width) + "x" + std::to_string(height) +
                      ", over the limit of " + std::to_string(limits.max_pixels) +
                      " pixels (tile whole-slide images into patches first)");
}

// libjpeg decodes a truncated file "successfully", filling the rest with grey; a heatmap of
// that would silently explain garbage, so a JPEG must end with its EOI marker.
void check_jpeg_complete(const std::string& bytes, const std::string& name) {
  if (bytes.size() < 3 || static_cast<unsigned char>(bytes[0]) != 0xFF ||
      static_cast<unsigned char>(bytes[1]) != 0xD8)
    return;
  size_t end = bytes.size();
  while (end > 2 && (bytes[end - 1] == '\0' || bytes[end - 1] == '\n' || bytes[end - 1] == '\r' ||
                     bytes[end - 1] == ' '))
    --end;  // some writers pad after EOI
  const bool has_eoi = static_cast<unsigned char>(bytes[end - 2]) == 0xFF &&
                       static_cast<unsigned char>(bytes[end - 1]) == 0xD9;
  if (!has_eoi) throw input_error(name + ": truncated JPEG (no end-of-image marker)");
}

// Same for PNG: without its IEND chunk the file was cut short (libpng would also print its own
// multi-line complaint to stderr).
void check_png_complete(const std::string& bytes, const std::string& name) {
  if (bytes.size() < 8 || bytes.compare(1, 3, "PNG") != 0) return;
  const size_t tail = bytes.size() > 64 ? bytes.size() - 64 : 0;
  if (bytes.find("IEND", tail) == std::string::npos)
    throw input_error(name + ": truncated PNG (no IEND chunk)");
}

}  // namespace

Image decode_image(const std::string& bytes, const std::string& name, const ImageLimits& limits) {
  if (bytes.empty()) throw input_error(name + ": file is empty");
  check_png_header_size(bytes, name, limits);
  check_png_complete(bytes, name);
  check_jpeg_complete(bytes, name);

  cv::Mat raw;
  try {
    cv::Mat buffer(1, static_cast<int>(bytes.size()), CV_8U, const_cast<char*>(bytes.data()));
    raw = cv::imdecode(buffer, cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    throw input_error(name + ": cannot decode image (" + first_line(e.msg) + ")");
  }
  if (raw.empty()) throw input_error(name + ": not a readable image (unknown format or corrupt data)");
  if (raw.dims != 2 || raw.rows < 1 || raw.cols < 1) throw input_error(name + ": image has no pixels");
  if (static_cast<long long>(raw.rows) * raw.cols > limits.max_pixels)
    throw input_error(name + ": image is " + std::to_string(raw.cols) + "x" + std::to_string(raw.rows) +
                      ", over the limit of " + std::to_string(limits.max_pixels) + " pixels");

  Image image;
  image.path = name;
  image.file_bytes = bytes.size();
  image.source_channels = raw.channels();

  double scale = 1.0;
  switch (raw.depth()) {
    case CV_8U: image.source_bit_depth = 8; scale = 1.0 / 255.0; break;
    case CV_16U: image.source_bit_depth = 16; scale = 1.0 / 65535.0; break;
    case CV_32F: image.source_bit_depth = 32; break;
    default:
      throw input_error(name + ": unsupported pixel type (only 8-bit, 16-bit and float images)");
  }

  cv::Mat colour;
  switch (raw.channels()) {
    case 1: colour = raw; break;
    case 3: colour = raw; break;
    case 4:
      cv::cvtColor(raw, colour, cv::COLOR_BGRA2BGR);
      image.warnings.push_back("alpha channel dropped");
      break;
    case 2:  // gray + alpha
      cv::extractChannel(raw, colour, 0);
      image.warnings.push_back("alpha channel dropped");
      break;
    default:
      throw input_error(name + ": unsupported channel count " + std::to_string(raw.channels()));
  }
  colour.convertTo(image.pixels, colour.channels() == 1 ? CV_32FC1 : CV_32FC3, scale);

  if (raw.depth() == CV_32F) {
    double lo, hi;
    cv::minMaxLoc(image.pixels.reshape(1), &lo, &hi);
    if (!std::isfinite(lo) || !std::isfinite(hi)) throw input_error(name + ": image has NaN or infinite pixels");
    if (lo < 0.0 || hi > 1.0) {
      cv::min(cv::max(image.pixels, 0.0), 1.0, image.pixels);
      image.warnings.push_back("float pixels outside [0,1] were clipped");
    }
  }
  image.sha256 = sha256_hex(bytes);
  return image;
}

Image load_image(const std::string& path, const ImageLimits& limits) {
  return decode_image(read_all_bytes(path), path, limits);
}

cv::Mat to_display_bgr(const Image& image) {
  cv::Mat bytes;
  image.pixels.convertTo(bytes, image.is_gray() ? CV_8UC1 : CV_8UC3, 255.0);
  if (bytes.channels() == 1) cv::cvtColor(bytes, bytes, cv::COLOR_GRAY2BGR);
  return bytes;
}

}  // namespace xai
