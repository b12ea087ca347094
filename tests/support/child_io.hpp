// Test support: what a forked child does before it becomes an xai run (the end-to-end fixture's exec
// of the binary, the CLI server's call of xai::cli::run): stdin from /dev/null, stdout and stderr
// into files, the working directory. Only async-signal-safe calls: it runs between fork() and exec().
#pragma once

#include <fcntl.h>
#include <unistd.h>

namespace xai::test {

// Exits the child with 126 when a file or the directory cannot be opened.
inline void redirect_child_io(const char* cwd, const char* out_path, const char* err_path) {
  const int null_fd = ::open("/dev/null", O_RDONLY);
  const int out_fd = ::open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const int err_fd = ::open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (null_fd < 0 || out_fd < 0 || err_fd < 0 || ::chdir(cwd) != 0) ::_exit(126);
  ::dup2(null_fd, 0);
  ::dup2(out_fd, 1);
  ::dup2(err_fd, 2);
}

}  // namespace xai::test
