#include "output/npy.hpp"

#include <cerrno>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "xai/atomic_file.hpp"
#include "xai/error.hpp"

namespace xai {

namespace {

using namespace npy_detail;
constexpr size_t kDataAlignment = 64;  // numpy aligns data to 64 bytes since 1.14 (helps mmap)

// The magic, version, length and header dict for a float32 C-order array.
std::string npy_preamble(const std::vector<size_t>& shape) {
  std::string shape_text = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) shape_text += ", ";
    shape_text += std::to_string(shape[i]);
  }
  if (shape.size() == 1) shape_text += ",";  // Python's one-element tuple
  shape_text += ")";
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape_text + ", }";

  // Version 1.0 stores the header length in 2 bytes; only a huge ndim needs 2.0.
  size_t prefix_length = kMagicLength + 2 + 2;
  int major_version = 1;
  if (prefix_length + dict.size() + 1 > 65535) {
    prefix_length = kMagicLength + 2 + 4;
    major_version = 2;
  }
  size_t unpadded = prefix_length + dict.size() + 1;  // +1 for the final '\n'
  size_t total = (unpadded + kDataAlignment - 1) / kDataAlignment * kDataAlignment;
  dict.append(total - unpadded, ' ');
  dict += '\n';
  const size_t header_length = dict.size();

  std::string preamble(kMagic, kMagicLength);
  preamble += char(major_version);
  preamble += char(0);
  const int length_bytes = major_version == 1 ? 2 : 4;
  for (int i = 0; i < length_bytes; ++i) preamble += char((header_length >> (8 * i)) & 0xff);
  return preamble + dict;
}

size_t checked_element_count(const std::vector<size_t>& shape) {
  size_t count = 0;
  if (!element_count(shape, count) || count > std::numeric_limits<size_t>::max() / sizeof(float))
    throw Error(ExitCode::internal, "npy: array shape is too large");
  return count;
}

}  // namespace

namespace npy_detail {

bool host_is_little_endian() {
  const uint16_t one = 1;
  uint8_t first_byte;
  std::memcpy(&first_byte, &one, 1);
  return first_byte == 1;
}

void reverse_bytes(char* p, size_t n) {
  for (size_t i = 0, j = n - 1; i < j; ++i, --j) std::swap(p[i], p[j]);
}

bool element_count(const std::vector<size_t>& shape, size_t& count) {
  count = 1;
  for (size_t dim : shape)
    if (dim == 0) {
      count = 0;
      return true;
    }
  for (size_t dim : shape)
    if (__builtin_mul_overflow(count, dim, &count)) return false;
  return true;
}

}  // namespace npy_detail

std::string npy_bytes(const float* data, const std::vector<size_t>& shape) {
  const size_t count = checked_element_count(shape);
  std::string bytes = npy_preamble(shape);
  const size_t data_offset = bytes.size();
  bytes.resize(data_offset + count * sizeof(float));
  if (count > 0) std::memcpy(&bytes[data_offset], data, count * sizeof(float));
  if (!host_is_little_endian())
    for (size_t i = 0; i < count; ++i) reverse_bytes(&bytes[data_offset + i * sizeof(float)], sizeof(float));
  return bytes;
}

void write_npy(const std::string& path, const float* data, const std::vector<size_t>& shape) {
  const size_t count = checked_element_count(shape);
  if (!host_is_little_endian()) {
    write_file_atomic(path, npy_bytes(data, shape));
    return;
  }
  // Streamed, so a large map is not copied into a second buffer first.
  write_file_atomic(path, [&](std::ostream& out) {
    const std::string preamble = npy_preamble(shape);
    out.write(preamble.data(), std::streamsize(preamble.size()));
    if (count > 0) out.write(reinterpret_cast<const char*>(data), std::streamsize(count * sizeof(float)));
  });
}

}  // namespace xai
