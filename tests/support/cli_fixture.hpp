// Test support: the end-to-end fixture that runs the real `xai` binary (fork/exec, stdout and
// stderr captured to files) in a fresh temporary directory, and helpers to write images and read
// outputs. Shared by the end-to-end tests in tests/cli/.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <torch/cuda.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "output/npy.hpp"
#include "child_io.hpp"
#include "npy_reader.hpp"
#include "test_helpers.hpp"
#include "output/render.hpp"
#include "core/sha256.hpp"

namespace xai::e2e {

using xai::test::with_exif_orientation;

namespace fs = std::filesystem;
using nlohmann::json;

inline const std::string kModels = XAI_MODELS_DIR;

// Long option names in a --help text ("  -m,--model TEXT ...", "  --frames TEXT ..."), --help itself left out.
inline std::vector<std::string> options_in_help(const std::string& help) {
  std::vector<std::string> names;
  std::istringstream lines(help);
  const std::regex option(R"(^  (-[A-Za-z0-9],)?(--[a-z][a-z0-9-]*))");
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_search(line, m, option) && m[2] != "--help") names.push_back(m[2]);
  }
  return names;
}
inline const std::string kTestData = XAI_TEST_DATA;

inline std::string model(const std::string& name) { return kModels + "/" + name; }

inline std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

inline void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

// Names of every entry directly under `dir` (hidden ones included: temporary files start with '.').
inline std::set<std::string> entries(const fs::path& dir) {
  std::set<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) names.insert(entry.path().filename().string());
  return names;
}

