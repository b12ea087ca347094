#include "input/resample.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace xai {
namespace {

// PIL's fixed-point precision for 8-bit images: 32 bits minus 8 for the pixel and 2 for headroom.
constexpr int kPrecisionBits = 32 - 8 - 2;

double triangle(double x) {
  x = std::abs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

double cubic(double x) {  // Keys' cubic with a = -0.5, as PIL's bicubic_filter
  constexpr double a = -0.5;
  x = std::abs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

// For each output position: the first input index, the count, and the normalised weights.
struct Taps {
  int width = 0;  // weights per output position (unused ones are 0)
  std::vector<int> first, count;
  std::vector<double> weights;
};

// PIL's precompute_coeffs over the whole input (box 0..in_size).
Taps taps_for(int in_size, int out_size, ResampleFilter filter) {
  const double support_1 = filter == ResampleFilter::bilinear ? 1.0 : 2.0;
  double (*kernel)(double) = filter == ResampleFilter::bilinear ? triangle : cubic;
  const double scale = static_cast<double>(in_size) / out_size;
  const double filter_scale = std::max(scale, 1.0);
  const double support = support_1 * filter_scale;
  Taps t;
  t.width = static_cast<int>(std::ceil(support)) * 2 + 1;
  t.first.resize(out_size);
  t.count.resize(out_size);
  t.weights.assign(static_cast<size_t>(out_size) * t.width, 0.0);
  for (int o = 0; o < out_size; ++o) {
    const double center = (o + 0.5) * scale;
    const double inverse = 1.0 / filter_scale;
    const int lo = std::max(static_cast<int>(center - support + 0.5), 0);  // truncation, as PIL's (int) cast
    const int hi = std::min(static_cast<int>(center + support + 0.5), in_size);
    double* w = &t.weights[static_cast<size_t>(o) * t.width];
    double total = 0;
    for (int i = 0; i < hi - lo; ++i) total += (w[i] = kernel((i + lo - center + 0.5) * inverse));
    if (total != 0.0)
      for (int i = 0; i < hi - lo; ++i) w[i] /= total;
    t.first[o] = lo;
    t.count[o] = hi - lo;
  }
  return t;
}

std::vector<int32_t> fixed_point(const Taps& t) {
  std::vector<int32_t> fixed(t.weights.size());
  for (size_t i = 0; i < fixed.size(); ++i) {
    const double scaled = t.weights[i] * (1 << kPrecisionBits);
    fixed[i] = static_cast<int32_t>(scaled < 0 ? scaled - 0.5 : scaled + 0.5);
  }
  return fixed;
}

uint8_t clip8(int32_t sum) {
  const int32_t v = sum >> kPrecisionBits;
  return static_cast<uint8_t>(std::clamp(v, 0, 255));
}

// One pass along x (horizontal) or y, 8-bit.
cv::Mat pass_8bit(const cv::Mat& in, const Taps& t, bool horizontal) {
  const int channels = in.channels();
  const int out_w = horizontal ? static_cast<int>(t.first.size()) : in.cols;
  const int out_h = horizontal ? in.rows : static_cast<int>(t.first.size());
  cv::Mat out(out_h, out_w, in.type());
  const std::vector<int32_t> k = fixed_point(t);
  for (int y = 0; y < out_h; ++y) {
    uint8_t* dst = out.ptr<uint8_t>(y);
    for (int x = 0; x < out_w; ++x) {
      const int o = horizontal ? x : y;
      const int32_t* w = &k[static_cast<size_t>(o) * t.width];
      for (int c = 0; c < channels; ++c) {
        int32_t sum = 1 << (kPrecisionBits - 1);
        for (int i = 0; i < t.count[o]; ++i) {
          const int at = t.first[o] + i;
          const uint8_t v = horizontal ? in.ptr<uint8_t>(y)[at * channels + c] : in.ptr<uint8_t>(at)[x * channels + c];
          sum += v * w[i];
        }
        dst[x * channels + c] = clip8(sum);
      }
    }
  }
  return out;
}

cv::Mat pass_float(const cv::Mat& in, const Taps& t, bool horizontal) {
  const int channels = in.channels();
  const int out_w = horizontal ? static_cast<int>(t.first.size()) : in.cols;
  const int out_h = horizontal ? in.rows : static_cast<int>(t.first.size());
  cv::Mat out(out_h, out_w, in.type());
  for (int y = 0; y < out_h; ++y) {
    float* dst = out.ptr<float>(y);
    for (int x = 0; x < out_w; ++x) {
      const int o = horizontal ? x : y;
      const double* w = &t.weights[static_cast<size_t>(o) * t.width];
      for (int c = 0; c < channels; ++c) {
        double sum = 0;
        for (int i = 0; i < t.count[o]; ++i) {
          const int at = t.first[o] + i;
          sum += (horizontal ? in.ptr<float>(y)[at * channels + c] : in.ptr<float>(at)[x * channels + c]) * w[i];
        }
        dst[x * channels + c] = static_cast<float>(sum);
      }
    }
  }
  return out;
}

}  // namespace

cv::Mat resample_like_pil(const cv::Mat& image, const cv::Size& size, ResampleFilter filter) {
  CV_Assert((image.depth() == CV_8U || image.depth() == CV_32F) && (image.channels() == 1 || image.channels() == 3));
  CV_Assert(size.width > 0 && size.height > 0 && !image.empty());
  const bool eight_bit = image.depth() == CV_8U;
  const auto pass = [&](const cv::Mat& in, const Taps& t, bool horizontal) {
    return eight_bit ? pass_8bit(in, t, horizontal) : pass_float(in, t, horizontal);
  };
  // As PIL: only the passes whose size changes, horizontal first (so the rounding between the passes
  // happens where PIL's does).
  cv::Mat out = image;
  if (size.width != image.cols) out = pass(out, taps_for(image.cols, size.width, filter), true);
  if (size.height != image.rows) out = pass(out, taps_for(image.rows, size.height, filter), false);
  return out.data == image.data ? image.clone() : out;
}

}  // namespace xai
