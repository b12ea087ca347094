// results.jsonl: one JSON line per image × method. It is the resume journal of a batch run: a
// line is appended (and synced) only after every output file of that result is on disk, so a
// run killed at any moment loses at most the work in flight, and a rerun redoes exactly that.
#pragma once

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace xai {

using Record = nlohmann::ordered_json;

class ResultsLog {
 public:
  // Reads PATH if it exists. Keeps successful records (deduplicated by "key"); drops failed ones
  // (they are retried) and a line cut short by a crash, rewriting the file atomically if needed.
  explicit ResultsLog(const std::string& path);
  ResultsLog(const ResultsLog&) = delete;
  ResultsLog& operator=(const ResultsLog&) = delete;
  ~ResultsLog();

  // Read-only after construction, so decoding threads may ask while results are appended: keys
  // are unique within a run (input path + content hash + method + parameters).
  bool done(const std::string& key) const { return done_.count(key) > 0; }

  // Appends the lines with one write() and syncs them to disk once. Throws output_error.
  // Records are not kept in memory: a run of any length holds only the keys it started with.
  void append(const std::vector<Record>& records);

 private:
  std::string path_;
  int fd_ = -1;
  std::set<std::string> done_;
};

// Every well-formed record of a results.jsonl (for merging and indexing).
std::vector<Record> read_results(const std::string& path);
// The same from the journal's text: lines that do not parse, or are not well formed, are skipped.
std::vector<Record> parse_results(const std::string& text);
// Whether a journal line has the shape batch writes: a string "key"; "input", "method", "status",
// "label", "error" strings; "probability" a number; "files" and "stats" objects; "maps" an array of
// such entries (with "target" an object or null, "layer" a string or null) — where present.
bool is_well_formed_record(const Record& record);

// The last record of each (input, method), in the order those records came: a rerun after an input
// changed, or with another target or setting, supersedes the earlier result everywhere (journal,
// summary, gallery) instead of standing beside it.
std::vector<Record> latest_per_input_and_method(std::vector<Record> records);

// Rewrites the journal with latest_per_input_and_method() of its records, when that drops any (after a
// run: during one, appends alone keep it crash-safe). Returns the records kept.
std::vector<Record> compact_journal(const std::string& path);

// Whether a file name read from a journal is one xai writes: relative, normalised, without "..",
// so that it stays inside the folder it is resolved against.
bool is_contained_relative_path(const std::string& path);

// An exclusive lock on an output folder, held while a batch or merge writes into it (OUT/.xai.lock,
// which stays: removing a lock file races with the next run). A second run into the same folder
// fails at once with output_error naming the process that holds it.
class OutputLock {
 public:
  explicit OutputLock(const std::string& out_dir);
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;
  ~OutputLock();

 private:
  int fd_ = -1;
};

}  // namespace xai
