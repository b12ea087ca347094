// The parts of DICOM handling that need no decoder (DCMTK): recognising a file, frame names. Built with and without DICOM support (-DXAI_WITH_DICOM).
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "input/dicom.hpp"
#include "xai/error.hpp"
#include "core/text.hpp"

namespace xai {

std::string frame_suffix(int frame, int frames) {
  const size_t width = std::max<size_t>(3, std::to_string(frames).size());
  std::string digits = std::to_string(frame);
  return ".f" + std::string(width > digits.size() ? width - digits.size() : 0, '0') + digits;
}

bool looks_like_dicom(const std::string& bytes, const std::string& name) {
  if (bytes.size() >= 132 && std::memcmp(bytes.data() + 128, "DICM", 4) == 0) return true;
  const std::string extension = lower(std::filesystem::path(name).extension().string());
  return extension == ".dcm" || extension == ".dicom";
}

}  // namespace xai
