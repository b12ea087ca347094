#include "output/npy.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "xai/error.hpp"
#include "npy_reader.hpp"
#include "test_helpers.hpp"

namespace fs = std::filesystem;

namespace {

const char kPython[] = XAI_PYTHON;

bool python_with_numpy_available() {
  static const int available = ::access(kPython, X_OK) == 0 &&
                               std::system(XAI_PYTHON " -c 'import numpy' >/dev/null 2>&1") == 0;
  return available;
}

// Runs a Python script (passed through a file, so quoting is not an issue); returns stdout.
std::string run_python(const fs::path& dir, const std::string& script) {
  const fs::path script_path = dir / "script.py";
  std::ofstream(script_path) << script;
  return xai::test::run_command(std::string(kPython) + " '" + script_path.string() + "' 2>&1");
}

std::string read_whole(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_whole(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string hex_of(const void* data, size_t n) {
  static const char digits[] = "0123456789abcdef";
  std::string hex;
  const unsigned char* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) {
    hex += digits[p[i] >> 4];
    hex += digits[p[i] & 15];
  }
  return hex;
}

// The "not a valid .npy file" message, or a description of what happened instead.
std::string read_failure(const std::string& path) {
  try {
    xai::test::read_npy(path);
    return "no exception";
  } catch (const xai::Error& e) {
    if (e.code() != xai::ExitCode::input) return "wrong exit code: " + std::string(e.what());
    return e.what();
  }
}

bool starts_with(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

class NpyTest : public xai::test::TempDirTest {
 protected:
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
};

}  // namespace

TEST_F(NpyTest, RoundTripIsBitExact) {
  const std::vector<std::vector<size_t>> shapes = {{2, 3, 4}, {7}, {}, {1, 1, 5, 3}, {0, 3}};
  for (const auto& shape : shapes) {
    size_t count = 1;
    for (size_t d : shape) count *= d;
    std::vector<float> values(count);
    for (size_t i = 0; i < count; ++i) values[i] = float(i) * 0.37f - 1.0f;
    if (count >= 4) {
      values[0] = -0.0f;
      values[1] = std::numeric_limits<float>::infinity();
      values[2] = std::numeric_limits<float>::denorm_min();
      values[3] = std::numeric_limits<float>::max();
    }
    const std::string file = path("round.npy");
    xai::write_npy(file, values.data(), shape);
    const xai::test::NpyArray array = xai::test::read_npy(file);
    EXPECT_EQ(array.shape, shape);
    ASSERT_EQ(array.data.size(), count);
    if (count > 0) {
      EXPECT_EQ(std::memcmp(array.data.data(), values.data(), count * sizeof(float)), 0);
    }
    EXPECT_EQ(read_whole(file), xai::npy_bytes(values.data(), shape));
  }
}

TEST_F(NpyTest, NanSurvivesRoundTrip) {
  const float value = std::numeric_limits<float>::quiet_NaN();
  xai::write_npy(path("nan.npy"), &value, {1});
  EXPECT_TRUE(std::isnan(xai::test::read_npy(path("nan.npy")).data.at(0)));
}

TEST_F(NpyTest, HeaderLayout) {
  const std::vector<std::vector<size_t>> shapes = {
      {}, {1}, {3, 224, 224}, {1, 2, 3, 4, 5, 6, 7, 8}, {123456789, 0, 987654321}, std::vector<size_t>(30, 1)};
  for (const auto& shape : shapes) {
    size_t count = 1;
    for (size_t d : shape) count *= d;
    const std::vector<float> values(count, 1.0f);
    const std::string bytes = xai::npy_bytes(values.data(), shape);
    const size_t data_offset = bytes.size() - count * sizeof(float);
    EXPECT_EQ(data_offset % 64, 0u);
    EXPECT_EQ(bytes.compare(0, 8, std::string("\x93NUMPY\x01\x00", 8)), 0);
    const size_t header_length = size_t((unsigned char)bytes[8]) | (size_t((unsigned char)bytes[9]) << 8);
    EXPECT_EQ(10 + header_length, data_offset);
    EXPECT_EQ(bytes[data_offset - 1], '\n');
    const std::string header = bytes.substr(10, header_length);
    EXPECT_TRUE(starts_with(header, "{'descr': '<f4', 'fortran_order': False, 'shape': (")) << header;
  }
  const float one = 1.0f;
  EXPECT_NE(xai::npy_bytes(&one, {}).find("'shape': ()"), std::string::npos);
  EXPECT_NE(xai::npy_bytes(&one, {1}).find("'shape': (1,)"), std::string::npos);
}

TEST_F(NpyTest, NumpyLoadsOurFilesExactly) {
  if (!python_with_numpy_available()) GTEST_SKIP() << "no python3 with numpy";
  std::vector<float> map(2 * 3 * 5);
  for (size_t i = 0; i < map.size(); ++i) map[i] = std::sin(float(i)) * 1e-3f;
  map[4] = -0.0f;
  map[5] = std::numeric_limits<float>::denorm_min();
  const float scalar = 3.140625f;
  std::vector<float> vector(100);
  for (size_t i = 0; i < vector.size(); ++i) vector[i] = float(i) / 3.0f;

  xai::write_npy(path("map.npy"), map.data(), {2, 3, 5});
  xai::write_npy(path("scalar.npy"), &scalar, {});
  xai::write_npy(path("vector.npy"), vector.data(), {100});
  xai::write_npy(path("empty.npy"), nullptr, {0, 4});

  const std::string output = run_python(dir_,
                                        "import numpy, sys, os\n"
                                        "os.chdir(" "'" + dir_.string() + "')\n"
                                        "for name in ['map', 'scalar', 'vector', 'empty']:\n"
                                        "    a = numpy.load(name + '.npy')\n"
                                        "    print(name, a.dtype.str, a.shape, a.flags['C_CONTIGUOUS'], a.tobytes().hex())\n");
  const std::string expected = "map <f4 (2, 3, 5) True " + hex_of(map.data(), map.size() * 4) + "\n" +
                               "scalar <f4 () True " + hex_of(&scalar, 4) + "\n" +
                               "vector <f4 (100,) True " + hex_of(vector.data(), vector.size() * 4) + "\n" +
                               "empty <f4 (0, 4) True \n";
  EXPECT_EQ(output, expected);
}

TEST_F(NpyTest, ReadsFilesWrittenByNumpy) {
  if (!python_with_numpy_available()) GTEST_SKIP() << "no python3 with numpy";
  const std::string output = run_python(dir_,
      "import numpy as np, os\n"
      "os.chdir('" + dir_.string() + "')\n"
      "np.save('f4.npy', (np.arange(24, dtype=np.float32) * 0.5 - 3).reshape(2, 3, 4))\n"
      "np.save('f8.npy', np.array([1.5, -2.25, 0.1, 1e300, -1e300, 1e-50]))\n"
      "np.save('u1.npy', np.array([[0, 1], [128, 255]], dtype=np.uint8))\n"
      "np.save('u2.npy', np.array([0, 1, 4095, 65535], dtype=np.uint16))\n"
      "np.save('i4.npy', np.array([-2147483648, -1, 0, 2147483647], dtype=np.int32))\n"
      "np.save('i8.npy', np.array([-(2**40), 12345, 2**53], dtype=np.int64))\n"
      "np.save('b1.npy', np.array([True, False, True]))\n"
      "np.save('scalar.npy', np.float32(7.25))\n"
      "np.save('empty.npy', np.zeros((0, 3), dtype=np.float32))\n"
      "np.save('big_endian.npy', np.array([1.5, -2.0], dtype='>f4'))\n"
      "np.save('big_endian_i2.npy', np.array([-300, 258], dtype='>i2'))\n"
      "np.save('fortran_1d.npy', np.asfortranarray(np.array([1, 2], dtype=np.float32)))\n"
      "with open('v2.npy', 'wb') as f:\n"
      "    np.lib.format.write_array(f, np.array([[1, 2, 3]], dtype=np.float32), version=(2, 0))\n"
      "with open('v3.npy', 'wb') as f:\n"
      "    np.lib.format.write_array(f, np.array([4, 5], dtype=np.uint8), version=(3, 0))\n"
      "print('done')\n");
  ASSERT_EQ(output, "done\n");

  const xai::test::NpyArray f4 = xai::test::read_npy(path("f4.npy"));
  EXPECT_EQ(f4.shape, (std::vector<size_t>{2, 3, 4}));
  ASSERT_EQ(f4.data.size(), 24u);
  for (size_t i = 0; i < 24; ++i) EXPECT_EQ(f4.data[i], float(i) * 0.5f - 3.0f);

  const xai::test::NpyArray f8 = xai::test::read_npy(path("f8.npy"));
  EXPECT_EQ(f8.shape, (std::vector<size_t>{6}));
  EXPECT_EQ(f8.data, (std::vector<float>{1.5f, -2.25f, float(0.1), std::numeric_limits<float>::infinity(),
                                         -std::numeric_limits<float>::infinity(), 0.0f}));

  const xai::test::NpyArray u1 = xai::test::read_npy(path("u1.npy"));
  EXPECT_EQ(u1.shape, (std::vector<size_t>{2, 2}));
  EXPECT_EQ(u1.data, (std::vector<float>{0, 1, 128, 255}));

  EXPECT_EQ(xai::test::read_npy(path("u2.npy")).data, (std::vector<float>{0, 1, 4095, 65535}));
  EXPECT_EQ(xai::test::read_npy(path("i4.npy")).data, (std::vector<float>{-2147483648.0f, -1, 0, 2147483647.0f}));
  EXPECT_EQ(xai::test::read_npy(path("i8.npy")).data, (std::vector<float>{-1099511627776.0f, 12345, 9007199254740992.0f}));
  EXPECT_EQ(xai::test::read_npy(path("b1.npy")).data, (std::vector<float>{1, 0, 1}));

  const xai::test::NpyArray scalar = xai::test::read_npy(path("scalar.npy"));
  EXPECT_TRUE(scalar.shape.empty());
  EXPECT_EQ(scalar.data, (std::vector<float>{7.25f}));

  const xai::test::NpyArray empty = xai::test::read_npy(path("empty.npy"));
  EXPECT_EQ(empty.shape, (std::vector<size_t>{0, 3}));
  EXPECT_TRUE(empty.data.empty());

  EXPECT_EQ(xai::test::read_npy(path("big_endian.npy")).data, (std::vector<float>{1.5f, -2.0f}));
  EXPECT_EQ(xai::test::read_npy(path("big_endian_i2.npy")).data, (std::vector<float>{-300, 258}));
  EXPECT_EQ(xai::test::read_npy(path("fortran_1d.npy")).data, (std::vector<float>{1, 2}));

  const xai::test::NpyArray v2 = xai::test::read_npy(path("v2.npy"));
  EXPECT_EQ(v2.shape, (std::vector<size_t>{1, 3}));
  EXPECT_EQ(v2.data, (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(xai::test::read_npy(path("v3.npy")).data, (std::vector<float>{4, 5}));
}

TEST_F(NpyTest, RefusesWhatItCannotRepresent) {
  if (!python_with_numpy_available()) GTEST_SKIP() << "no python3 with numpy";
  const std::string output = run_python(dir_,
      "import numpy as np, os\n"
      "os.chdir('" + dir_.string() + "')\n"
      "a = np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3))\n"
      "np.save('fortran.npy', a)\n"
      "np.save('half.npy', np.zeros(3, dtype=np.float16))\n"
      "np.save('complex.npy', np.zeros(3, dtype=np.complex64))\n"
      "np.save('structured.npy', np.zeros(3, dtype=[('x', '<f4'), ('y', '<i4')]))\n"
      "np.save('strings.npy', np.array(['ab', 'c']))\n"
      "print(a.flags['F_CONTIGUOUS'] and not a.flags['C_CONTIGUOUS'])\n");
  ASSERT_EQ(output, "True\n");
  for (const char* name : {"fortran.npy", "half.npy", "complex.npy", "structured.npy", "strings.npy"}) {
    const std::string message = read_failure(path(name));
    EXPECT_TRUE(starts_with(message, path(name) + ": unsupported .npy file (")) << message;
  }
  EXPECT_NE(read_failure(path("fortran.npy")).find("Fortran"), std::string::npos);
  EXPECT_NE(read_failure(path("half.npy")).find("'<f2'"), std::string::npos);
}

TEST_F(NpyTest, EveryTruncationIsAnError) {
  std::vector<float> values(10, 2.0f);
  const std::string bytes = xai::npy_bytes(values.data(), {2, 5});
  for (size_t length = 0; length < bytes.size(); ++length) {
    write_whole(path("cut.npy"), bytes.substr(0, length));
    const std::string message = read_failure(path("cut.npy"));
    EXPECT_TRUE(starts_with(message, path("cut.npy") + ": not a valid .npy file (")) << length << ": " << message;
  }
}

TEST_F(NpyTest, MalformedFilesAreErrors) {
  const float one = 1.0f;
  const std::string good = xai::npy_bytes(&one, {1});
  const std::string preamble = std::string("\x93NUMPY\x01\x00", 8);
  auto with_header = [&](const std::string& header, const std::string& data) {
    std::string bytes = preamble;
    bytes += char(header.size() & 0xff);
    bytes += char(header.size() >> 8);
    return bytes + header + data;
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"empty", ""},
      {"garbage", "this is not a numpy file at all, just text\n"},
      {"png", std::string("\x89PNG\r\n\x1a\n", 8) + std::string(100, '\0')},
      {"bad version", std::string("\x93NUMPY\x07\x00", 8) + good.substr(8)},
      {"trailing bytes", good + "xx"},
      {"not a dict", with_header("[1, 2, 3]\n", "")},
      {"missing shape", with_header("{'descr': '<f4', 'fortran_order': False}\n", std::string(4, '\0'))},
      {"extra key", with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}\n", std::string(4, '\0'))},
      {"negative dim", with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}\n", "")},
      {"int not tuple", with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1)}\n", std::string(4, '\0'))},
      {"bad bool", with_header("{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}\n", std::string(4, '\0'))},
      {"unterminated", with_header("{'descr': '<f4, 'fortran_order': False, 'shape': (1,)}\n", std::string(4, '\0'))},
      {"huge shape", with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16)}\n", "")},
      {"huge dim", with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,)}\n", "")},
      {"claims more data", with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000,)}\n", "abc")},
      {"text after dict", with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} junk\n", std::string(4, '\0'))},
      {"v2 huge header", std::string("\x93NUMPY\x02\x00\xff\xff\xff\x7f", 12) + "{"},
  };
  for (const auto& [name, bytes] : cases) {
    write_whole(path("bad.npy"), bytes);
    const std::string message = read_failure(path("bad.npy"));
    EXPECT_TRUE(starts_with(message, path("bad.npy") + ": not a valid .npy file (")) << name << ": " << message;
  }
}

