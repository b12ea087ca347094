// What an image file is, read from its first bytes before any decoder sees it: the format (by magic
// bytes, never by extension), the size and sample layout its header declares, and the facts a user
// must be told about (EXIF orientation, more frames than the first). Only formats on xai's allow-list
// are ever handed to a decoder: OpenCV would otherwise try every codec it was built with, and some
// (GDCM for DICOM) abort the process on bad input.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace xai {

enum class ImageFormat { unknown, png, jpeg, tiff, bmp, pnm, webp };

struct ImageHeader {
  ImageFormat format = ImageFormat::unknown;
  std::string format_name;    // "PNG", "JPEG", ...; for refused formats their name ("DICOM", "GIF")
  std::string refusal;        // why the format is refused ("" when it is on the allow-list)
  uint64_t width = 0, height = 0;  // 0 when the header could not be read
  int channels = 0;           // samples per pixel the decoder will produce (palette images: 3 or 4)
  int bits_per_sample = 0;    // 1..64
  bool floating_point = false;
  bool more_frames = false;   // multi-page TIFF, animated PNG/WebP: only the first frame is read
  int exif_orientation = 0;   // 1..8 when the file declares one (1: as stored)

  bool known_size() const { return width > 0 && height > 0; }
  // Bytes the decoded image needs: the decoder's own buffer plus xai's float32 copy.
  uint64_t decoded_bytes() const;
};

// Never throws: unknown or damaged headers leave fields at their defaults.
ImageHeader read_image_header(const std::string& bytes);

// PNG only: validates the chunk sequence (lengths, CRCs, IEND present) and throws input_error("NAME:
// ...") when the file is cut short or damaged. Returns the bytes to decode: the signature and the
// critical chunks (plus tRNS), without ancillary chunks that xai does not use and about which libpng
// would print its own warnings (iCCP profiles, eXIf, text) to stderr.
std::string png_bytes_to_decode(const std::string& bytes, const std::string& name);

}  // namespace xai
