#include "xai/results_log.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "xai/atomic_file.hpp"
#include "xai/error.hpp"

namespace xai {

std::vector<Record> read_results(const std::string& path) {
  std::error_code ec;
  // Only a regular file: a FIFO planted as results.jsonl would block the run.
  if (std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec))
    throw output_error(path + ": is not a regular file");
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return parse_results(text.str());
}

std::vector<Record> parse_results(const std::string& text) {
  std::vector<Record> records;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    Record record = Record::parse(line, nullptr, /*allow_exceptions=*/false);
    if (record.is_discarded() || !record.is_object() || !record.contains("key") || !record["key"].is_string())
      continue;  // cut short
    records.push_back(std::move(record));
  }
  return records;
}

std::vector<Record> latest_per_input_and_method(std::vector<Record> records) {
  std::map<std::pair<std::string, std::string>, size_t> last;
  for (size_t i = 0; i < records.size(); ++i)
    last[{records[i].value("input", ""), records[i].value("method", "")}] = i;
  std::vector<Record> kept;
  for (size_t i = 0; i < records.size(); ++i)
    if (last[{records[i].value("input", ""), records[i].value("method", "")}] == i) kept.push_back(std::move(records[i]));
  return kept;
}

bool is_contained_relative_path(const std::string& path) {
  if (path.empty() || path.find('\0') != std::string::npos) return false;
  const std::filesystem::path p(path);
  if (p.is_absolute() || p.has_root_name() || p.has_root_directory()) return false;
  for (const auto& part : p)
    if (part == ".." || part == "." || part.empty()) return false;
  return p.lexically_normal().generic_string() == path;
}

OutputLock::OutputLock(const std::string& out_dir) {
  const std::string path = (std::filesystem::path(out_dir) / ".xai.lock").string();
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw output_error(path + ": cannot create the lock file (" + std::strerror(errno) + ")");
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    char holder[32] = {0};
    const ssize_t n = ::pread(fd_, holder, sizeof holder - 1, 0);
    ::close(fd_);
    fd_ = -1;
    std::string pid(holder, n > 0 ? static_cast<size_t>(n) : 0);
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    throw output_error(out_dir + ": another xai run is writing into this folder" +
                       (pid.empty() ? std::string() : " (process " + pid + ")") +
                       "; wait for it, or give another -o");
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) == 0) (void)!::pwrite(fd_, pid.data(), pid.size(), 0);
}

OutputLock::~OutputLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the lock
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
  for (Record& record : latest_per_input_and_method(read_results(path))) {
    if (!record["key"].is_string()) continue;
    const std::string key = record["key"].get<std::string>();
    if (record.value("status", "") != "ok" || done_.count(key)) continue;
    done_.insert(key);
    kept += record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
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
  for (const auto& record : records) lines += record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
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
