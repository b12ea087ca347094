// libFuzzer target: the region map reader (--regions): the image front, then integer labels made
// consecutive. Refusals are xai::Error(input); labels, when accepted, are 0..n-1 with n >= 2.
#include <cstdint>
#include <cstdlib>
#include <opencv2/core.hpp>
#include <string>

#include "xai/error.hpp"
#include "xai/image.hpp"
#include "methods/superpixels.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  cv::Size size_of_image(16, 16);
  try {
    xai::ImageLimits limits;
    limits.max_decoded_bytes = 64ull << 20;
    size_of_image = xai::decode_pixels(bytes, "regions.png", limits).pixels.size();
  } catch (const xai::Error&) {
  }
  if (static_cast<long long>(size_of_image.area()) > 4096LL * 4096LL) return 0;
  try {
    const cv::Mat labels = xai::decode_regions(bytes, "regions.png", size_of_image);
    double lo = 0, hi = 0;
    cv::minMaxLoc(labels, &lo, &hi);
    if (labels.type() != CV_32SC1 || lo != 0 || hi < 1) std::abort();
  } catch (const xai::Error& e) {
    if (e.code() != xai::ExitCode::input && e.code() != xai::ExitCode::usage) std::abort();
  }
  return 0;
}
