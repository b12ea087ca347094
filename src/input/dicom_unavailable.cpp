// A build without DCMTK (-DXAI_WITH_DICOM=OFF, e.g. the GPU bundle): DICOM files are recognised and refused
// in one line; everything else reads as usual.
#include "input/dicom_decoder.hpp"
#include "input/slide.hpp"
#include "xai/error.hpp"

namespace xai {

namespace {
Error no_dicom(const std::string& name) {
  return input_error(name + ": a DICOM file, and this xai was built without DICOM support (-DXAI_WITH_DICOM=OFF)");
}
}  // namespace

std::unique_ptr<SlideSource> open_dicom_slide(const std::string& path) {
  throw input_error(path + ": a DICOM whole-slide image, and this xai was built without DICOM support (-DXAI_WITH_DICOM=OFF)");
}

int dicom_frame_count(const std::string& path) { throw no_dicom(path); }

DecodedDicom decode_dicom(const std::string& bytes, const std::string& name, const DicomReading& reading,
                          long long max_pixels) {
  throw no_dicom(name);
}

}  // namespace xai