inline std::string join(const std::set<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

inline size_t count_lines(const std::string& text) { return static_cast<size_t>(std::count(text.begin(), text.end(), '\n')); }

// A deterministic, structured, non-square BGR test image: gradients, a bright disc, a dark
// rectangle and a little seeded noise, so the model's map is not trivially flat.
inline cv::Mat test_image(int width, int height, uint64_t seed = 7) {
  cv::Mat image(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      image.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uchar>(255 * x / std::max(1, width - 1)),
                                            static_cast<uchar>(255 * y / std::max(1, height - 1)),
                                            static_cast<uchar>(128 + 60 * std::sin(0.15 * (x + y))));
  cv::circle(image, {width / 3, height / 2}, std::max(1, height / 4), cv::Scalar(240, 230, 250), cv::FILLED);
  cv::rectangle(image, {2 * width / 3, height / 5}, {2 * width / 3 + width / 6, height / 5 + height / 4},
                cv::Scalar(20, 10, 40), cv::FILLED);
  cv::Mat noise(height, width, CV_8UC3);
  cv::RNG rng(seed);
  rng.fill(noise, cv::RNG::UNIFORM, 0, 20);
  cv::add(image, noise, image);
  return image;
}

struct RunResult {
  int code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

inline std::ostream& operator<<(std::ostream& os, const RunResult& r) {
  return os << "exit " << r.code << "\n--- stdout ---\n" << r.out << "--- stderr ---\n" << r.err << "---";
}

// The parsed content of an .npy map, with the dtype read from the header.
struct Map {
  std::string descr;
  std::vector<size_t> shape;
  std::vector<float> data;
};

inline Map read_map(const fs::path& path) {
  Map map;
  const std::string bytes = read_bytes(path);
  const size_t at = bytes.find("'descr': '");
  if (at != std::string::npos) map.descr = bytes.substr(at + 10, bytes.find('\'', at + 10) - at - 10);
  const xai::test::NpyArray array = xai::test::read_npy(path.string());
  map.shape = array.shape;
  map.data = array.data;
  return map;
}

inline float max_abs_diff(const Map& a, const Map& b) {
  if (a.data.size() != b.data.size()) return INFINITY;
  float worst = 0;
  for (size_t i = 0; i < a.data.size(); ++i) worst = std::max(worst, std::abs(a.data[i] - b.data[i]));
  return worst;
}

inline cv::Mat map_mat(const Map& map) {
  if (map.shape.size() != 2) return {};
  cv::Mat m(static_cast<int>(map.shape[0]), static_cast<int>(map.shape[1]), CV_32FC1);
  std::copy(map.data.begin(), map.data.end(), m.ptr<float>());
  return m;
}

inline double max_pixel_diff(const cv::Mat& a, const cv::Mat& b) {
  if (a.size() != b.size() || a.type() != b.type()) return INFINITY;
  cv::Mat diff;
  cv::absdiff(a, b, diff);
  double hi = 0;
  cv::minMaxLoc(diff.reshape(1), nullptr, &hi);
  return hi;
}

// A running tests/support/cli_server.cpp (XAI_CLI_SERVER): command lines run in forked children of one
// process that loaded the libraries once, instead of a fresh binary each (~0.7 s saved per run).
class CliServer {
 public:
  CliServer() {
    ::signal(SIGPIPE, SIG_IGN);  // a dead server is an error below, not the end of the test process
    int to[2], from[2];
    if (::pipe(to) != 0 || ::pipe(from) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(to[0], 0);
      ::dup2(from[1], 1);
      ::close(to[0]), ::close(to[1]), ::close(from[0]), ::close(from[1]);
      ::execl(XAI_CLI_SERVER, XAI_CLI_SERVER, static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(to[0]);
    ::close(from[1]);
    to_ = to[1];
    from_ = from[0];
  }
  ~CliServer() {
    if (to_ >= 0) ::close(to_);
    if (from_ >= 0) ::close(from_);
    int status = 0;
    if (pid_ > 0) ::waitpid(pid_, &status, 0);
  }
  CliServer(const CliServer&) = delete;
  CliServer& operator=(const CliServer&) = delete;

  // The exit code, or -1 when the server is gone.
  int run(const std::vector<std::string>& args, const std::string& cwd, const std::string& out_path,
          const std::string& err_path) {
    std::string request = std::to_string(args.size());
    request += '\0';
    for (const std::string* field : {&cwd, &out_path, &err_path}) request += *field + '\0';
    for (const auto& arg : args) request += arg + '\0';
    for (size_t sent = 0; sent < request.size();) {
      const ssize_t n = ::write(to_, request.data() + sent, request.size() - sent);
      if (n <= 0) return -1;
      sent += static_cast<size_t>(n);
    }
    std::string line;
    char c = 0;
    while (::read(from_, &c, 1) == 1 && c != '\n') line += c;
    return line.empty() ? -1 : std::atoi(line.c_str());
  }

 private:
  pid_t pid_ = -1;
  int to_ = -1, from_ = -1;
};

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "xai-e2e-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr) << "mkdtemp: " << std::strerror(errno);
    root_ = pattern;
    fs::create_directories(root_ / "in");
    fs::create_directories(root_ / "io");
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  fs::path in(const std::string& name) const { return root_ / "in" / name; }
  fs::path out_dir() const { return root_ / "out"; }

  // From now on, command lines (without `while_running`) run in a CliServer's forked children: the
  // same xai::cli::run() as the binary's main(), without its start-up cost.
  void use_server() { server_ = std::make_unique<CliServer>(); }

  // Runs the real binary with `args`; stdout and stderr go to files under io/ (never into OUT).
  // `while_running` (optional) is called with the child's pid before waiting for it (to signal it).
  RunResult xai(const std::vector<std::string>& args, const fs::path& cwd = {},
                const std::function<void(pid_t)>& while_running = {}) {
    const int n = ++runs_;
    const std::string out_path = (root_ / "io" / ("stdout." + std::to_string(n))).string();
    const std::string err_path = (root_ / "io" / ("stderr." + std::to_string(n))).string();
    const std::string dir = cwd.empty() ? root_.string() : cwd.string();
    if (server_ && !while_running && address_space_limit_ == 0) {
      RunResult result;
      result.code = server_->run(args, dir, out_path, err_path);
      EXPECT_GE(result.code, 0) << "the CLI server is gone";
      result.out = read_bytes(out_path);
      result.err = read_bytes(err_path);
      return result;
    }
    // Everything the child needs is prepared before fork(): only async-signal-safe calls after it.
    std::vector<std::string> storage = {XAI_BINARY};
    storage.insert(storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& arg : storage) argv.push_back(arg.data());
    argv.push_back(nullptr);

    const pid_t pid = ::fork();
    if (pid < 0) {
      ADD_FAILURE() << "fork: " << std::strerror(errno);
      return {};
    }
    if (pid == 0) {
      xai::test::redirect_child_io(dir.c_str(), out_path.c_str(), err_path.c_str());
      if (address_space_limit_ > 0) {
        const struct rlimit limit {address_space_limit_, address_space_limit_};
        if (::setrlimit(RLIMIT_AS, &limit) != 0) ::_exit(125);
      }
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    if (while_running) while_running(pid);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    RunResult result;
    result.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    result.out = read_bytes(out_path);
    result.err = read_bytes(err_path);
    return result;
  }

  // explain with the given model and image into OUT, plus extra flags.
  RunResult explain(const std::string& model_file, const fs::path& image, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"explain", "--model", model_file, image.string(), "-o", out_dir().string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return xai(args);
  }

  // A figure kept for a person to look at: copied into $XAI_TEST_ARTIFACTS (scripts/test.sh sets it to
  // build/test-artifacts) as TEST.NAME, when that is set.
  void keep_artifact(const fs::path& file) const {
    const char* dir = std::getenv("XAI_TEST_ARTIFACTS");
    if (!dir || !*dir) return;
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    std::error_code ec;
    fs::create_directories(dir, ec);
    fs::copy_file(file, fs::path(dir) / (std::string(test ? test->name() : "test") + "." + file.filename().string()),
                  fs::copy_options::overwrite_existing, ec);
    EXPECT_FALSE(ec) << "keeping " << file << ": " << ec.message();
  }

  fs::path write_image(const std::string& name, const cv::Mat& image, const std::vector<int>& params = {}) {
    const fs::path path = in(name);
    EXPECT_TRUE(cv::imwrite(path.string(), image, params)) << path;
    return path;
  }

  json read_json(const fs::path& path) {
    try {
      return json::parse(read_bytes(path));
    } catch (const json::exception& e) {
      ADD_FAILURE() << path << ": " << e.what();
      return json();
    }
  }

  // The documented failure shape: exit code, exactly one line on stderr that starts with
  // "xai: error: " and names every fragment, nothing on stdout, and no outputs anywhere.
  void expect_error(const RunResult& r, int code, const std::vector<std::string>& fragments) {
    EXPECT_EQ(r.code, code) << r;
    EXPECT_EQ(r.err.rfind("xai: error: ", 0), 0u) << r;
    EXPECT_EQ(count_lines(r.err), 1u) << "stderr must be exactly one line\n" << r;
    EXPECT_FALSE(r.err.empty() || r.err.back() != '\n') << r;
    for (const auto& fragment : fragments) EXPECT_NE(r.err.find(fragment), std::string::npos) << fragment << "\n" << r;
    EXPECT_TRUE(r.out.empty()) << r;
    expect_no_outputs();
  }

  void expect_no_outputs() {
    EXPECT_TRUE(!fs::exists(out_dir()) || entries(out_dir()).empty()) << "outputs: " << join(entries(out_dir()));
    EXPECT_FALSE(fs::exists(in("xai-out"))) << "default output directory created";
  }

  fs::path root_;
  int runs_ = 0;
  std::unique_ptr<CliServer> server_;
  // When set, the binary runs with this much address space (bytes, RLIMIT_AS): a machine that cannot
  // hold what it is asked to allocate, as a GPU with too little memory.
  rlim_t address_space_limit_ = 0;
};


}  // namespace xai::e2e
