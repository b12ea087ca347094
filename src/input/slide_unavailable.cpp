// A build without OpenSlide (-DXAI_WITH_SLIDES=OFF, e.g. the GPU bundle): slides OpenSlide reads are refused
// in one line; DICOM whole-slide images (DCMTK) and everything else read as usual.
#include "xai/error.hpp"
#include "input/slide.hpp"

namespace xai {

std::unique_ptr<SlideSource> open_openslide(const std::string& path) {
  throw input_error(path + ": whole-slide images need OpenSlide, and this xai was built without it (-DXAI_WITH_SLIDES=OFF)");
}

}  // namespace xai
