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
  for (Record& record : read_results(path)) {
    const std::string key = record["key"].get<std::string>();
    if (record.value("status", "") != "ok" || done_.count(key)) continue;
    done_.insert(key);
    records_.push_back(std::move(record));
  }
  if (records_.size() != lines_on_disk) {
    std::string text;
    for (const auto& record : records_) text += record.dump() + "\n";
    write_file_atomic(path, text);
  }
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) throw output_error(path + ": cannot open for appending (" + std::strerror(errno) + ")");
}

ResultsLog::~ResultsLog() {
  if (fd_ >= 0) ::close(fd_);
}

void ResultsLog::append(const Record& record) {
  // One write() of the whole line: O_APPEND keeps lines whole even with other writers.
  const std::string line = record.dump() + "\n";
  size_t written = 0;
  while (written < line.size()) {
    const ssize_t n = ::write(fd_, line.data() + written, line.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw output_error(path_ + ": cannot append result (" + std::strerror(errno) + ")");
    }
    written += static_cast<size_t>(n);
  }
  ::fdatasync(fd_);
  if (record.value("status", "") == "ok") done_.insert(record["key"].get<std::string>());
  records_.push_back(record);
}

}  // namespace xai
