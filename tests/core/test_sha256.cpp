#include "core/sha256.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "test_helpers.hpp"
#include "xai/error.hpp"

namespace fs = std::filesystem;

namespace {


using Sha256Test = xai::test::TempDirTest;
using xai::test::run_command;

}  // namespace

TEST_F(Sha256Test, Fips180EmptyMessage) {
  EXPECT_EQ(xai::sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_F(Sha256Test, Fips180Abc) {
  EXPECT_EQ(xai::sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_F(Sha256Test, Fips180TwoBlockMessage) {
  EXPECT_EQ(xai::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(xai::sha256_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnop"
                            "qrlmnopqrsmnopqrstnopqrstu"),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

// Both engines: the CPU's SHA instructions (where it has them) and the portable rounds.
const xai::Sha256Engine kEngines[] = {xai::Sha256Engine::automatic, xai::Sha256Engine::portable};

TEST_F(Sha256Test, TheCpusShaInstructionsAreUsedWhereItHasThem) {
  // A skip, visible in the summary, where only the portable rounds could be checked.
  if (!xai::sha256_cpu_instructions_available()) GTEST_SKIP() << "this CPU has no SHA instructions";
  const std::string cpuinfo = run_command("grep -m1 -o -w sha_ni /proc/cpuinfo");
  EXPECT_EQ(cpuinfo, "sha_ni\n") << "CPUID says SHA, /proc/cpuinfo does not";
}

TEST_F(Sha256Test, Fips180MillionAInUnevenChunks) {
  for (const xai::Sha256Engine engine : kEngines) {
    const std::string a(1000000, 'a');
    xai::Sha256 hasher(engine);
    // Chunk sizes that straddle the 64-byte block boundary in every way.
    const size_t sizes[] = {1, 63, 64, 65, 127, 3, 1000, 55, 56, 9999};
    size_t offset = 0;
    for (size_t i = 0; offset < a.size(); ++i) {
      size_t n = std::min(sizes[i % (sizeof(sizes) / sizeof(sizes[0]))], a.size() - offset);
      hasher.update(a.data() + offset, n);
      offset += n;
    }
    EXPECT_EQ(hasher.hex_digest(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    EXPECT_EQ(xai::sha256_hex(a), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  }
}

TEST_F(Sha256Test, HasherIsReusableAfterDigest) {
  xai::Sha256 hasher;
  hasher.update("xyz", 3);
  hasher.hex_digest();
  hasher.update("abc", 3);
  EXPECT_EQ(hasher.hex_digest(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

// Every message length around the padding boundaries (55/56/64 bytes and multiples),
// checked against Python's hashlib in a single run.
TEST_F(Sha256Test, AllLengthsUpTo200MatchPython) {
  if (::access(XAI_PYTHON, X_OK) != 0) GTEST_SKIP() << "no " XAI_PYTHON;
  const std::string expected = run_command(
      XAI_PYTHON " -c 'import hashlib\n"
      "for n in range(201): print(hashlib.sha256(bytes((i * 7 + 3) % 256 for i in range(n))).hexdigest())'");
  for (const xai::Sha256Engine engine : kEngines) {
    std::istringstream lines(expected);
    for (int n = 0; n <= 200; ++n) {
      std::string message;
      for (int i = 0; i < n; ++i) message += char((i * 7 + 3) % 256);
      std::string line;
      ASSERT_TRUE(std::getline(lines, line)) << "python output ended at length " << n;
      xai::Sha256 hasher(engine);
      hasher.update(message.data(), message.size());
      EXPECT_EQ(hasher.hex_digest(), line) << "length " << n << (engine == xai::Sha256Engine::portable ? " portable" : "");
    }
  }
}

// Many blocks in one update (the CPU's instructions keep the state in registers between them), and
// every block count from 1 to 40 against Python.
TEST_F(Sha256Test, ManyBlocksInOneUpdateMatchPython) {
  if (::access(XAI_PYTHON, X_OK) != 0) GTEST_SKIP() << "no " XAI_PYTHON;
  const std::string expected = run_command(
      XAI_PYTHON " -c 'import hashlib\n"
      "data = bytes((i * 2654435761 >> 13) % 256 for i in range(64 * 40 + 17))\n"
      "for blocks in range(1, 41): print(hashlib.sha256(data[:64 * blocks + 17]).hexdigest())'");
  std::string data;
  for (size_t i = 0; i < 64 * 40 + 17; ++i) data += char(((i * 2654435761u) >> 13) % 256);
  for (const xai::Sha256Engine engine : kEngines) {
    std::istringstream lines(expected);
    for (size_t blocks = 1; blocks <= 40; ++blocks) {
      std::string line;
      ASSERT_TRUE(std::getline(lines, line));
      xai::Sha256 hasher(engine);
      hasher.update(data.data(), 64 * blocks + 17);
      EXPECT_EQ(hasher.hex_digest(), line) << blocks << " blocks";
    }
  }
}

TEST_F(Sha256Test, FileDigestMatchesSha256sum) {
  if (::access("/usr/bin/sha256sum", X_OK) != 0) GTEST_SKIP() << "no sha256sum";
  // A bit over 2 MiB, so the 1 MiB streaming chunks and a partial last chunk are exercised.
  const fs::path file = dir_ / "blob with space.bin";
  {
    std::ofstream out(file, std::ios::binary);
    for (size_t i = 0; i < (2u << 20) + 12345; ++i) out.put(char((i * 2654435761u) >> 13));
  }
  const std::string reference = run_command("/usr/bin/sha256sum '" + file.string() + "'").substr(0, 64);
  ASSERT_EQ(reference.size(), 64u);
  EXPECT_EQ(xai::sha256_file_hex(file.string()), reference);
}

TEST_F(Sha256Test, EmptyFile) {
  const fs::path file = dir_ / "empty";
  std::ofstream(file).close();
  EXPECT_EQ(xai::sha256_file_hex(file.string()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_F(Sha256Test, MissingFileIsAnInputError) {
  const std::string path = (dir_ / "missing.png").string();
  try {
    xai::sha256_file_hex(path);
    FAIL() << "no exception";
  } catch (const xai::Error& e) {
    EXPECT_EQ(e.code(), xai::ExitCode::input);
    EXPECT_EQ(std::string(e.what()), path + ": cannot read (No such file or directory)");
  }
}

TEST_F(Sha256Test, DirectoryIsAnInputError) {
  try {
    xai::sha256_file_hex(dir_.string());
    FAIL() << "no exception";
  } catch (const xai::Error& e) {
    EXPECT_EQ(e.code(), xai::ExitCode::input);
    EXPECT_NE(std::string(e.what()).find(dir_.string() + ": cannot read"), std::string::npos) << e.what();
  }
}
