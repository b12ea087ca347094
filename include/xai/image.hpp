// Reading images from disk into one well-defined representation, with clear errors.
#pragma once

#include <cstdint>
#include <opencv2/core.hpp>
#include <optional>
#include <string>
#include <vector>

#include "xai/model_card.hpp"

namespace xai {

// How a DICOM input is read (the window and the frame).
struct DicomReading {
  DicomWindow window;
  // Where `window` comes from: "option" (the caller's DicomWindow; set it with the window, and the model card's
  // window does not replace it), "card" (the model card's window) or "default" (tags).
  std::string window_from = "default";
  int frame = 0;                        // 1-based; 0: the middle frame of a multi-frame file
  // --frames all: every frame is an input of its own (expand_frames sets `frame` for each). A multi-frame
  // file read with frame 0 here is one whose frames could not be counted: an error, not the middle frame.
  bool all_frames = false;
};

// What the report says about a DICOM input: how its pixels became the model's input.
struct DicomInfo {
  std::string modality;              // "CT", "MR", "CR", "DX", "MG", "US", ... ("" when absent)
  int rows = 0, columns = 0;
  std::string photometric;           // as stored (MONOCHROME1/2, RGB, YBR_FULL, ...)
  int bits_allocated = 0, bits_stored = 0;
  bool is_signed = false;
  std::string transfer_syntax;       // its name, e.g. "RLE Lossless"
  int frames = 1, frame = 1;         // 1-based
  double rescale_slope = 1, rescale_intercept = 0;
  // "tags", "card", "minmax", ...; the caller's window by its setting's name (setting_name, xai/error.hpp):
  // "dicom_window", "preset brain (dicom_window)" (the CLI: "--dicom-window", "preset brain (--dicom-window)").
  std::string window_source;
  std::string voi_function = "LINEAR";
  double window_center = 0, window_width = 0;
  bool inverted = false;             // MONOCHROME1: shown as MONOCHROME2
};

// How images are read. The limits are checked against the file's header before anything is decoded.
struct ImageLimits {
  // Larger images are refused (a whole-slide image needs tiling, not a resize).
  long long max_pixels = 16384LL * 16384LL;
  // Decoded memory per image (the decoder's buffer plus xai's float copy; --max-image-memory): larger
  // images are refused, except JPEGs, which are decoded at 1/2, 1/4 or 1/8 scale to fit, with a warning.
  // Also the largest file read.
  uint64_t max_decoded_bytes = 1ull << 30;
  // EXIF orientation: by default the stored pixels are explained (what PIL-based training sees), with a
  // warning; true turns them upright first (--apply-exif-orientation).
  bool apply_exif_orientation = false;
  // DICOM files: the window and the frame (--dicom-window, --frame; the card's window when none is given).
  DicomReading dicom;
};

struct Image {
  std::string path;
  std::string sha256;        // of the file's bytes
  size_t file_bytes = 0;
  cv::Mat pixels;            // CV_32FC1 (gray) or CV_32FC3 (BGR), values in [0,1], original resolution
  int source_channels = 0;   // channels in the file (4 when it had alpha)
  int source_bit_depth = 0;  // 8, 16 or 32 (DICOM: bits stored)
  std::optional<DicomInfo> dicom;  // DICOM inputs: modality, window, frame, rescale (never patient data)
  std::optional<StainVectors> stain_source;  // the stains replaced by normalisation (the card's stain), if any
  std::vector<std::string> warnings;

  int width() const { return pixels.cols; }
  int height() const { return pixels.rows; }
  bool is_gray() const { return pixels.channels() == 1; }
};

// The pixels as the file stores them (8/16-bit integer or 32-bit float, 1 to 4 channels, BGR order),
// after the checks every reader shares: format by magic bytes from xai's allow-list (PNG, JPEG, TIFF,
// BMP, PNM, WebP; DICOM, GIF and others get a one-line refusal), declared size within the limits,
// complete file. Warnings: scaled decoding, more frames than the first, EXIF orientation.
struct RawPixels {
  cv::Mat pixels;
  std::vector<std::string> warnings;
};
RawPixels decode_pixels(const std::string& bytes, const std::string& name, const ImageLimits& limits = {});

// Decodes PNG, JPEG, TIFF, BMP, PNM, WebP through decode_pixels. 8- and 16-bit
// integers map to [0,1] by their full range; an alpha channel is dropped (as PIL's
// convert("RGB") does), with a warning. Throws input_error("PATH: ...") on any problem.
Image load_image(const std::string& path, const ImageLimits& limits = {});

// Same, from bytes already in memory (`name` is used in messages). `sha256`: the bytes' hash when
// the caller has it already (empty: computed here).
Image decode_image(const std::string& bytes, const std::string& name, const ImageLimits& limits = {},
                   const std::string& sha256 = "");

// The file's bytes, with the same one-line input errors as load_image (missing, directory, not a regular
// file, unreadable, larger than limits.max_decoded_bytes).
std::string read_image_bytes(const std::string& path, const ImageLimits& limits = {});

// 8-bit BGR copy for display and overlays (gray images become three equal channels).
cv::Mat to_display_bgr(const Image& image);

}  // namespace xai
