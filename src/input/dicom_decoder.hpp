// Internal: DICOM bytes to a windowed image (DCMTK). Used by decode_image (image.cpp).
#pragma once

#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "input/dicom.hpp"

namespace xai {

struct DecodedDicom {
  cv::Mat pixels;  // CV_32FC1 (monochrome) or CV_32FC3 (BGR), in [0, 1]
  DicomInfo info;
  std::vector<std::string> warnings;
};

// DCMTK's decoders (JPEG, JPEG-LS, RLE), registered once per process; DCMTK's own logging silenced.
void register_dicom_codecs();

// Throws input_error("NAME: ...") for anything that cannot be read: not DICOM, truncated, no pixel
// data, a transfer syntax DCMTK cannot decode (named), unsupported sample layouts, a frame out of range.
// `max_pixels`: the same limit as other images, checked before the pixels are decoded.
DecodedDicom decode_dicom(const std::string& bytes, const std::string& name, const DicomReading& reading,
                          long long max_pixels);

}  // namespace xai
