// What a batch run leaves for people: summary.csv (spreadsheets) and index.html (a self-contained
// gallery that opens offline: thumbnails, overlays, labels, confidence, filter and sort).
#pragma once

#include <string>
#include <vector>

#include "output/results_log.hpp"

namespace xai {

// Both files are written atomically into `out_dir`; file paths in records are relative to it.
void write_summary_csv(const std::string& out_dir, const std::vector<Record>& records);
void write_gallery_html(const std::string& out_dir, const std::vector<Record>& records);

// The end of every run (batch, merge): summary.csv and index.html from the run's records.
void write_run_index(const std::string& out_dir, const std::vector<Record>& records);

// Every output file a record refers to (relative to its run's folder), each once.
std::vector<std::string> record_files(const Record& record);

// Quotes a CSV field when needed (RFC 4180).
std::string csv_field(const std::string& text);

}  // namespace xai
