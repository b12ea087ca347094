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

struct NpyArray {
  std::vector<size_t> shape;  // empty for a 0-d array
  std::vector<float> data;    // C order, product(shape) values
};

// Reads format 1.0, 2.0 and 3.0 files. Accepted dtypes, converted to float:
// float32/64, uint8/16/32/64, int8/16/32/64 and bool, in either byte order.
// Only C order (Fortran order is accepted where it means the same, ndim <= 1).
// Throws input_error("PATH: not a valid .npy file (what is wrong)") for a malformed or
// truncated file, input_error("PATH: unsupported .npy file (...)") for a valid file
// this reader cannot represent, and input_error("PATH: cannot read (reason)").
NpyArray read_npy(const std::string& path);

}  // namespace xai
