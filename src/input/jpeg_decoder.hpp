// JPEG decoding that refuses damaged files. libjpeg only *warns* about corrupt entropy-coded data
// ("Corrupt JPEG data: premature end of data segment") and fills what it could not decode with grey;
// OpenCV passes such an image on as if it were whole. A heatmap of a half-grey patch would silently
// explain garbage, so here every libjpeg warning is an error.
#pragma once

#include <opencv2/core.hpp>
#include <string>

namespace xai {

struct JpegDecodeResult {
  cv::Mat pixels;            // CV_8UC1 or CV_8UC3 (BGR, as cv::imdecode gives), no EXIF rotation
  bool unsupported = false;  // CMYK/YCCK: left to cv::imdecode
  std::string error;         // libjpeg's message when the file is damaged
  int width = 0, height = 0; // from the header, also when the pixel limit refused the image
};

// Decodes `bytes` (a JPEG) unless it has more than `max_pixels` pixels (then pixels stays empty), at
// 1/scale_denominator of its size (1, 2, 4 or 8).
JpegDecodeResult decode_jpeg_strict(const std::string& bytes, long long max_pixels, int scale_denominator = 1);

}  // namespace xai
