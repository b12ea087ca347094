// Test support: reading .npy files (the tool only writes them).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace xai::test {

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

}  // namespace xai::test
