// Reading images from disk into one well-defined representation, with clear errors.
#pragma once

#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace xai {

struct ImageLimits {
  // Larger images are refused before decoding (a whole-slide image needs tiling, not a resize).
  long long max_pixels = 16384LL * 16384LL;
};

struct Image {
  std::string path;
  std::string sha256;        // of the file's bytes
  size_t file_bytes = 0;
  cv::Mat pixels;            // CV_32FC1 (gray) or CV_32FC3 (BGR), values in [0,1], original resolution
  int source_channels = 0;   // channels in the file (4 when it had alpha)
  int source_bit_depth = 0;  // 8, 16 or 32
  std::vector<std::string> warnings;

  int width() const { return pixels.cols; }
  int height() const { return pixels.rows; }
  bool is_gray() const { return pixels.channels() == 1; }
};

// Decodes PNG, JPEG, TIFF, BMP, PPM/PGM, WebP (what OpenCV was built with). 8- and 16-bit
// integers map to [0,1] by their full range; an alpha channel is dropped (as PIL's
// convert("RGB") does), with a warning. Throws input_error("PATH: ...") on any problem.
Image load_image(const std::string& path, const ImageLimits& limits = {});

// Same, from bytes already in memory (`name` is used in messages). `sha256`: the bytes' hash when
// the caller has it already (empty: computed here).
Image decode_image(const std::string& bytes, const std::string& name, const ImageLimits& limits = {},
                   const std::string& sha256 = "");

// The file's bytes, with the same one-line input errors as load_image (missing, directory, unreadable).
std::string read_image_bytes(const std::string& path);

// 8-bit BGR copy for display and overlays (gray images become three equal channels).
cv::Mat to_display_bgr(const Image& image);

}  // namespace xai