TEST_F(NpyTest, CorruptedBytesNeverCrash) {
  std::vector<float> values(6, 0.5f);
  const std::string good = xai::npy_bytes(values.data(), {2, 3});
  const size_t header_end = good.size() - values.size() * sizeof(float);
  unsigned state = 12345;
  for (int trial = 0; trial < 500; ++trial) {
    std::string bytes = good;
    for (int k = 0; k < 1 + trial % 4; ++k) {
      state = state * 1103515245u + 12345u;
      bytes[(state >> 8) % header_end] = char(state >> 20);
    }
    write_whole(path("fuzz.npy"), bytes);
    try {
      const xai::test::NpyArray array = xai::test::read_npy(path("fuzz.npy"));
      size_t count = 1;
      for (size_t d : array.shape) count *= d;
      EXPECT_EQ(array.data.size(), count);
    } catch (const xai::Error& e) {
      EXPECT_EQ(e.code(), xai::ExitCode::input) << e.what();
    }
  }
}

TEST_F(NpyTest, MissingFileIsAnInputError) {
  EXPECT_EQ(read_failure(path("absent.npy")), path("absent.npy") + ": cannot read (No such file or directory)");
}

TEST_F(NpyTest, WriteIntoMissingDirectoryIsAnOutputError) {
  const float one = 1.0f;
  const std::string target = path("nope/map.npy");
  try {
    xai::write_npy(target, &one, {1});
    FAIL() << "no exception";
  } catch (const xai::Error& e) {
    EXPECT_EQ(e.code(), xai::ExitCode::output);
    EXPECT_NE(std::string(e.what()).find(target), std::string::npos);
  }
}
