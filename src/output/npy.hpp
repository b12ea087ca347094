// NumPy .npy files: the interchange format for attribution maps, so results can be
// loaded with a plain numpy.load() and reference maps from Python can be compared.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace xai {

// The complete .npy file (format 1.0) for a C-ordered float32 array: dtype '<f4',
// header padded with spaces and ending in '\n' so the data starts at a multiple of
// 64 bytes. An empty shape is a 0-d array holding one value.
std::string npy_bytes(const float* data, const std::vector<size_t>& shape);

// Writes npy_bytes() to `path` atomically (see atomic_file.hpp).
// Throws output_error("PATH: cannot write (reason)").
void write_npy(const std::string& path, const float* data, const std::vector<size_t>& shape);

// Pieces of the format, shared with the test suite's reader.
namespace npy_detail {
inline constexpr char kMagic[] = "\x93NUMPY";
inline constexpr size_t kMagicLength = 6;
bool host_is_little_endian();
void reverse_bytes(char* p, size_t n);
// Product of the dimensions, or false on overflow; a zero dimension makes it zero, as in numpy.
bool element_count(const std::vector<size_t>& shape, size_t& count);
}  // namespace npy_detail

}  // namespace xai
