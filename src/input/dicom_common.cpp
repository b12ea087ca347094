// The parts of DICOM handling that need no decoder (DCMTK): recognising a file, frame names, window
// settings. Built with and without DICOM support (-DXAI_WITH_DICOM).
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "xai/dicom.hpp"
#include "xai/error.hpp"
#include "xai/text.hpp"

namespace xai {

std::string frame_suffix(int frame, int frames) {
  const size_t width = std::max<size_t>(3, std::to_string(frames).size());
  std::string digits = std::to_string(frame);
  return ".f" + std::string(width > digits.size() ? width - digits.size() : 0, '0') + digits;
}

DicomWindow parse_window(const std::string& text) {
  DicomWindow w;
  const std::string t = lower(text);
  if (t == "tags") return w;
  if (t == "minmax") {
    w.kind = DicomWindow::Kind::minmax;
    return w;
  }
  struct Preset {
    const char* name;
    double center, width;
  };
  static const Preset presets[] = {{"brain", 40, 80}, {"lung", -600, 1500}, {"bone", 400, 1800}, {"soft-tissue", 50, 400}};
  for (const auto& p : presets)
    if (t == p.name) {
      w.kind = DicomWindow::Kind::given;
      w.center = p.center;
      w.width = p.width;
      w.preset = p.name;
      return w;
    }
  const std::string bad = "--dicom-window " + text +
                          ": expected C,W (centre and width, width >= 1), tags, minmax, percentile:P (0 < P < 50) "
                          "or a CT preset (brain, lung, bone, soft-tissue)";
  if (t.rfind("percentile:", 0) == 0) {
    char* end = nullptr;
    const std::string number = t.substr(11);
    const double p = std::strtod(number.c_str(), &end);
    if (number.empty() || *end != '\0' || !std::isfinite(p) || p <= 0 || p >= 50) throw usage_error(bad);
    w.kind = DicomWindow::Kind::percentile;
    w.percentile = p;
    return w;
  }
  const size_t comma = t.find(',');
  if (comma == std::string::npos) throw usage_error(bad);
  char* end = nullptr;
  const std::string a = t.substr(0, comma), b = t.substr(comma + 1);
  const double center = std::strtod(a.c_str(), &end);
  if (a.empty() || *end != '\0') throw usage_error(bad);
  const double width = std::strtod(b.c_str(), &end);
  if (b.empty() || *end != '\0' || !std::isfinite(center) || !std::isfinite(width) || width < 1) throw usage_error(bad);
  w.kind = DicomWindow::Kind::given;
  w.center = center;
  w.width = width;
  return w;
}

bool looks_like_dicom(const std::string& bytes, const std::string& name) {
  if (bytes.size() >= 132 && std::memcmp(bytes.data() + 128, "DICM", 4) == 0) return true;
  const std::string extension = lower(std::filesystem::path(name).extension().string());
  return extension == ".dcm" || extension == ".dicom";
}

}  // namespace xai
