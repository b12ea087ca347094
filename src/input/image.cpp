#include "xai/image.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>

#include "input/jpeg_decoder.hpp"
#include "xai/error.hpp"
#include "xai/sha256.hpp"

namespace xai {
namespace {

namespace fs = std::filesystem;

uint32_t big_endian_u32(const unsigned char* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

// Header-only size check for PNG so a huge file is refused before a huge allocation.
void check_png_header_size(const std::string& bytes, const std::string& name, const ImageLimits& limits) {
  static const unsigned char signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (bytes.size() < 24 || bytes.compare(0, 8, std::string(reinterpret_cast<const char*>(signature), 8)) != 0)
    return;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  // Unsigned 64-bit: a damaged or hostile header can say 0xFFFFFFFF x 0xFFFFFFFF, whose product
  // overflows a signed long long (and would then pass the check).
  const unsigned long long width = big_endian_u32(p + 16), height = big_endian_u32(p + 20);
  if (width * height > static_cast<unsigned long long>(std::max(0LL, limits.max_pixels)))
    throw input_error(name + ": image is " + std::to_string(width) + "x" + std::to_string(height) +
                      ", over the limit of " + std::to_string(limits.max_pixels) +
                      " pixels (tile whole-slide images into patches first)");
}

bool is_jpeg(const std::string& bytes) {
  return bytes.size() >= 3 && static_cast<unsigned char>(bytes[0]) == 0xFF &&
         static_cast<unsigned char>(bytes[1]) == 0xD8 && static_cast<unsigned char>(bytes[2]) == 0xFF;
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

// CRC-32 as PNG chunks use it (ISO 3309 / ITU-T V.42, the same as zlib's crc32()).
uint32_t png_crc32(const unsigned char* data, size_t n) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) c = table[(c ^ data[i]) & 0xFFu] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

// Same for PNG: without its IEND chunk the file was cut short. The chunks are walked up to IEND and
// their CRCs checked too: for a damaged file (a flipped byte in IDAT) libpng prints its own
// "libpng error: IDAT: CRC error" line to stderr before OpenCV gives up, and errors must stay one line.
void check_png_complete(const std::string& bytes, const std::string& name) {
  if (bytes.size() < 8 || bytes.compare(1, 3, "PNG") != 0) return;
  const size_t tail = bytes.size() > 64 ? bytes.size() - 64 : 0;
  const bool has_iend = bytes.find("IEND", tail) != std::string::npos;
  static const char signature[8] = {'\x89', 'P', 'N', 'G', '\r', '\n', '\x1a', '\n'};
  if (bytes.compare(0, 8, std::string(signature, 8)) != 0) {
    if (!has_iend) throw input_error(name + ": truncated PNG (no IEND chunk)");
    return;  // a damaged signature: the decoder refuses it with the generic message
  }
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t at = 8;
  while (true) {
    // A chunk: 4-byte length, 4-byte type, data, 4-byte CRC of type and data.
    const uint32_t length = bytes.size() - at >= 12 ? big_endian_u32(p + at) : 0;
    if (bytes.size() - at < 12 || length > bytes.size() - at - 12) {
      if (!has_iend) throw input_error(name + ": truncated PNG (no IEND chunk)");
      throw input_error(name + ": corrupt PNG (a chunk runs past the end of the file)");
    }
    const std::string type = bytes.substr(at + 4, 4);
    if (!std::all_of(type.begin(), type.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)); }))
      throw input_error(name + ": corrupt PNG (invalid chunk type at byte " + std::to_string(at + 4) + ")");
    if (png_crc32(p + at + 4, size_t(length) + 4) != big_endian_u32(p + at + 8 + length))
      throw input_error(name + ": corrupt PNG (CRC error in " + type + " chunk at byte " + std::to_string(at) + ")");
    if (type == "IEND") return;  // anything after IEND is ignored, as libpng does
    at += 12 + size_t(length);
  }
}

}  // namespace

std::string read_image_bytes(const std::string& path) {
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

Image decode_image(const std::string& bytes, const std::string& name, const ImageLimits& limits,
                   const std::string& sha256) {
  if (bytes.empty()) throw input_error(name + ": file is empty");
  check_png_header_size(bytes, name, limits);
  check_png_complete(bytes, name);
  check_jpeg_complete(bytes, name);

  cv::Mat raw;
  if (is_jpeg(bytes)) {
    JpegDecodeResult jpeg = decode_jpeg_strict(bytes, limits.max_pixels);
    if (!jpeg.error.empty()) throw input_error(name + ": corrupt JPEG (" + jpeg.error + ")");
    if (!jpeg.unsupported && jpeg.pixels.empty())
      throw input_error(name + ": image is " + std::to_string(jpeg.width) + "x" + std::to_string(jpeg.height) +
                        ", over the limit of " + std::to_string(limits.max_pixels) + " pixels");
    raw = jpeg.pixels;
  }
  if (raw.empty()) {
    try {
      cv::Mat buffer(1, static_cast<int>(bytes.size()), CV_8U, const_cast<char*>(bytes.data()));
      raw = cv::imdecode(buffer, cv::IMREAD_UNCHANGED);
    } catch (const cv::Exception& e) {
      throw input_error(name + ": cannot decode image (" + first_line(e.msg) + ")");
    }
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
  image.sha256 = sha256.empty() ? sha256_hex(bytes) : sha256;
  return image;
}

Image load_image(const std::string& path, const ImageLimits& limits) {
  return decode_image(read_image_bytes(path), path, limits);
}

cv::Mat to_display_bgr(const Image& image) {
  cv::Mat bytes;
  image.pixels.convertTo(bytes, image.is_gray() ? CV_8UC1 : CV_8UC3, 255.0);
  if (bytes.channels() == 1) cv::cvtColor(bytes, bytes, cv::COLOR_GRAY2BGR);
  return bytes;
}

}  // namespace xai
