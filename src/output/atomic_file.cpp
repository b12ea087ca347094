#include "xai/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <streambuf>
#include <utility>

#include "xai/error.hpp"

namespace xai {

namespace {

Error cannot_write(const std::string& path, int error_number) {
  return output_error(path + ": cannot write (" + std::strerror(error_number) + ")");
}

// Writes everything, retrying short writes and EINTR. Returns 0 or the errno.
int write_all(int fd, const char* data, size_t n) {
  while (n > 0) {
    ssize_t written = ::write(fd, data, n);
    if (written < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data += written;
    n -= size_t(written);
  }
  return 0;
}

// A std::ostream target backed by a raw descriptor: std::ofstream cannot be fsync'ed,
// and remembering errno lets the error message say *why* the write failed (ENOSPC...).
class DescriptorStreamBuf : public std::streambuf {
 public:
  explicit DescriptorStreamBuf(int fd) : fd_(fd) { setp(buffer_, buffer_ + sizeof(buffer_)); }
  int error_number() const { return error_number_; }

 protected:
  int_type overflow(int_type ch) override {
    if (!flush_buffer()) return traits_type::eof();
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(ch);
      pbump(1);
    }
    return traits_type::not_eof(ch);
  }

  std::streamsize xsputn(const char* data, std::streamsize n) override {
    // Large pieces bypass the buffer instead of being copied through it.
    if (n >= std::streamsize(sizeof(buffer_))) {
      if (!flush_buffer()) return 0;
      if (int err = write_all(fd_, data, size_t(n))) {
        error_number_ = err;
        return 0;
      }
      return n;
    }
    return std::streambuf::xsputn(data, n);
  }

  int sync() override { return flush_buffer() ? 0 : -1; }

 private:
  bool flush_buffer() {
    if (error_number_ != 0) return false;
    size_t pending = size_t(pptr() - pbase());
    if (pending > 0) {
      if (int err = write_all(fd_, pbase(), pending)) {
        error_number_ = err;
        return false;
      }
      setp(buffer_, buffer_ + sizeof(buffer_));
    }
    return true;
  }

  int fd_;
  int error_number_ = 0;
  char buffer_[64 * 1024];
};

// Unpredictable enough to keep concurrent writers (threads or processes) apart;
// O_EXCL below guarantees uniqueness, this just makes collisions rare.
uint64_t random_suffix() {
  static std::atomic<uint64_t> counter{0};
  uint64_t x = uint64_t(std::chrono::steady_clock::now().time_since_epoch().count()) ^
               (counter.fetch_add(1) * 0x9e3779b97f4a7c15ULL) ^ (uint64_t(::getpid()) << 32);
  // splitmix64 finaliser, to spread the bits.
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// Removes the temporary file (and closes it) unless the rename went through.
class TempFileGuard {
 public:
  TempFileGuard(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~TempFileGuard() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(path_.c_str());
  }
  TempFileGuard(const TempFileGuard&) = delete;
  TempFileGuard& operator=(const TempFileGuard&) = delete;

  int fd() const { return fd_; }
  // close() can report deferred write errors (e.g. on NFS), so its result matters.
  int close() {
    int result = ::close(fd_);
    fd_ = -1;
    return result;
  }
  void commit() { committed_ = true; }

 private:
  int fd_;
  std::string path_;
  bool committed_ = false;
};

}  // namespace

void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& writer,
                       Durability durability) {
  const size_t slash = path.find_last_of('/');
  const std::string directory = (slash == std::string::npos) ? "" : path.substr(0, slash + 1);
  std::string name = (slash == std::string::npos) ? path : path.substr(slash + 1);
  if (name.empty() || name == "." || name == "..") throw cannot_write(path, EISDIR);
  // Keep the temporary name within NAME_MAX even for very long target names.
  if (name.size() > 200) name.resize(200);

  int fd = -1;
  std::string temp_path;
  for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
    char suffix[64];
    std::snprintf(suffix, sizeof(suffix), ".tmp-%ld-%016llx", long(::getpid()),
                  static_cast<unsigned long long>(random_suffix()));
    temp_path = directory + "." + name + suffix;
    // 0666 minus the umask: the same permissions a plain fopen() would give.
    fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST && errno != EINTR) throw cannot_write(path, errno);
  }
  if (fd < 0) throw cannot_write(path, EEXIST);
  TempFileGuard temp(fd, temp_path);

  {
    DescriptorStreamBuf buffer(temp.fd());
    std::ostream stream(&buffer);
    writer(stream);  // an exception here unwinds through the guard, removing the temp file
    stream.flush();
    if (buffer.error_number() != 0) throw cannot_write(path, buffer.error_number());
    if (!stream) throw output_error(path + ": cannot write (stream error)");
  }

  if (durability == Durability::immediate && ::fsync(temp.fd()) != 0) throw cannot_write(path, errno);
  if (temp.close() != 0) throw cannot_write(path, errno);
  if (::rename(temp_path.c_str(), path.c_str()) != 0) throw cannot_write(path, errno);
  temp.commit();
  if (durability == Durability::deferred) return;

  // Make the rename itself durable. Best effort: some file systems refuse fsync on a
  // directory, and the file is already complete and in place.
  int directory_fd = ::open(directory.empty() ? "." : directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (directory_fd >= 0) {
    ::fsync(directory_fd);
    ::close(directory_fd);
  }
}

void write_file_atomic(const std::string& path, const std::string& bytes, Durability durability) {
  write_file_atomic(
      path, [&bytes](std::ostream& out) { out.write(bytes.data(), std::streamsize(bytes.size())); }, durability);
}

void sync_file_system(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw output_error(path + ": cannot open to sync (" + std::strerror(errno) + ")");
  const int result = ::syncfs(fd);
  const int error_number = errno;
  ::close(fd);
  if (result != 0) throw output_error(path + ": cannot sync to disk (" + std::strerror(error_number) + ")");
}

size_t remove_stale_temporaries(const std::string& dir) {
  namespace fs = std::filesystem;
  size_t removed = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const size_t at = name.rfind(".tmp-");
    if (name.empty() || name[0] != '.' || at == std::string::npos || !it->is_regular_file(ec)) continue;
    // ".tmp-PID-" followed by 16 hex digits, exactly as write_file_atomic names them.
    const std::string tail = name.substr(at + 5);
    const size_t dash = tail.find('-');
    if (dash == std::string::npos || dash == 0 || tail.size() - dash - 1 != 16 ||
        tail.find_first_not_of("0123456789") < dash || tail.find_first_not_of("0123456789abcdef", dash + 1) != std::string::npos)
      continue;
    const long pid = std::strtol(tail.substr(0, dash).c_str(), nullptr, 10);
    if (pid <= 0 || (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)) {
      std::error_code remove_error;
      if (fs::remove(it->path(), remove_error)) ++removed;
    }
  }
  return removed;
}

}  // namespace xai
