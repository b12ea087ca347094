#include "core/file_read.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "test_helpers.hpp"

namespace xai {
namespace {

namespace fs = std::filesystem;

std::string error_of(const std::string& path, uint64_t max_bytes = 1 << 20) {
  try {
    read_regular_file(path, max_bytes, ExitCode::input, "--limit");
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::input);
    EXPECT_EQ(std::string(e.what()).rfind(path + ": ", 0), 0u) << e.what();
    return e.what();
  }
  ADD_FAILURE() << path << " was read";
  return "";
}

TEST(FileRead, ReadsRegularFilesAndLinksToThem) {
  test::TempDir dir;
  const fs::path file = dir.path / "a.bin";
  std::ofstream(file, std::ios::binary) << std::string("\0abc\xff", 5);
  EXPECT_EQ(read_regular_file(file.string(), 5, ExitCode::input), std::string("\0abc\xff", 5));
  fs::create_symlink(file, dir.path / "link.bin");
  EXPECT_EQ(read_regular_file((dir.path / "link.bin").string(), 5, ExitCode::input).size(), 5u);
  std::ofstream(dir.path / "empty.bin");
  EXPECT_EQ(read_regular_file((dir.path / "empty.bin").string(), 5, ExitCode::input), "");
}

TEST(FileRead, RefusesWhatIsNotARegularFileWithoutBlocking) {
  test::TempDir dir;
  const fs::path fifo = dir.path / "fifo.png";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_NE(error_of(fifo.string()).find("is a FIFO"), std::string::npos);
  // A link to the FIFO (as in a batch folder) is the FIFO.
  fs::create_symlink(fifo, dir.path / "link.png");
  EXPECT_NE(error_of((dir.path / "link.png").string()).find("FIFO"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_NE(error_of("/dev/zero").find("character device"), std::string::npos);
  EXPECT_NE(error_of(dir.path.string()).find("is a directory"), std::string::npos);
  EXPECT_NE(error_of((dir.path / "missing.png").string()).find("no such file"), std::string::npos);
  fs::create_symlink(dir.path / "loop1", dir.path / "loop2");
  fs::create_symlink(dir.path / "loop2", dir.path / "loop1");
  EXPECT_NE(error_of((dir.path / "loop1").string()).find("symbolic links"), std::string::npos);
}

TEST(FileRead, RefusesFilesOverTheLimitNamingIt) {
  test::TempDir dir;
  const fs::path file = dir.path / "big.bin";
  std::ofstream(file, std::ios::binary) << std::string(3000, 'x');
  const std::string message = error_of(file.string(), 2048);
  EXPECT_NE(message.find("2.9 KiB"), std::string::npos) << message;
  EXPECT_NE(message.find("2.0 KiB"), std::string::npos) << message;
  EXPECT_NE(message.find("--limit"), std::string::npos) << message;
  EXPECT_EQ(read_regular_file(file.string(), 3000, ExitCode::input).size(), 3000u);
}

TEST(FileRead, HumanBytes) {
  EXPECT_EQ(human_bytes(12), "12 bytes");
  EXPECT_EQ(human_bytes(1536), "1.5 KiB");
  EXPECT_EQ(human_bytes(3ull << 30), "3.0 GiB");
}

}  // namespace
}  // namespace xai
