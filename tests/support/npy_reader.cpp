// Test support: reading .npy files (reference maps from Python, and our own outputs back).
#include "npy_reader.hpp"

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

#include "xai/error.hpp"
#include "output/npy.hpp"

namespace xai::test {

namespace {

using namespace npy_detail;
// numpy itself refuses headers over 10000 bytes by default; anything this large is garbage.
constexpr size_t kMaxHeaderLength = 1 << 20;

// --- reading ---

// Internal: what is wrong with the file; read_npy() adds the path and the exit code.
class NpyFormatError {
 public:
  // `unsupported`: a well-formed file this reader cannot represent (dtype, order).
  explicit NpyFormatError(std::string what, bool unsupported = false)
      : what_(std::move(what)), unsupported_(unsupported) {}
  const std::string& what() const { return what_; }
  bool unsupported() const { return unsupported_; }

 private:
  std::string what_;
  bool unsupported_;
};

// Recursive-descent parser for the header, a Python dict literal such as
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class HeaderParser {
 public:
  explicit HeaderParser(const std::string& text) : text_(text) {}

  struct Header {
    std::string descr;
    bool fortran_order = false;
    std::vector<size_t> shape;
  };

  Header parse() {
    Header header;
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    for (;;) {
      skip_space();
      if (peek() == '}') break;
      std::string key = parse_string("a key");
      expect(':');
      skip_space();
      if (key == "descr") {
        if (peek() != '\'' && peek() != '"')
          throw NpyFormatError("structured dtypes are not supported", true);
        header.descr = parse_string("the descr");
        have_descr = true;
      } else if (key == "fortran_order") {
        header.fortran_order = parse_bool();
        have_order = true;
      } else if (key == "shape") {
        header.shape = parse_shape();
        have_shape = true;
      } else {
        throw NpyFormatError("unexpected header key '" + key + "'");
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != '}') throw NpyFormatError("expected ',' or '}' in header");
    }
    ++pos_;  // '}'
    skip_space();
    if (pos_ != text_.size()) throw NpyFormatError("unexpected text after the header dict");
    if (!have_descr || !have_order || !have_shape)
      throw NpyFormatError("header lacks 'descr', 'fortran_order' or 'shape'");
    return header;
  }

 private:
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\r'))
      ++pos_;
  }

  void expect(char c) {
    skip_space();
    if (peek() != c) throw NpyFormatError(std::string("expected '") + c + "' in header");
    ++pos_;
  }

  std::string parse_string(const char* what) {
    const char quote = peek();
    if (quote != '\'' && quote != '"') throw NpyFormatError(std::string("expected a string for ") + what);
    size_t end = text_.find(quote, pos_ + 1);
    if (end == std::string::npos) throw NpyFormatError("unterminated string in header");
    std::string value = text_.substr(pos_ + 1, end - pos_ - 1);
    // dtype strings and keys never need escapes; refusing them keeps the parser honest.
    if (value.find('\\') != std::string::npos) throw NpyFormatError("escape sequence in header string");
    pos_ = end + 1;
    return value;
  }

  bool parse_bool() {
    if (text_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      return true;
    }
    if (text_.compare(pos_, 5, "False") == 0) {
      pos_ += 5;
      return false;
    }
    throw NpyFormatError("'fortran_order' is not True or False");
  }

  std::vector<size_t> parse_shape() {
    if (peek() != '(') throw NpyFormatError("'shape' is not a tuple");
    ++pos_;
    std::vector<size_t> shape;
    bool trailing_comma = false;
    for (;;) {
      skip_space();
      if (peek() == ')') break;
      shape.push_back(parse_dimension());
      skip_space();
      trailing_comma = false;
      if (peek() == ',') {
        ++pos_;
        trailing_comma = true;
      } else if (peek() != ')') {
        throw NpyFormatError("malformed 'shape' tuple");
      }
    }
    ++pos_;  // ')'
    // "(3)" is just a parenthesised int in Python, not a tuple.
    if (shape.size() == 1 && !trailing_comma) throw NpyFormatError("'shape' is not a tuple");
    return shape;
  }

