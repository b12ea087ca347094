#include "output/gallery.hpp"

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
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>xai batch results</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em; background: #fafafa; color: #222; --img: 150px; }
header { display: flex; gap: 1.2em; align-items: baseline; flex-wrap: wrap; }
header h1 { margin: 0 0.5em 0 0; }
/* As many cards per row as fit; a card is as wide as its images (and never narrower than 240 px, so a
   failed input's error reads as text, not one character per line). */
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(var(--card), 1fr)); gap: 12px; margin-top: 1em; }
.card { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 8px; min-width: 240px; box-sizing: border-box; }
.card.failed { border-color: #c33; background: #fff4f4; }
.card.wrong { border-color: #d80; box-shadow: 0 0 0 2px #fc6 inset; }
.row { display: flex; gap: 6px; flex-wrap: wrap; }
figure { margin: 0; }
figcaption { font-size: 11px; color: #555; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; width: var(--img); }
.card img { width: var(--img); height: var(--img); object-fit: contain; background: #eee; display: block; }
.card img.grid-image { width: calc(2 * var(--img)); }
.cap { font-size: 12px; margin-top: 4px; overflow-wrap: anywhere; }
.label { font-weight: 600; }
.truth, .cap a { margin-left: 0.6em; }
.wrong .truth { color: #b50; font-weight: 600; }
.error { color: #a00; font-size: 12px; overflow-wrap: anywhere; }
.card img.missing { outline: 3px solid #c33; outline-offset: -3px; }
</style>
</head>
<body>
<header>
<h1>xai batch results</h1>
<span id="counts"></span>
<label>Predicted <select id="filter"><option value="">all</option></select></label>
<label id="wrong-box" hidden><input type="checkbox" id="wrong"> misclassified only</label>
<label>Sort <select id="sort"><option value="path">by path</option><option value="desc">confidence, high first</option><option value="asc">confidence, low first</option></select></label>
<label>Size <input type="range" id="size" min="90" max="360" step="10" value="150"></label>
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
const wrong = document.getElementById("wrong");
const size = document.getElementById("size");
// #check (the tests): every image loads at once, and the layout is measured once they have.
const checking = location.hash === "#check";
const labels = [...new Set(items.filter(i => i.label).map(i => i.label))].sort();
for (const l of labels) { const o = document.createElement("option"); o.value = l; o.textContent = l; filter.appendChild(o); }
// The columns: the thumbnail, then each method (and layer, and class) in the order first seen.
const columns = [];
for (const i of items) for (const o of i.overlays) if (!columns.includes(o.method)) columns.push(o.method);
for (const c of columns)
  for (const [key, name] of [["peak", "peak"], ["mean", "mean"], ["top_area", "top-20% box area"]])
    for (const [dir, words] of [["desc", "high first"], ["asc", "low first"]]) {
      const o = document.createElement("option");
      o.value = JSON.stringify([c, key, dir]);
      o.textContent = c + ": " + name + ", " + words;
      sort.appendChild(o);
    }
const failed = items.filter(i => i.failed).length;
const judged = items.filter(i => i.truth && !i.failed);
const misclassified = judged.filter(i => i.truth !== i.label).length;
document.getElementById("counts").textContent = items.length + " images, " + failed + " failed" +
  (judged.length ? ", " + misclassified + " of " + judged.length + " with a true label misclassified" : "");
if (judged.length) document.getElementById("wrong-box").hidden = false;
// File names are paths, not URLs: '#', '?', ':', '%' or a newline in a name must not become a fragment,
// a query or a scheme, so every segment is URL-encoded.
function url(path) { return path.split("/").map(encodeURIComponent).join("/"); }
// A file that cannot be loaded (moved, deleted, half-copied output) is outlined in red, not hidden.
function image(src, alt, caption, extra) {
  const fig = document.createElement("figure");
  const img = document.createElement("img");
  img.onerror = () => { img.classList.add("missing"); img.title = alt + ": cannot load " + src; };
  img.src = url(src); img.alt = alt; img.loading = checking ? "eager" : "lazy"; img.title = alt;
  if (extra) img.classList.add(extra);
  const cap = document.createElement("figcaption");
  cap.textContent = caption;
  cap.title = caption;
  if (extra) cap.style.width = "calc(2 * var(--img))";
  fig.append(img, cap);
  return fig;
}
// A PDF figure (--figure-format pdf): browsers show none in <img>, so a link to it.
function pdfLink(src, caption) {
  const fig = document.createElement("figure");
  const a = document.createElement("a");
  a.href = url(src); a.textContent = caption + " (PDF)";
  fig.append(a);
  return fig;
}
function statOf(item, column, key) {
  const o = item.overlays.find(o => o.method === column);
  return o && typeof o[key] === "number" ? o[key] : NaN;
}
function layout() {
  const px = Number(size.value);
  document.body.style.setProperty("--img", px + "px");
  const widest = Math.max(1, ...items.map(i => (i.thumbnail ? 1 : 0) + i.overlays.length + 2 * i.grids.length));
  document.body.style.setProperty("--card", Math.max(240, widest * (px + 6) + 16) + "px");
}
function render() {
  layout();
  let shown = items.filter(i => (!filter.value || i.label === filter.value) &&
                                (!wrong.checked || (i.truth && !i.failed && i.truth !== i.label)));
  if (sort.value === "desc") shown.sort((a, b) => b.probability - a.probability);
  else if (sort.value === "asc") shown.sort((a, b) => a.probability - b.probability);
  else if (sort.value === "path") shown.sort((a, b) => a.input.localeCompare(b.input));
  else {
    const [column, key, dir] = JSON.parse(sort.value);
    // Inputs without the statistic (failed) go last either way.
    const value = i => { const v = statOf(i, column, key); return isNaN(v) ? (dir === "desc" ? -Infinity : Infinity) : v; };
    shown.sort((a, b) => dir === "desc" ? value(b) - value(a) : value(a) - value(b));
  }
  grid.replaceChildren();
  for (const i of shown) {
    const card = document.createElement("div");
    const misjudged = i.truth && !i.failed && i.truth !== i.label;
    card.className = "card" + (i.failed ? " failed" : "") + (misjudged ? " wrong" : "");
    const row = document.createElement("div");
    row.className = "row";
    if (i.thumbnail) row.appendChild(image(i.thumbnail, i.input, "image"));
    for (const o of i.overlays) row.appendChild(image(o.file, o.method, o.method));
    for (const g of i.grids) row.appendChild(/\.pdf$/i.test(g.file) ? pdfLink(g.file, g.method) : image(g.file, g.method, g.method, "grid-image"));
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
    if (i.truth) {
      const t = document.createElement("span");
      t.className = "truth";
      t.textContent = "true: " + i.truth;
      t.title = "from " + i.truth_from;
      cap.appendChild(t);
    }
    for (const e of i.errors) { const d = document.createElement("div"); d.className = "error"; d.textContent = e; cap.appendChild(d); }
    if (i.report) { const a = document.createElement("a"); a.href = url(i.report); a.textContent = "report"; cap.appendChild(a); }
    card.appendChild(cap);
    grid.appendChild(card);
  }
}
for (const control of [filter, sort, wrong]) control.addEventListener("change", render);
size.addEventListener("input", layout);
render();
if (checking)
  window.addEventListener("load", () => {
    const cards = [...document.querySelectorAll(".card")].map(c => Math.round(c.getBoundingClientRect().width));
    const images = [...document.querySelectorAll(".card img")];
    const broken = images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute("src"));
    const out = document.createElement("pre");
    out.id = "layout-check";
    out.textContent = JSON.stringify({width: window.innerWidth, cards: cards, images: images.length, broken: broken});
    document.body.appendChild(out);
  });
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
  csv << "input,method,status,label,probability,target,layer,peak_x,peak_y,overlay,error,deletion_auc,insertion_auc,"
         "truth\n";
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
      csv << text_of(faithfulness, "deletion_auc") << ',' << text_of(faithfulness, "insertion_auc") << ','
          << csv_field(text_of(r, "truth")) << '\n';
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
              {"truth", nullptr}, {"truth_from", nullptr}, {"overlays", Record::array()}, {"grids", Record::array()},
              {"errors", Record::array()}, {"failed", false}};
    if (r.contains("truth") && r["truth"].is_string()) {
      card["truth"] = r["truth"];
      card["truth_from"] = r.value("truth_from", "");
    }
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
        const Record stats = m.value("stats", Record::object());
        Record overlay = {{"method", title}, {"file", map_files["overlay"]}};
        if (stats.is_object()) {
          const Record peak = stats.value("peak", Record::object());
          if (peak.is_object() && peak.contains("value")) overlay["peak"] = peak["value"];
          if (stats.contains("mean")) overlay["mean"] = stats["mean"];
          const Record box = stats.value("top_box", Record::object());
          if (box.is_object() && box.contains("width") && box.contains("height") && box["width"].is_number() &&
              box["height"].is_number())
            overlay["top_area"] = box["width"].get<double>() * box["height"].get<double>();
        }
        card["overlays"].push_back(std::move(overlay));
      }
      // The layer-by-layer grid, when the method explained several layers; the image's panel and
      // faithfulness curves (every method's record names them: shown once).
      if (files.contains("layers") && files["layers"].is_string())
        card["grids"].push_back({{"method", r.value("method", "") + " layers"}, {"file", files["layers"]}});
      for (const auto& [role, title] : {std::pair<const char*, const char*>{"panel", "every method"},
                                        {"faithfulness_curves", "faithfulness curves"}}) {
        if (!files.contains(role) || !files[role].is_string()) continue;
        const Record grid = {{"method", title}, {"file", files[role]}};
        bool shown = false;
        for (const auto& g : card["grids"]) shown = shown || g == grid;
        if (!shown) card["grids"].push_back(grid);
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
