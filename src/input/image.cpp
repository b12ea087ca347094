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

#include "input/dicom_decoder.hpp"
#include "input/image_header.hpp"
#include "input/jpeg_decoder.hpp"
#include "core/file_read.hpp"
#include "xai/error.hpp"
#include "core/sha256.hpp"

namespace xai {
namespace {

namespace fs = std::filesystem;

bool ends_with_eoi(const std::string& bytes) {
  size_t end = bytes.size();
  while (end > 2 && (bytes[end - 1] == '\0' || bytes[end - 1] == '\n' || bytes[end - 1] == '\r' ||
                     bytes[end - 1] == ' '))
    --end;  // some writers pad after EOI
  return end >= 2 && static_cast<unsigned char>(bytes[end - 2]) == 0xFF &&
         static_cast<unsigned char>(bytes[end - 1]) == 0xD9;
}

// EXIF orientations 2..8 turned into the upright image, as PIL's ImageOps.exif_transpose does.
cv::Mat apply_orientation(const cv::Mat& stored, int orientation) {
  cv::Mat out;
  switch (orientation) {
    case 2: cv::flip(stored, out, 1); break;
    case 3: cv::rotate(stored, out, cv::ROTATE_180); break;
    case 4: cv::flip(stored, out, 0); break;
    case 5: cv::transpose(stored, out); break;
    case 6: cv::rotate(stored, out, cv::ROTATE_90_CLOCKWISE); break;
    case 7: cv::transpose(stored, out), cv::flip(out, out, -1); break;
    case 8: cv::rotate(stored, out, cv::ROTATE_90_COUNTERCLOCKWISE); break;
    default: out = stored; break;
  }
  return out;
}

std::string size_text(uint64_t width, uint64_t height) { return std::to_string(width) + "x" + std::to_string(height); }

// Refuses, before any decoder allocates, what the header says would not fit: more pixels than
// max_pixels, or more decoded memory than the budget. A JPEG over the budget is decoded at the
// largest of 1/2, 1/4 or 1/8 scale that fits instead (libjpeg scales while decoding); the result is
// that denominator (1: full size).
int check_declared_size(const ImageHeader& header, const std::string& name, const ImageLimits& limits) {
  if (!header.known_size())
    throw input_error(name + ": cannot read the " + header.format_name + " header (damaged file?)");
  const uint64_t max_pixels = static_cast<uint64_t>(std::max(0LL, limits.max_pixels));
  // Dimensions are at most 2^32 each, so the product cannot overflow 64 bits.
  if (header.width * header.height > max_pixels)
    throw input_error(name + ": image is " + size_text(header.width, header.height) + ", over the limit of " +
                      std::to_string(limits.max_pixels) + " pixels (tile whole-slide images into patches first)");
  if (header.decoded_bytes() <= limits.max_decoded_bytes) return 1;
  if (header.format == ImageFormat::jpeg)
    for (int denominator : {2, 4, 8}) {
      ImageHeader scaled = header;
      scaled.width = (header.width + denominator - 1) / denominator;
      scaled.height = (header.height + denominator - 1) / denominator;
      if (scaled.decoded_bytes() <= limits.max_decoded_bytes) return denominator;
    }
  throw input_error(name + ": a " + size_text(header.width, header.height) + " image needs " +
                    human_bytes(header.decoded_bytes()) + " decoded, over the image memory budget of " +
                    human_bytes(limits.max_decoded_bytes) + " (raise it with " + setting_name("max_decoded_bytes") + ")");
}

}  // namespace

std::string read_image_bytes(const std::string& path, const ImageLimits& limits) {
  // A file larger than the decoded budget cannot be an image that fits it (compression only shrinks).
  return read_regular_file(path, limits.max_decoded_bytes, ExitCode::input, setting_name("max_decoded_bytes"));
}

RawPixels decode_pixels(const std::string& bytes, const std::string& name, const ImageLimits& limits) {
  if (bytes.empty()) throw input_error(name + ": file is empty");
  const ImageHeader header = read_image_header(bytes);
  if (!header.refusal.empty()) throw input_error(name + ": " + header.refusal);
  if (header.format == ImageFormat::tiff && (header.bits_per_sample > 32 || (header.floating_point && header.bits_per_sample != 32)))
    throw input_error(name + ": TIFF with " + std::to_string(header.bits_per_sample) + "-bit " +
                      (header.floating_point ? "float" : "integer") +
                      " samples is not supported (save as 8/16-bit integer or 32-bit float)");
  if (header.format == ImageFormat::webp && header.more_frames)
    throw input_error(name + ": animated WebP is not supported (extract a frame as PNG)");
  const int denominator = check_declared_size(header, name, limits);

  RawPixels out;
  if (header.format == ImageFormat::jpeg) {
    JpegDecodeResult jpeg = decode_jpeg_strict(bytes, limits.max_pixels, denominator);
    if (!jpeg.error.empty()) {
      // libjpeg reports a cut-off file as "Premature end of JPEG file"; name it the way PNG's is named.
      if (!ends_with_eoi(bytes)) throw input_error(name + ": truncated JPEG (no end-of-image marker)");
      throw input_error(name + ": corrupt JPEG (" + jpeg.error + ")");
    }
    if (jpeg.unsupported && !ends_with_eoi(bytes))  // CMYK goes to OpenCV, which does not notice a cut
      throw input_error(name + ": truncated JPEG (no end-of-image marker)");
    out.pixels = jpeg.pixels;
    if (denominator > 1 && !out.pixels.empty())
      out.warnings.push_back("decoded at 1/" + std::to_string(denominator) + " scale (" +
                             size_text(jpeg.pixels.cols, jpeg.pixels.rows) + " of " +
                             size_text(header.width, header.height) + ") to stay within the image memory budget of " +
                             human_bytes(limits.max_decoded_bytes) + " (" + setting_name("max_decoded_bytes") + ")");
  }
  if (out.pixels.empty()) {
    const std::string to_decode = header.format == ImageFormat::png ? png_bytes_to_decode(bytes, name) : bytes;
    try {
      cv::Mat buffer(1, static_cast<int>(to_decode.size()), CV_8U, const_cast<char*>(to_decode.data()));
      out.pixels = cv::imdecode(buffer, cv::IMREAD_UNCHANGED);
    } catch (const cv::Exception& e) {
      throw input_error(name + ": cannot decode " + header.format_name + " image (" + first_line(e.msg) + ")");
    }
  }
  if (out.pixels.empty()) throw input_error(name + ": not a readable " + header.format_name + " image (corrupt data)");
  if (out.pixels.dims != 2 || out.pixels.rows < 1 || out.pixels.cols < 1) throw input_error(name + ": image has no pixels");
  if (static_cast<long long>(out.pixels.rows) * out.pixels.cols > limits.max_pixels)
    throw input_error(name + ": image is " + size_text(out.pixels.cols, out.pixels.rows) + ", over the limit of " +
                      std::to_string(limits.max_pixels) + " pixels");

  if (header.more_frames)
    out.warnings.push_back(std::string(header.format == ImageFormat::tiff ? "multi-page TIFF" : "animated PNG") +
                           ": only the first " + (header.format == ImageFormat::tiff ? "page" : "frame") +
                           " is explained");
  if (header.exif_orientation >= 2 && header.exif_orientation <= 8) {
    if (limits.apply_exif_orientation) {
      out.pixels = apply_orientation(out.pixels, header.exif_orientation);
      out.warnings.push_back("EXIF orientation " + std::to_string(header.exif_orientation) +
                             " applied (" + setting_name("apply_exif_orientation") +
                             "): the pixels were turned as a viewer shows them");
    } else {
      out.warnings.push_back("EXIF orientation " + std::to_string(header.exif_orientation) +
                             " not applied: the pixels are explained as stored (as PIL-based training sees them); " +
                             setting_name("apply_exif_orientation") + " turns them as a viewer shows them");
    }
  }
  return out;
}

Image decode_image(const std::string& bytes, const std::string& name, const ImageLimits& limits,
                   const std::string& sha256) {
  if (looks_like_dicom(bytes, name)) {
    DecodedDicom dicom = decode_dicom(bytes, name, limits.dicom, limits.max_pixels);
    Image image;
    image.path = name;
    image.file_bytes = bytes.size();
    image.sha256 = sha256.empty() ? sha256_hex(bytes) : sha256;
    image.pixels = std::move(dicom.pixels);
    image.source_channels = image.pixels.channels();
    image.source_bit_depth = dicom.info.bits_stored;
    image.dicom = std::move(dicom.info);
    image.warnings = std::move(dicom.warnings);
    return image;
  }
  RawPixels decoded = decode_pixels(bytes, name, limits);
  // In a folder that mixes DICOM with other images, the caller's window and frame apply to the DICOM files.
  if (limits.dicom.window_from == "option")
    decoded.warnings.push_back(setting_name("dicom_window") + " applies to DICOM files only; this " +
                               read_image_header(bytes).format_name + " image is read as stored");
  if (limits.dicom.frame > 0 || limits.dicom.all_frames)
    decoded.warnings.push_back((limits.dicom.all_frames ? setting_name("all_frames") : setting_name("frame")) +
                               " applies to DICOM files only; this " + read_image_header(bytes).format_name +
                               " image has one frame");
  const cv::Mat& raw = decoded.pixels;
  Image image;
  image.path = name;
  image.file_bytes = bytes.size();
  image.warnings = std::move(decoded.warnings);
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
  if (raw.depth() == CV_16U) {
    double hi = 0;
    cv::minMaxLoc(raw.reshape(1), nullptr, &hi);
    // Scanners and microscopes often store 10- or 12-bit samples in 16-bit files; mapped by the full
    // 16-bit range they become a nearly black image, which is then explained as such.
    if (hi > 0 && hi < 4096)
      image.warnings.push_back("16-bit image whose largest value is " + std::to_string(static_cast<int>(hi)) +
                               " (< 4096): probably 12-bit (or fewer) data, mapped by the full 16-bit range and so "
                               "nearly black; rescale it to the range the model was trained on");
  }

  if (raw.depth() == CV_32F) {
    // checkRange, not minMaxLoc: minMaxLoc skips NaN, so one NaN pixel used to pass unnoticed.
    cv::Point bad;
    if (!cv::checkRange(image.pixels, true, &bad))
      throw input_error(name + ": image has a NaN or infinite pixel (at x=" + std::to_string(bad.x / image.pixels.channels()) +
                        ", y=" + std::to_string(bad.y) + ")");
    double lo, hi;
    cv::minMaxLoc(image.pixels.reshape(1), &lo, &hi);
    if (lo < 0.0 || hi > 1.0) {
      cv::min(cv::max(image.pixels, 0.0), 1.0, image.pixels);
      image.warnings.push_back("float pixels outside [0,1] were clipped");
    }
  }
  image.sha256 = sha256.empty() ? sha256_hex(bytes) : sha256;
  return image;
}

Image load_image(const std::string& path, const ImageLimits& limits) {
  return decode_image(read_image_bytes(path, limits), path, limits);
}

cv::Mat to_display_bgr(const Image& image) {
  cv::Mat bytes;
  image.pixels.convertTo(bytes, image.is_gray() ? CV_8UC1 : CV_8UC3, 255.0);
  if (bytes.channels() == 1) cv::cvtColor(bytes, bytes, cv::COLOR_GRAY2BGR);
  return bytes;
}

}  // namespace xai
