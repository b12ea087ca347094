#include "xai/results_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "xai/atomic_file.hpp"
#include "xai/error.hpp"

namespace xai {

std::vector<Record> read_results(const std::string& path) {
  std::vector<Record> records;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    Record record = Record::parse(line, nullptr, /*allow_exceptions=*/false);
    if (record.is_discarded() || !record.is_object() || !record.contains("key")) continue;  // cut short
    records.push_back(std::move(record));
  }
  return records;
}

ResultsLog::ResultsLog(const std::string& path) : path_(path) {
  size_t lines_on_disk = 0;
  {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) lines_on_disk += line.empty() ? 0 : 1;
  }
  std::string kept;
  size_t kept_lines = 0;
  for (Record& record : read_results(path)) {
    const std::string key = record["key"].get<std::string>();
    if (record.value("status", "") != "ok" || done_.count(key)) continue;
    done_.insert(key);
    kept += record.dump() + "\n";
    ++kept_lines;
  }
  if (kept_lines != lines_on_disk) write_file_atomic(path, kept);
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) throw output_error(path + ": cannot open for appending (" + std::strerror(errno) + ")");
}

ResultsLog::~ResultsLog() {
  if (fd_ >= 0) ::close(fd_);
}

void ResultsLog::append(const std::vector<Record>& records) {
  if (records.empty()) return;
  std::string lines;
  for (const auto& record : records) lines += record.dump() + "\n";
  // One write() of whole lines: O_APPEND keeps them whole even with other writers.
  size_t written = 0;
  while (written < lines.size()) {
    const ssize_t n = ::write(fd_, lines.data() + written, lines.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw output_error(path_ + ": cannot append results (" + std::strerror(errno) + ")");
    }
    written += static_cast<size_t>(n);
  }
  if (::fdatasync(fd_) != 0) throw output_error(path_ + ": cannot sync results (" + std::strerror(errno) + ")");
}

}  // namespace xai
