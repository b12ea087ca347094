// libFuzzer target: the image front (format by magic bytes, header parsing, budgets, PNG chunk
// checks, strict JPEG decoding, the decoders behind them, conversion to [0,1] floats).
// Any outcome but a decoded image within its invariants or xai::Error(input) with one line is a bug.
#include <cstdint>
#include <cstdlib>
#include <opencv2/core.hpp>
#include <string>

#include "input/image_header.hpp"
#include "xai/error.hpp"
#include "xai/image.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  (void)xai::read_image_header(bytes).decoded_bytes();
  xai::ImageLimits limits;
  limits.max_decoded_bytes = 64ull << 20;  // keeps the fuzzer inside its memory limit
  limits.max_pixels = 4096LL * 4096LL;
  limits.apply_exif_orientation = (size % 2) == 1;
  try {
    const xai::Image image = xai::decode_image(bytes, "fuzz.png", limits);
    if (image.pixels.empty() || (image.pixels.type() != CV_32FC1 && image.pixels.type() != CV_32FC3)) std::abort();
    if (!cv::checkRange(image.pixels, true, nullptr, 0.0, 1.0 + 1e-6)) std::abort();  // finite, in [0,1]
  } catch (const xai::Error& e) {
    const std::string message = e.what();
    if (e.code() != xai::ExitCode::input || message.find('\n') != std::string::npos) std::abort();
  }
  return 0;
}
