#include "xai/gallery.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>

#include "xai/atomic_file.hpp"

namespace xai {
namespace {

namespace fs = std::filesystem;

std::string text_of(const Record& record, const char* key) {
  if (!record.contains(key) || record[key].is_null()) return "";
  return record[key].is_string() ? record[key].get<std::string>() : record[key].dump();
}

// The page: data as JSON in a <script> block, rendered by a few lines of JavaScript.
const char* kPageHead = R"HTML(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>xai batch results</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em; background: #fafafa; color: #222; }
header { display: flex; gap: 1.5em; align-items: baseline; flex-wrap: wrap; }
.grid { display: flex; flex-wrap: wrap; gap: 12px; margin-top: 1em; }
.card { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 8px; width: min-content; }
.card.failed { border-color: #c33; background: #fff4f4; }
.card img { width: 160px; height: 160px; object-fit: contain; background: #eee; display: block; }
.row { display: flex; gap: 6px; }
.cap { font-size: 12px; margin-top: 4px; word-break: break-all; width: 100%; }
.label { font-weight: 600; }
.error { color: #a00; font-size: 12px; }
.card img.missing { outline: 3px solid #c33; outline-offset: -3px; }
</style>
</head>
<body>
<header>
<h1>xai batch results</h1>
<span id="counts"></span>
<label>Predicted class <select id="filter"><option value="">all</option></select></label>
<label>Sort <select id="sort"><option value="path">by path</option><option value="desc">confidence, high first</option><option value="asc">confidence, low first</option></select></label>
</header>
<div class="grid" id="grid"></div>
<script type="application/json" id="data">)HTML";

const char* kPageTail = R"HTML(</script>
<script>
"use strict";
const items = JSON.parse(document.getElementById("data").textContent);
const grid = document.getElementById("grid");
const filter = document.getElementById("filter");
const sort = document.getElementById("sort");
const labels = [...new Set(items.filter(i => i.label).map(i => i.label))].sort();
for (const l of labels) { const o = document.createElement("option"); o.value = l; o.textContent = l; filter.appendChild(o); }
const failed = items.filter(i => i.failed).length;
document.getElementById("counts").textContent = items.length + " images, " + failed + " failed";
// File names are paths, not URLs: '#', '?', ':', '%' or a newline in a name must not become a fragment,
// a query or a scheme, so every segment is URL-encoded.
function url(path) { return path.split("/").map(encodeURIComponent).join("/"); }
// A file that cannot be loaded (moved, deleted, half-copied output) is outlined in red, not hidden.
function image(src, alt) {
  const img = document.createElement("img");
  img.onerror = () => { img.classList.add("missing"); img.title = alt + ": cannot load " + src; };
  img.src = url(src); img.alt = alt; img.loading = "lazy"; img.title = alt;
  return img;
}
function render() {
  let shown = items.filter(i => !filter.value || i.label === filter.value);
  if (sort.value === "desc") shown.sort((a, b) => b.probability - a.probability);
  else if (sort.value === "asc") shown.sort((a, b) => a.probability - b.probability);
  else shown.sort((a, b) => a.input.localeCompare(b.input));
  grid.replaceChildren();
  for (const i of shown) {
    const card = document.createElement("div");
    card.className = "card" + (i.failed ? " failed" : "");
    const row = document.createElement("div");
    row.className = "row";
    if (i.thumbnail) row.appendChild(image(i.thumbnail, i.input));
    for (const o of i.overlays) row.appendChild(image(o.file, o.method));
    card.appendChild(row);
    const cap = document.createElement("div");
    cap.className = "cap";
    const name = document.createElement("div");
    name.textContent = i.input;
    cap.appendChild(name);
    if (i.label) {
      const l = document.createElement("span");
      l.className = "label";
      l.textContent = i.label + " " + (100 * i.probability).toFixed(1) + "%";
      cap.appendChild(l);
    }
    for (const e of i.errors) { const d = document.createElement("div"); d.className = "error"; d.textContent = e; cap.appendChild(d); }
    if (i.report) { const a = document.createElement("a"); a.href = url(i.report); a.textContent = " report"; cap.appendChild(a); }
    card.appendChild(cap);
    grid.appendChild(card);
  }
}
filter.addEventListener("change", render);
sort.addEventListener("change", render);
render();
</script>
</body>
</html>
)HTML";

}  // namespace

std::string csv_field(const std::string& raw) {
  // A cell that starts like a formula (=, +, -, @, or a tab or CR before one) runs as one when the
  // summary is opened in a spreadsheet: a file named "=HYPERLINK(...).png" must stay text.
  const bool formula = !raw.empty() && std::string("=+-@\t\r").find(raw[0]) != std::string::npos;
  const std::string text = formula ? "'" + raw : raw;
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

namespace {

// Every map of a record (one per explained class × layer); a failure has none.
std::vector<Record> maps_of(const Record& r) {
  if (r.contains("maps") && r["maps"].is_array()) return r["maps"].get<std::vector<Record>>();
  if (r.contains("files")) return {{{"target", r.value("target", Record())}, {"layer", r.value("layer", Record())},
                                    {"stats", r.value("stats", Record::object())}, {"files", r["files"]}}};
  return {};
}

}  // namespace

std::vector<std::string> record_files(const Record& record) {
  std::vector<std::string> files;
  auto add = [&](const Record& group) {
    if (!group.is_object()) return;
    for (const auto& [role, file] : group.items())
      if (file.is_string() && std::find(files.begin(), files.end(), file.get<std::string>()) == files.end())
        files.push_back(file.get<std::string>());
  };
  add(record.value("files", Record::object()));
  for (const auto& map : maps_of(record)) add(map.value("files", Record::object()));
  return files;
}

void write_summary_csv(const std::string& out_dir, const std::vector<Record>& records) {
  std::ostringstream csv;
  csv << "input,method,status,label,probability,target,layer,peak_x,peak_y,overlay,error,deletion_auc,insertion_auc\n";
  for (const auto& r : records) {
    std::vector<Record> maps = maps_of(r);
    if (maps.empty()) maps.push_back(Record::object());  // a failure: one row with its error
    for (const auto& m : maps) {
      const Record stats = m.value("stats", Record::object());
      const Record peak = stats.value("peak", Record::object());
      const Record target = m.value("target", Record::object());
      csv << csv_field(text_of(r, "input")) << ',' << csv_field(text_of(r, "method")) << ','
          << csv_field(text_of(r, "status")) << ',' << csv_field(text_of(r, "label")) << ','
          << text_of(r, "probability") << ',' << csv_field(target.is_object() ? text_of(target, "label") : "") << ','
          << csv_field(text_of(m, "layer")) << ',' << text_of(peak, "x") << ',' << text_of(peak, "y") << ','
          << csv_field(m.contains("files") ? text_of(m["files"], "overlay") : "") << ','
          << csv_field(text_of(r, "error")) << ',';
      const Record faithfulness = m.value("faithfulness", Record::object());  // --faithfulness only
      csv << text_of(faithfulness, "deletion_auc") << ',' << text_of(faithfulness, "insertion_auc") << '\n';
    }
  }
  write_file_atomic((fs::path(out_dir) / "summary.csv").string(), csv.str());
}

void write_gallery_html(const std::string& out_dir, const std::vector<Record>& records) {
  // One card per input image, with one overlay per method.
  std::map<std::string, Record> cards;
  for (const auto& r : records) {
    const std::string input = text_of(r, "input");
    Record& card = cards[input];
    if (card.is_null())
      card = {{"input", input}, {"label", nullptr}, {"probability", 0}, {"thumbnail", nullptr}, {"report", nullptr},
              {"overlays", Record::array()}, {"errors", Record::array()}, {"failed", false}};
    if (r.value("status", "") == "ok") {
      card["label"] = r.value("label", "");
      card["probability"] = r.value("probability", 0.0);
      const Record files = r.value("files", Record::object());
      if (files.contains("thumbnail")) card["thumbnail"] = files["thumbnail"];
      if (files.contains("report")) card["report"] = files["report"];
      for (const auto& m : maps_of(r)) {
        const Record map_files = m.value("files", Record::object());
        if (!map_files.contains("overlay")) continue;
        std::string title = r.value("method", "");
        if (m.contains("layer") && m["layer"].is_string()) title += " " + m["layer"].get<std::string>();
        const Record target = m.value("target", Record::object());
        if (target.is_object() && target.contains("label")) title += " (" + text_of(target, "label") + ")";
        card["overlays"].push_back({{"method", title}, {"file", map_files["overlay"]}});
      }
    } else {
      card["failed"] = true;
      card["errors"].push_back(r.value("method", "") + ": " + r.value("error", ""));
    }
  }
  Record items = Record::array();
  for (auto& [input, card] : cards) items.push_back(std::move(card));
  // Inside <script>, "</script" ends the block and "<!--<script" changes how the parser reads the rest
  // (a file named so blanked the page): no '<', '>' or '&' reaches the page as such; JSON.parse reads
  // the \u escapes back.
  std::string data;
  for (char c : items.dump(-1, ' ', false, Record::error_handler_t::replace)) {
    if (c == '<') data += "\\u003c";
    else if (c == '>') data += "\\u003e";
    else if (c == '&') data += "\\u0026";
    else data += c;
  }
  write_file_atomic((fs::path(out_dir) / "index.html").string(), std::string(kPageHead) + data + kPageTail);
}

void write_run_index(const std::string& out_dir, const std::vector<Record>& records) {
  write_summary_csv(out_dir, records);
  write_gallery_html(out_dir, records);
}

}  // namespace xai
