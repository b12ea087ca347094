// Shared helpers for the unit tests.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>

#include <filesystem>
#include <random>
#include <string>

#include "xai/preprocess.hpp"

namespace xai::test {

inline std::string model_path(const std::string& name) { return std::string(XAI_MODELS_DIR) + "/" + name; }
inline std::string data_path(const std::string& name) { return std::string(XAI_TEST_DATA) + "/" + name; }

// A deterministic smooth random input of the given shape (already normalised).
inline InputBlob random_blob(int channels, int height, int width, unsigned seed) {
  InputBlob blob{channels, height, width, {}};
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  blob.values.resize(static_cast<size_t>(channels) * height * width);
  for (auto& v : blob.values) v = noise(rng);
  return blob;
}

// A temporary directory removed when the object goes out of scope.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::temp_directory_path() /
           ("xai-test-" + std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

// A test with its own temporary directory `dir_`, removed afterwards.
class TempDirTest : public ::testing::Test {
 protected:
  TempDir temp_;
  const std::filesystem::path& dir_ = temp_.path;
};

// Standard output of a shell command ("" if it could not be started); `status`, if given, gets
// pclose()'s result.
inline std::string run_command(const std::string& command, int* status = nullptr) {
  std::string output;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return output;
  char chunk[65536];
  for (size_t n; (n = std::fread(chunk, 1, sizeof(chunk), pipe)) > 0;) output.append(chunk, n);
  const int result = ::pclose(pipe);
  if (status) *status = result;
  return output;
}

}  // namespace xai::test
