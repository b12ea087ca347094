#include "methods/rise.hpp"

#include <cmath>
#include <opencv2/core/utility.hpp>
#include <random>

#include "xai/error.hpp"

namespace xai {

void validate(const RiseOptions& o, const cv::Size& size) {
  if (o.masks < 1)
    throw usage_error(setting_name("rise_masks") + " must be positive (got " + std::to_string(o.masks) + ")");
  if (o.grid < 1) throw usage_error(setting_name("grid") + " must be positive (got " + std::to_string(o.grid) + ")");
  if (o.grid > std::min(size.width, size.height))
    throw usage_error(setting_name("grid") + " " + std::to_string(o.grid) +
                      ": more cells than the model's input has pixels across");
  if (!(o.keep > 0 && o.keep <= 1))
    throw usage_error(setting_name("keep") + " must be in (0, 1] (got " + std::to_string(o.keep) + ")");
}

namespace {

// SplitMix64: a well-mixed seed per (run seed, mask index).
uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

double uniform(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// Bilinear sampling positions of `up` output pixels over `cells` inputs with half-pixel centres,
// reflecting at the edges (skimage.transform.resize(order=1, mode="reflect"), as the authors' code).
struct Taps {
  std::vector<int> lo, hi;
  std::vector<float> t;
};
Taps taps(int cells, int up, int offset, int count) {
  auto reflect = [cells](int i) {
    if (cells == 1) return 0;
    while (i < 0 || i >= cells) i = i < 0 ? -i : 2 * (cells - 1) - i;
    return i;
  };
  Taps r;
  for (int o = offset; o < offset + count; ++o) {
    const double src = (o + 0.5) * cells / up - 0.5;
    const int i = static_cast<int>(std::floor(src));
    r.lo.push_back(reflect(i));
    r.hi.push_back(reflect(i + 1));
    r.t.push_back(static_cast<float>(src - i));
  }
  return r;
}

}  // namespace

void write_rise_mask(const cv::Size& size, const RiseOptions& o, uint64_t seed, int index, float* mask) {
  std::mt19937_64 rng(mix(seed ^ mix(static_cast<uint64_t>(index))));
  std::vector<float> grid(static_cast<size_t>(o.grid) * o.grid);
  for (auto& g : grid) g = uniform(rng) < o.keep ? 1.0f : 0.0f;
  const int cell_h = (size.height + o.grid - 1) / o.grid, cell_w = (size.width + o.grid - 1) / o.grid;
  const int shift_y = static_cast<int>(uniform(rng) * cell_h), shift_x = static_cast<int>(uniform(rng) * cell_w);
  const Taps ty = taps(o.grid, (o.grid + 1) * cell_h, shift_y, size.height);
  const Taps tx = taps(o.grid, (o.grid + 1) * cell_w, shift_x, size.width);
  for (int y = 0; y < size.height; ++y) {
    const float* top = grid.data() + static_cast<size_t>(ty.lo[y]) * o.grid;
    const float* bottom = grid.data() + static_cast<size_t>(ty.hi[y]) * o.grid;
    float* row = mask + static_cast<size_t>(y) * size.width;
    for (int x = 0; x < size.width; ++x) {
      const float upper = top[tx.lo[x]] + tx.t[x] * (top[tx.hi[x]] - top[tx.lo[x]]);
      const float lower = bottom[tx.lo[x]] + tx.t[x] * (bottom[tx.hi[x]] - bottom[tx.lo[x]]);
      row[x] = upper + ty.t[y] * (lower - upper);
    }
  }
}

cv::Mat rise_mask(const cv::Size& size, const RiseOptions& o, uint64_t seed, int index) {
  cv::Mat mask(size, CV_32FC1);
  write_rise_mask(size, o, seed, index, mask.ptr<float>());
  return mask;
}

MaskWriter rise_masks(const cv::Size& size, const RiseOptions& options, uint64_t seed) {
  // Each mask is a function of its index alone, so they are written side by side (thousands per image:
  // on a GPU the host's share of RISE is writing them).
  return [size, options, seed](int first, int count, float* masks) {
    cv::parallel_for_(cv::Range(0, count), [&](const cv::Range& range) {
      for (int s = range.start; s < range.end; ++s)
        write_rise_mask(size, options, seed, first + s, masks + static_cast<size_t>(s) * size.area());
    });
  };
}

}  // namespace xai
