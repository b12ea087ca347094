#include "output/results_log.hpp"

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

namespace {

bool absent_or(const Record& r, const char* key, bool (Record::*is)() const noexcept) {
  return !r.contains(key) || (r[key].*is)();
}

// Values of "files" groups are read as strings only where they are strings; the group itself must
// be an object.
bool is_map_entry(const Record& m) {
  if (!m.is_object() || !absent_or(m, "files", &Record::is_object) || !absent_or(m, "stats", &Record::is_object) ||
      !absent_or(m, "faithfulness", &Record::is_object))
    return false;
  if (m.contains("layer") && !m["layer"].is_null() && !m["layer"].is_string()) return false;
  if (m.contains("target") && !m["target"].is_null()) {
    const Record& t = m["target"];
    if (!t.is_object() || !absent_or(t, "label", &Record::is_string) || !absent_or(t, "probability", &Record::is_number))
      return false;
  }
  return !m.contains("stats") || absent_or(m["stats"], "peak", &Record::is_object);
}

}  // namespace

bool is_well_formed_record(const Record& r) {
  if (!r.is_object() || !r.contains("key") || !r["key"].is_string()) return false;
  for (const char* key : {"input", "path", "sha256", "method", "status", "label", "error"})
    if (!absent_or(r, key, &Record::is_string)) return false;
  if (!absent_or(r, "probability", &Record::is_number) || !absent_or(r, "probabilities", &Record::is_object))
    return false;
  if (!is_map_entry(r)) return false;  // a record carries its first map's fields too
  if (r.contains("maps")) {
    if (!r["maps"].is_array()) return false;
    for (const auto& m : r["maps"])
      if (!is_map_entry(m)) return false;
  }
  return true;
}

std::vector<Record> parse_results(const std::string& text) {
  std::vector<Record> records;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    Record record = Record::parse(line, nullptr, /*allow_exceptions=*/false);
    // A line cut short by a crash, or one whose fields are not of the types batch writes (edited by
    // hand, another tool's): skipped, so every reader may take the fields' types for granted.
    if (record.is_discarded() || !is_well_formed_record(record)) continue;
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

std::vector<Record> compact_journal(const std::string& path) {
  const std::vector<Record> all = read_results(path);
  std::vector<Record> latest = latest_per_input_and_method(all);
  if (latest.size() < all.size()) {
    std::string text;
    for (const auto& record : latest) text += record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    write_file_atomic(path, text);
  }
  return latest;
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
