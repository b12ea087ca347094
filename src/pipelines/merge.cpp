// xai merge: several batch outputs (shards) into one folder, with one journal, summary and gallery.
#include <algorithm>
#include <filesystem>
#include <map>

#include "xai/atomic_file.hpp"
#include "xai/error.hpp"
#include "xai/batch.hpp"
#include "output/gallery.hpp"
#include "output/results_log.hpp"

namespace xai {

namespace fs = std::filesystem;

size_t merge_batch_outputs(const std::vector<std::string>& run_dirs, const std::string& out_dir) {
  // First everything is read and checked; nothing is written unless the whole merge can be.
  struct Source {
    std::string dir, journal;
    Record record;
  };
  std::vector<Source> sources;
  std::error_code ec;
  for (const auto& dir : run_dirs) {
    const std::string journal = (fs::path(dir) / "results.jsonl").string();
    if (!fs::is_regular_file(journal, ec)) throw usage_error(dir + ": no results.jsonl (not a batch output folder)");
    for (Record& record : read_results(journal)) {
      // A journal is input here: a path it names must be one xai writes, inside its own folder
      // (an "overlay": "../../victim" entry would otherwise replace or delete a file anywhere).
      for (const auto& file : record_files(record)) {
        if (!is_contained_relative_path(file))
          throw input_error(journal + ": names a file outside its folder (\"" + file + "\"); refusing to merge");
        if (!fs::is_regular_file(fs::path(dir) / file, ec))
          throw input_error(journal + ": lists " + file + ", which is missing from " + dir + "; nothing was merged");
      }
      sources.push_back({dir, journal, std::move(record)});
    }
  }
  // One result per input and method: the last shard's, except that a success beats a failure.
  std::map<std::pair<std::string, std::string>, size_t> chosen;
  for (size_t i = 0; i < sources.size(); ++i) {
    const Record& r = sources[i].record;
    const auto id = std::make_pair(r.value("input", ""), r.value("method", ""));
    auto it = chosen.find(id);
    if (it == chosen.end() || r.value("status", "") == "ok" || sources[it->second].record.value("status", "") != "ok")
      chosen[id] = i;
  }

  fs::create_directories(out_dir, ec);
  if (ec) throw output_error(out_dir + ": cannot create output directory (" + ec.message() + ")");
  const OutputLock lock(out_dir);
  std::vector<fs::path> created;  // removed again if the merge fails half-way (a full disk)
  std::vector<Record> merged;
  try {
    for (const auto& [id, i] : chosen) {
      const Source& source = sources[i];
      for (const auto& file : record_files(source.record)) {
        const fs::path from = fs::path(source.dir) / file, to = fs::path(out_dir) / file;
        if (fs::equivalent(from, to, ec)) continue;
        fs::create_directories(to.parent_path(), ec);
        fs::remove(to, ec);
        ec.clear();
        fs::create_hard_link(from, to, ec);
        if (ec) ec.clear(), fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
        if (ec) throw output_error(to.string() + ": cannot copy from " + from.string() + " (" + ec.message() + ")");
        created.push_back(to);
      }
      merged.push_back(source.record);
    }
    std::sort(merged.begin(), merged.end(), [](const Record& a, const Record& b) {
      return std::make_pair(a.value("input", ""), a.value("method", "")) <
             std::make_pair(b.value("input", ""), b.value("method", ""));
    });
    std::string text;
    for (const auto& record : merged)
      text += record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    write_file_atomic((fs::path(out_dir) / "results.jsonl").string(), text);
  } catch (...) {
    for (const auto& path : created) fs::remove(path, ec);
    throw;
  }
  write_run_index(out_dir, merged);
  return merged.size();
}

}  // namespace xai
