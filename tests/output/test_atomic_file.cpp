#include "xai/atomic_file.hpp"

#include <gtest/gtest.h>

#include "test_helpers.hpp"
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "xai/error.hpp"

namespace fs = std::filesystem;

namespace {

std::string read_whole(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::set<std::string> entries_of(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.insert(entry.path().filename().string());
  return names;
}

using AtomicFileTest = xai::test::TempDirTest;

}  // namespace

TEST_F(AtomicFileTest, WritesExactBytes) {
  const fs::path target = dir_ / "out.bin";
  std::string bytes = "header\n";
  bytes += std::string("\0\x01\xff", 3);
  xai::write_file_atomic(target.string(), bytes);
  EXPECT_EQ(read_whole(target), bytes);
  EXPECT_EQ(entries_of(dir_), std::set<std::string>{"out.bin"});
}

TEST_F(AtomicFileTest, WritesEmptyFile) {
  const fs::path target = dir_ / "empty.txt";
  xai::write_file_atomic(target.string(), std::string());
  ASSERT_TRUE(fs::exists(target));
  EXPECT_EQ(fs::file_size(target), 0u);
}

TEST_F(AtomicFileTest, StreamingWriterLargeContent) {
  // Larger than the internal buffer, mixing small and large writes.
  const fs::path target = dir_ / "big.txt";
  std::string expected;
  xai::write_file_atomic(target.string(), [&](std::ostream& out) {
    for (int i = 0; i < 20000; ++i) {
      std::string line = "line " + std::to_string(i) + "\n";
      out << line;
      expected += line;
    }
    const std::string block(300000, 'z');
    out.write(block.data(), std::streamsize(block.size()));
    expected += block;
    out << 'E';
    expected += 'E';
  });
  EXPECT_EQ(read_whole(target), expected);
  EXPECT_EQ(entries_of(dir_), std::set<std::string>{"big.txt"});
}

TEST_F(AtomicFileTest, ReplacesExistingFile) {
  const fs::path target = dir_ / "report.json";
  std::ofstream(target) << "old content that is longer than the new one";
  xai::write_file_atomic(target.string(), std::string("new"));
  EXPECT_EQ(read_whole(target), "new");
  EXPECT_EQ(entries_of(dir_), std::set<std::string>{"report.json"});
}

TEST_F(AtomicFileTest, RelativePathInCurrentDirectory) {
  const fs::path previous = fs::current_path();
  fs::current_path(dir_);
  xai::write_file_atomic("plain_name.txt", std::string("here"));
  fs::current_path(previous);
  EXPECT_EQ(read_whole(dir_ / "plain_name.txt"), "here");
  EXPECT_EQ(entries_of(dir_), std::set<std::string>{"plain_name.txt"});
}

TEST_F(AtomicFileTest, NewFileGetsUmaskPermissions) {
  const fs::path target = dir_ / "perm.txt";
  const mode_t old_mask = ::umask(022);
  xai::write_file_atomic(target.string(), std::string("x"));
  ::umask(old_mask);
  struct stat info;
  ASSERT_EQ(::stat(target.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0644u);  // not mkstemp's 0600
}

TEST_F(AtomicFileTest, MissingDirectoryIsAnOutputError) {
  const std::string target = (dir_ / "no_such_dir" / "map.npy").string();
  try {
    xai::write_file_atomic(target, std::string("data"));
    FAIL() << "no exception";
  } catch (const xai::Error& e) {
    EXPECT_EQ(e.code(), xai::ExitCode::output);
    EXPECT_EQ(std::string(e.what()), target + ": cannot write (No such file or directory)");
  }
  EXPECT_TRUE(entries_of(dir_).empty());
}

TEST_F(AtomicFileTest, TargetThatIsADirectoryIsAnOutputError) {
  fs::create_directory(dir_ / "taken");
  const std::string target = (dir_ / "taken").string();
  try {
    xai::write_file_atomic(target, std::string("data"));
    FAIL() << "no exception";
  } catch (const xai::Error& e) {
    EXPECT_EQ(e.code(), xai::ExitCode::output);
    EXPECT_NE(std::string(e.what()).find(target + ": cannot write ("), std::string::npos) << e.what();
  }
  EXPECT_EQ(entries_of(dir_), std::set<std::string>{"taken"});  // temp file removed after failed rename
  EXPECT_TRUE(fs::is_directory(dir_ / "taken"));
}

TEST_F(AtomicFileTest, TrailingSlashIsAnOutputError) {
  EXPECT_THROW(xai::write_file_atomic(dir_.string() + "/", std::string("x")), xai::Error);
  EXPECT_TRUE(entries_of(dir_).empty());
}

TEST_F(AtomicFileTest, ThrowingWriterLeavesNothingBehind) {
  const fs::path target = dir_ / "never.png";
  EXPECT_THROW(xai::write_file_atomic(target.string(),
                                      [](std::ostream& out) {
                                        out << std::string(200000, 'p');  // some bytes already written
                                        throw std::runtime_error("encoder failed");
                                      }),
               std::runtime_error);
  EXPECT_TRUE(entries_of(dir_).empty());
}

TEST_F(AtomicFileTest, ThrowingWriterKeepsExistingTarget) {
  const fs::path target = dir_ / "keep.txt";
  std::ofstream(target) << "previous";
  EXPECT_THROW(xai::write_file_atomic(target.string(), [](std::ostream&) { throw std::runtime_error("boom"); }),
               std::runtime_error);
  EXPECT_EQ(read_whole(target), "previous");
  EXPECT_EQ(entries_of(dir_), std::set<std::string>{"keep.txt"});
}

TEST_F(AtomicFileTest, WriterThatFailsTheStreamIsAnOutputError) {
  const fs::path target = dir_ / "bad.txt";
  try {
    xai::write_file_atomic(target.string(), [](std::ostream& out) {
      out << "partial";
      out.setstate(std::ios::badbit);
    });
    FAIL() << "no exception";
  } catch (const xai::Error& e) {
    EXPECT_EQ(e.code(), xai::ExitCode::output);
    EXPECT_NE(std::string(e.what()).find(target.string()), std::string::npos);
  }
  EXPECT_TRUE(entries_of(dir_).empty());
}

TEST_F(AtomicFileTest, ConcurrentWritersToOneTargetLeaveOneCompleteFile) {
  const fs::path target = dir_ / "shared.txt";
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) xai::write_file_atomic(target.string(), std::string(10000, char('a' + t)));
    });
  for (auto& thread : threads) thread.join();
  const std::string content = read_whole(target);
  ASSERT_EQ(content.size(), 10000u);
  EXPECT_EQ(content, std::string(10000, content[0]));  // never a mix of two writers
  EXPECT_EQ(entries_of(dir_), std::set<std::string>{"shared.txt"});
}