  size_t parse_dimension() {
    if (peek() < '0' || peek() > '9') throw NpyFormatError("'shape' holds a non-integer or negative value");
    size_t value = 0;
    while (peek() >= '0' && peek() <= '9') {
      if (__builtin_mul_overflow(value, size_t(10), &value) ||
          __builtin_add_overflow(value, size_t(peek() - '0'), &value))
        throw NpyFormatError("'shape' dimension is too large");
      ++pos_;
    }
    if (peek() == 'L') ++pos_;  // Python 2 long suffix, found in old files
    return value;
  }

  const std::string& text_;
  size_t pos_ = 0;
};

enum class ElementKind { floating, unsigned_integer, signed_integer, boolean };

struct ElementType {
  ElementKind kind;
  size_t size;
  bool swap_bytes;  // stored in the opposite byte order to this machine's
};

ElementType parse_descr(const std::string& descr) {
  auto unsupported = [&] {
    return NpyFormatError("unsupported dtype '" + descr +
                          "' (supported: float32/64, uint8/16/32/64, int8/16/32/64, bool)",
                          true);
  };
  if (descr.size() < 3) throw unsupported();
  const char order = descr[0];
  if (order != '<' && order != '>' && order != '|' && order != '=') throw unsupported();

  ElementType type{};
  switch (descr[1]) {
    case 'f': type.kind = ElementKind::floating; break;
    case 'u': type.kind = ElementKind::unsigned_integer; break;
    case 'i': type.kind = ElementKind::signed_integer; break;
    case 'b': type.kind = ElementKind::boolean; break;
    default: throw unsupported();
  }
  const std::string size_text = descr.substr(2);
  if (size_text == "1") type.size = 1;
  else if (size_text == "2") type.size = 2;
  else if (size_text == "4") type.size = 4;
  else if (size_text == "8") type.size = 8;
  else throw unsupported();
  if (type.kind == ElementKind::floating && type.size < 4) throw unsupported();  // no float16
  if (type.kind == ElementKind::boolean && type.size != 1) throw unsupported();

  const bool stored_little = order == '<' || (order == '=' && host_is_little_endian());
  type.swap_bytes = type.size > 1 && order != '|' && stored_little != host_is_little_endian();
  return type;
}

// Narrowing a double outside float's range is undefined in C++; numpy gives +-inf.
float double_to_float(double value) {
  if (value > FLT_MAX) return std::numeric_limits<float>::infinity();
  if (value < -FLT_MAX) return -std::numeric_limits<float>::infinity();
  return static_cast<float>(value);
}

template <typename T>
T load_element(const char* source, bool swap_bytes) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, source, sizeof(T));
  if (swap_bytes) reverse_bytes(bytes, sizeof(T));
  T value;
  std::memcpy(&value, bytes, sizeof(T));
  return value;
}

template <typename T>
void convert_elements(const char* source, size_t count, bool swap_bytes, float* out) {
  for (size_t i = 0; i < count; ++i) {
    T value = load_element<T>(source + i * sizeof(T), swap_bytes);
    if constexpr (std::is_same_v<T, double>) out[i] = double_to_float(value);
    else out[i] = static_cast<float>(value);
  }
}

void convert_to_float(const ElementType& type, const char* source, size_t count, float* out) {
  const bool swap = type.swap_bytes;
  switch (type.kind) {
    case ElementKind::floating:
      if (type.size == 4) convert_elements<float>(source, count, swap, out);
      else convert_elements<double>(source, count, swap, out);
      return;
    case ElementKind::unsigned_integer:
      switch (type.size) {
        case 1: convert_elements<uint8_t>(source, count, swap, out); return;
        case 2: convert_elements<uint16_t>(source, count, swap, out); return;
        case 4: convert_elements<uint32_t>(source, count, swap, out); return;
        default: convert_elements<uint64_t>(source, count, swap, out); return;
      }
    case ElementKind::signed_integer:
      switch (type.size) {
        case 1: convert_elements<int8_t>(source, count, swap, out); return;
        case 2: convert_elements<int16_t>(source, count, swap, out); return;
        case 4: convert_elements<int32_t>(source, count, swap, out); return;
        default: convert_elements<int64_t>(source, count, swap, out); return;
      }
    case ElementKind::boolean:
      for (size_t i = 0; i < count; ++i) out[i] = source[i] != 0 ? 1.0f : 0.0f;
      return;
  }
}

