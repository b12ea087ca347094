#include "core/file_read.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace xai {
namespace {

std::string kind_of(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// Closes the descriptor on every path out.
struct Descriptor {
  int fd;
  ~Descriptor() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::string human_bytes(uint64_t bytes) {
  char text[32];
  if (bytes >= (1ull << 30))
    std::snprintf(text, sizeof text, "%.1f GiB", static_cast<double>(bytes) / double(1ull << 30));
  else if (bytes >= (1ull << 20))
    std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / double(1ull << 20));
  else if (bytes >= 1024)
    std::snprintf(text, sizeof text, "%.1f KiB", static_cast<double>(bytes) / 1024.0);
  else
    std::snprintf(text, sizeof text, "%llu bytes", static_cast<unsigned long long>(bytes));
  return text;
}

std::string read_regular_file(const std::string& path, uint64_t max_bytes, ExitCode code,
                              const std::string& limit_name) {
  auto fail = [&](const std::string& why) { return Error(code, path + ": " + why); };
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer; the type is then checked
  // on the open descriptor, so the file cannot be swapped between the check and the read.
  Descriptor file{::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC)};
  if (file.fd < 0) {
    const int e = errno;
    if (e == ENOENT) throw fail(path.empty() ? "no file name" : "no such file");
    if (e == EACCES) throw fail("cannot open (permission denied)");
    if (e == ELOOP) throw fail("too many levels of symbolic links");
    if (e == ENOTDIR) throw fail("no such file (a parent is not a folder)");
    throw fail(std::string("cannot open (") + std::strerror(e) + ")");
  }
  struct stat info {};
  if (::fstat(file.fd, &info) != 0) throw fail(std::string("cannot stat (") + std::strerror(errno) + ")");
  if (S_ISDIR(info.st_mode)) throw fail("is a directory, not a file");
  if (!S_ISREG(info.st_mode)) throw fail("is " + kind_of(info.st_mode) + ", not a regular file");
  const uint64_t size = static_cast<uint64_t>(info.st_size);
  auto too_large = [&](uint64_t n) {
    return fail("file is " + (n > size ? "over " : std::string()) + human_bytes(n) + ", over the limit of " +
                human_bytes(max_bytes) + (limit_name.empty() ? "" : " (" + limit_name + ")"));
  };
  if (size > max_bytes) throw too_large(size);
  // Back to blocking reads (regular files never block; the flag only mattered for open()).
  ::fcntl(file.fd, F_SETFL, ::fcntl(file.fd, F_GETFL) & ~O_NONBLOCK);
  std::string bytes;
  bytes.resize(static_cast<size_t>(size));
  size_t have = 0;
  while (true) {
    if (have == bytes.size()) {
      // The file may have grown since fstat: keep reading, within the limit.
      if (bytes.size() >= max_bytes) {
        char probe;
        const ssize_t n = ::read(file.fd, &probe, 1);
        if (n > 0) throw too_large(max_bytes);
        break;
      }
      bytes.resize(std::min<uint64_t>(max_bytes, bytes.size() + 65536));
    }
    const ssize_t n = ::read(file.fd, bytes.data() + have, bytes.size() - have);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw fail(std::string("read error (") + std::strerror(errno) + ")");
    }
    if (n == 0) break;
    have += static_cast<size_t>(n);
  }
  bytes.resize(have);
  return bytes;
}

}  // namespace xai
