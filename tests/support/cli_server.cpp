// Test support: runs xai command lines in forked children of one process that has loaded the
// libraries once. Starting the real binary costs ~0.7 s (LibTorch's and OpenCV's ~300 shared
// libraries and their static initialisers) before any work; the option matrix
// (tests/cli/test_cli_options.cpp) runs ~900 command lines, so it runs them here: each child is a
// fresh copy of a process that has run nothing yet, and calls the same xai::cli::run() as main().
// The server itself never runs a model, so no thread pool exists to be broken by fork().
//
// Protocol on stdin/stdout, one request at a time: "COUNT\0CWD\0STDOUT\0STDERR\0ARG1\0...ARGn\0"
// (COUNT = n) in; the exit code as a decimal line out (128 + signal when the child was killed).
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "child_io.hpp"
#include "cli/commands.hpp"

namespace {

// One NUL-terminated field from stdin; false at end of input.
bool read_field(std::string& field) {
  field.clear();
  char c = 0;
  while (true) {
    const ssize_t n = ::read(0, &c, 1);
    if (n == 0) return false;
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (c == '\0') return true;
    field += c;
  }
}

}  // namespace

int main() {
  std::string count_text, cwd, out_path, err_path;
  while (read_field(count_text)) {
    const int count = std::atoi(count_text.c_str());
    std::vector<std::string> args = {"xai"};
    if (!read_field(cwd) || !read_field(out_path) || !read_field(err_path)) return 1;
    for (int i = 0; i < count; ++i) {
      std::string arg;
      if (!read_field(arg)) return 1;
      args.push_back(std::move(arg));
    }
    const pid_t pid = ::fork();
    if (pid < 0) return 1;
    if (pid == 0) {
      xai::test::redirect_child_io(cwd.c_str(), out_path.c_str(), err_path.c_str());
      std::vector<char*> argv;
      for (auto& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      xai::cli::exit_process(xai::cli::run(static_cast<int>(args.size()), argv.data()));  // as main() does
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    const std::string line = std::to_string(code) + "\n";
    if (::write(1, line.data(), line.size()) != static_cast<ssize_t>(line.size())) return 1;
  }
  return 0;
}