using FilePtr = std::unique_ptr<FILE, int (*)(FILE*)>;

Error cannot_read(const std::string& path, int error_number) {
  return input_error(path + ": cannot read (" + std::strerror(error_number) + ")");
}

// Reads up to `n` bytes; fewer only at end of file. Read errors throw.
std::string read_bytes(FILE* file, size_t n, const std::string& path) {
  std::string bytes(n, '\0');
  size_t got = n > 0 ? std::fread(&bytes[0], 1, n, file) : 0;
  if (got < n && std::ferror(file)) throw cannot_read(path, errno);
  bytes.resize(got);
  return bytes;
}

// Everything up to end of file. Grows with what is actually there, so a header that
// claims a huge array cannot make us allocate more than the file holds.
std::string read_rest(FILE* file, const std::string& path) {
  std::string bytes;
  char chunk[1 << 16];
  for (;;) {
    size_t got = std::fread(chunk, 1, sizeof(chunk), file);
    bytes.append(chunk, got);
    if (got < sizeof(chunk)) {
      if (std::ferror(file)) throw cannot_read(path, errno);
      return bytes;
    }
  }
}

NpyArray parse_npy(FILE* file, const std::string& path) {
  const std::string magic = read_bytes(file, kMagicLength + 2, path);
  if (magic.size() < kMagicLength + 2 || magic.compare(0, kMagicLength, kMagic, kMagicLength) != 0)
    throw NpyFormatError("missing the \\x93NUMPY magic");
  const int major_version = static_cast<unsigned char>(magic[kMagicLength]);
  if (major_version < 1 || major_version > 3)
    throw NpyFormatError("unknown format version " + std::to_string(major_version));

  // 1.0: 2-byte length; 2.0 and 3.0 (UTF-8 header, same layout for ASCII): 4 bytes.
  const size_t length_size = major_version == 1 ? 2 : 4;
  const std::string length_bytes = read_bytes(file, length_size, path);
  if (length_bytes.size() < length_size) throw NpyFormatError("file ends inside the preamble");
  size_t header_length = 0;
  for (size_t i = 0; i < length_size; ++i)
    header_length |= size_t(static_cast<unsigned char>(length_bytes[i])) << (8 * i);
  if (header_length > kMaxHeaderLength)
    throw NpyFormatError("header length " + std::to_string(header_length) + " is implausible");

  const std::string header_text = read_bytes(file, header_length, path);
  if (header_text.size() < header_length) throw NpyFormatError("file ends inside the header");
  const HeaderParser::Header header = HeaderParser(header_text).parse();

  const ElementType type = parse_descr(header.descr);
  if (header.fortran_order && header.shape.size() > 1)
    throw NpyFormatError("Fortran-ordered arrays are not supported (save a C-ordered copy)", true);

  size_t count = 0;
  size_t data_bytes = 0;
  if (!element_count(header.shape, count) || __builtin_mul_overflow(count, type.size, &data_bytes))
    throw NpyFormatError("shape is too large");

  const std::string data = read_rest(file, path);
  if (data.size() < data_bytes)
    throw NpyFormatError("truncated: " + std::to_string(data_bytes) + " data bytes expected, " +
                         std::to_string(data.size()) + " present");
  if (data.size() > data_bytes)
    throw NpyFormatError(std::to_string(data.size() - data_bytes) + " unexpected bytes after the data");

  NpyArray array;
  array.shape = header.shape;
  array.data.resize(count);
  convert_to_float(type, data.data(), count, array.data.data());
  return array;
}

}  // namespace

NpyArray read_npy(const std::string& path) {
  FilePtr file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) throw cannot_read(path, errno);
  try {
    return parse_npy(file.get(), path);
  } catch (const NpyFormatError& e) {
    throw input_error(path + (e.unsupported() ? ": unsupported .npy file (" : ": not a valid .npy file (") +
                      e.what() + ")");
  }
}

}  // namespace xai::test
