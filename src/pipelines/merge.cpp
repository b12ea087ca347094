// xai merge: several batch outputs (shards) into one folder, with one journal, summary and gallery.
#include <algorithm>
#include <filesystem>
#include <map>

#include "xai/atomic_file.hpp"
#include "xai/batch.hpp"
#include "xai/gallery.hpp"
#include "xai/results_log.hpp"

namespace xai {

namespace fs = std::filesystem;

size_t merge_batch_outputs(const std::vector<std::string>& run_dirs, const std::string& out_dir) {
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) throw output_error(out_dir + ": cannot create output directory (" + ec.message() + ")");
  std::vector<Record> merged;
  std::map<std::string, size_t> by_key;
  for (const auto& dir : run_dirs) {
    const std::string journal = (fs::path(dir) / "results.jsonl").string();
    if (!fs::is_regular_file(journal, ec)) throw usage_error(dir + ": no results.jsonl (not a batch output folder)");
    for (Record& record : read_results(journal)) {
      for (const auto& file : record_files(record)) {
        const fs::path from = fs::path(dir) / file, to = fs::path(out_dir) / file;
        if (fs::equivalent(from, to, ec)) continue;
        fs::create_directories(to.parent_path(), ec);
        fs::remove(to, ec);
        fs::create_hard_link(from, to, ec);
        if (ec) fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
        if (ec) throw output_error(to.string() + ": cannot copy from " + from.string() + " (" + ec.message() + ")");
      }
      const std::string key = record["key"].get<std::string>();
      auto it = by_key.find(key);
      if (it == by_key.end()) {
        by_key[key] = merged.size();
        merged.push_back(std::move(record));
      } else if (merged[it->second].value("status", "") != "ok" && record.value("status", "") == "ok") {
        merged[it->second] = std::move(record);  // a success beats an earlier failure
      }
    }
  }
  std::sort(merged.begin(), merged.end(), [](const Record& a, const Record& b) {
    return std::make_pair(a.value("input", ""), a.value("method", "")) <
           std::make_pair(b.value("input", ""), b.value("method", ""));
  });
  std::string text;
  for (const auto& record : merged) text += record.dump() + "\n";
  write_file_atomic((fs::path(out_dir) / "results.jsonl").string(), text);
  write_run_index(out_dir, merged);
  return merged.size();
}

}  // namespace xai
