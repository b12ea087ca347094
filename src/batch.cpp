#include "xai/batch.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <opencv2/imgproc.hpp>
#include <sstream>
#include <thread>

#include "xai/atomic_file.hpp"
#include "xai/gallery.hpp"
#include "xai/render.hpp"
#include "xai/report.hpp"
#include "xai/results_log.hpp"
#include "xai/sha256.hpp"

namespace xai {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

// What identifies a result: the same input content explained the same way by the same model.
std::string parameters_fingerprint(Model& model, const ExplainOptions& o, const std::string& method) {
  json p = {{"model", model.sha256()},
            {"preprocessing", {{"size", {model.card().input_height, model.card().input_width}},
                               {"channels", to_string(model.card().channels)},
                               {"mean", model.card().mean},
                               {"std", model.card().std}}},
            {"target", {{"kind", static_cast<int>(o.cam.target.kind)}, {"class", o.cam.target.class_index},
                        {"k", o.cam.target.k}}},
            {"colormap", to_string(o.colormap)},
            {"alpha", o.alpha}};
  if (method == "lime") {
    const LimeOptions& l = o.lime;
    p["lime"] = {{"samples", l.samples}, {"segments", l.superpixels.segments},
                 {"algorithm", to_string(l.superpixels.algorithm)},
                 {"compactness", l.superpixels.compactness.value_or(-1.0f)}, {"regions", l.regions_path},
                 {"hide", to_string(l.hide)}, {"hide_color", l.hide_color}, {"kernel_width", l.kernel_width},
                 {"seed", l.seed}, {"all_classes", l.all_classes}, {"repeats", l.repeats}};
  } else {
    p["layers"] = o.cam.layers.empty() ? std::vector<std::string>{model.default_layer()} : o.cam.layers;
  }
  return sha256_hex(p.dump()).substr(0, 16);
}

std::string relative_to(const std::string& path, const std::string& base) {
  return fs::path(path).lexically_relative(base).generic_string();
}

// One input on its way through the pipeline.
struct WorkItem {
  size_t index = 0;
  std::string content_sha;
  std::vector<std::string> pending_methods;  // methods without a finished result
  std::optional<PreparedImage> prepared;
  std::string thumbnail_png;
  std::optional<Error> error;
};

// A bounded queue, so decoding runs ahead of the model but memory stays flat.
class WorkQueue {
 public:
  explicit WorkQueue(size_t capacity) : capacity_(capacity) {}
  void push(WorkItem item) {
    std::unique_lock<std::mutex> lock(mutex_);
    not_full_.wait(lock, [&] { return queue_.size() < capacity_ || closed_; });
    if (closed_) return;
    queue_.push_back(std::move(item));
    not_empty_.notify_one();
  }
  std::optional<WorkItem> pop() {
    std::unique_lock<std::mutex> lock(mutex_);
    not_empty_.wait(lock, [&] { return !queue_.empty() || producers_done_ || closed_; });
    if (queue_.empty()) return std::nullopt;
    WorkItem item = std::move(queue_.front());
    queue_.pop_front();
    not_full_.notify_one();
    return item;
  }
  void producers_finished() {
    std::lock_guard<std::mutex> lock(mutex_);
    producers_done_ = true;
    not_empty_.notify_all();
  }
  void close() {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    queue_.clear();
    not_full_.notify_all();
    not_empty_.notify_all();
  }

 private:
  size_t capacity_;
  std::deque<WorkItem> queue_;
  std::mutex mutex_;
  std::condition_variable not_full_, not_empty_;
  bool producers_done_ = false, closed_ = false;
};

std::string thumbnail_png(const Image& image) {
  const cv::Mat display = to_display_bgr(image);
  const double scale = 160.0 / std::max(display.cols, display.rows);
  cv::Mat small;
  if (scale < 1.0)
    cv::resize(display, small, cv::Size(), scale, scale, cv::INTER_AREA);
  else
    small = display;
  return encode_png(small, image.path);
}

}  // namespace

BatchSummary run_batch(Model& model, const std::vector<std::string>& inputs, const BatchOptions& options) {
  const auto start = Clock::now();
  std::vector<InputFile> files = discover_inputs(inputs, options.selection);
  if (options.shard) {
    std::vector<InputFile> mine;
    for (auto& f : files)
      if (in_shard(f, *options.shard)) mine.push_back(std::move(f));
    files = std::move(mine);
  }
  std::error_code ec;
  fs::create_directories(options.output_dir, ec);
  if (ec || !fs::is_directory(options.output_dir))
    throw output_error(options.output_dir + ": cannot create output directory");
  model.labels();  // card/model mismatches are global: fail before touching any file

  // Destinations mirror the input tree; two inputs with the same stem in one folder (x.png, x.jpg)
  // keep their extension in the stem.
  std::vector<Destination> destinations;
  std::map<std::string, int> stem_uses;
  for (const auto& f : files) {
    const fs::path rel(f.relative);
    destinations.push_back({(fs::path(options.output_dir) / rel.parent_path()).string(), rel.stem().string()});
    stem_uses[(rel.parent_path() / rel.stem()).string()] += 1;
  }
  for (size_t i = 0; i < files.size(); ++i) {
    const fs::path rel(files[i].relative);
    if (stem_uses[(rel.parent_path() / rel.stem()).string()] > 1) destinations[i].stem = rel.filename().string();
  }

  std::map<std::string, std::string> fingerprints;
  for (const auto& method : options.explain.methods)
    fingerprints[method] = parameters_fingerprint(model, options.explain, method);
  auto key_of = [&](size_t i, const std::string& sha, const std::string& method) {
    return sha256_hex(files[i].relative + '\n' + sha + '\n' + method + '\n' + fingerprints[method]);
  };

  ResultsLog log((fs::path(options.output_dir) / "results.jsonl").string());
  BatchSummary summary;
  summary.progress.total = files.size();

  // Decoding and preprocessing on worker threads, in input order through a bounded queue.
  const int workers = options.workers > 0 ? options.workers : std::max(1u, std::thread::hardware_concurrency());
  WorkQueue queue(static_cast<size_t>(std::max(2, options.batch_size * 2)));
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex order_mutex;
  std::condition_variable order_cv;
  size_t next_to_push = 0;  // items enter the queue in input order: results and resumes are deterministic
  std::vector<std::thread> pool;
  for (int w = 0; w < workers; ++w)
    pool.emplace_back([&] {
      for (size_t i = next++; i < files.size() && !stop; i = next++) {
        WorkItem item;
        item.index = i;
        try {
          const std::string bytes = read_image_bytes(files[i].path);
          item.content_sha = sha256_hex(bytes);
          for (const auto& method : options.explain.methods)
            if (!log.done(key_of(i, item.content_sha, method))) item.pending_methods.push_back(method);
          if (!item.pending_methods.empty()) {
            PreparedImage p;
            p.path = files[i].path;
            const auto t = Clock::now();
            p.image = decode_image(bytes, files[i].path, options.explain.limits);
            p.load_ms = std::chrono::duration<double, std::milli>(Clock::now() - t).count();
            const auto t2 = Clock::now();
            p.blob = preprocess(p.image, model.card());
            p.preprocess_ms = std::chrono::duration<double, std::milli>(Clock::now() - t2).count();
            item.thumbnail_png = thumbnail_png(p.image);
            item.prepared = std::move(p);
          }
        } catch (const Error& e) {
          item.error = e;
          if (item.pending_methods.empty()) item.pending_methods = options.explain.methods;
        } catch (const std::exception& e) {
          item.error = Error(ExitCode::internal, files[i].path + ": " + first_line(e.what()));
          if (item.pending_methods.empty()) item.pending_methods = options.explain.methods;
        }
        std::unique_lock<std::mutex> lock(order_mutex);
        order_cv.wait(lock, [&] { return next_to_push == i || stop; });
        if (stop) return;
        queue.push(std::move(item));
        ++next_to_push;
        order_cv.notify_all();
      }
    });
  std::thread closer([&] {
    for (auto& t : pool) t.join();
    queue.producers_finished();
  });

  auto report_progress = [&] {
    summary.progress.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    summary.progress.rate = summary.progress.seconds > 0 ? summary.explained / summary.progress.seconds : 0;
    if (options.on_progress) options.on_progress(summary.progress);
  };

  auto record_failure = [&](const WorkItem& item, const Error& error) {
    for (const auto& method : item.pending_methods)
      log.append({{"key", key_of(item.index, item.content_sha, method)}, {"input", files[item.index].relative},
                  {"path", files[item.index].path}, {"sha256", item.content_sha}, {"method", method},
                  {"status", "error"}, {"exit_code", static_cast<int>(error.code())}, {"error", error.what()}});
    summary.progress.failed += 1;
    if (summary.first_error.empty()) {
      summary.first_error = error.what();
      if (options.fail_fast) summary.code = error.code();
    }
  };

  auto record_success = [&](const WorkItem& item, const ExplainOutcome& outcome) {
    const Destination& d = destinations[item.index];
    const std::string thumb = (fs::path(d.dir) / (d.stem + ".thumb.png")).string();
    write_file_atomic(thumb, item.thumbnail_png);
    const json& report = outcome.report;
    for (const auto& method : item.pending_methods) {
      json first;  // the method's first explanation (the predicted class unless a target was given)
      for (const auto& e : report["explanations"])
        if (e["method"] == method) {
          first = e;
          break;
        }
      json files_json = {{"report", relative_to(outcome.report_path, options.output_dir)},
                         {"thumbnail", relative_to(thumb, options.output_dir)}};
      for (const auto& [name, file] : first["files"].items())
        files_json[name] = relative_to((fs::path(d.dir) / file.get<std::string>()).string(), options.output_dir);
      json probabilities = json::object();
      for (const auto& c : report["prediction"]["classes"]) probabilities[c["label"].get<std::string>()] = c["probability"];
      log.append({{"key", key_of(item.index, item.content_sha, method)},
                  {"input", files[item.index].relative},
                  {"path", files[item.index].path},
                  {"sha256", item.content_sha},
                  {"method", method},
                  {"status", "ok"},
                  {"label", report["prediction"]["label"]},
                  {"index", report["prediction"]["index"]},
                  {"probability", report["prediction"]["probability"]},
                  {"probabilities", probabilities},
                  {"target", first.value("target", json(nullptr))},
                  {"layer", first.value("layer", json(nullptr))},
                  {"stats", first.value("stats", json(nullptr))},
                  {"files", files_json}});
    }
    summary.explained += 1;
  };

  // Explains a batch; if it fails as a whole, retries image by image so one bad input cannot
  // take the others down with it.
  auto explain_items = [&](std::vector<WorkItem>& batch) {
    if (batch.empty()) return;
    const std::vector<std::string> all_methods = options.explain.methods;
    auto run = [&](std::vector<WorkItem*> items) {
      std::vector<PreparedImage> prepared;
      std::vector<Destination> where;
      for (auto* item : items) {
        prepared.push_back(*item->prepared);
        where.push_back(destinations[item->index]);
      }
      return explain_batch(model, prepared, where, options.explain);
    };
    std::vector<WorkItem*> all;
    for (auto& item : batch) all.push_back(&item);
    try {
      const auto outcomes = run(all);
      for (size_t i = 0; i < batch.size(); ++i) record_success(batch[i], outcomes[i]);
    } catch (const std::exception&) {
      for (auto& item : batch) {
        try {
          record_success(item, run({&item}).front());
        } catch (const Error& e) {
          record_failure(item, e);
        } catch (const std::exception& e) {
          record_failure(item, Error(ExitCode::internal, files[item.index].path + ": " + first_line(e.what())));
        }
        if (options.fail_fast && summary.code != ExitCode::ok) break;
      }
    }
    summary.progress.finished += batch.size();
    report_progress();
    batch.clear();
  };

  std::vector<WorkItem> batch;
  while (auto item = queue.pop()) {
    if (item->error) {
      record_failure(*item, *item->error);
      summary.progress.finished += 1;
      report_progress();
    } else if (!item->prepared) {
      summary.progress.skipped += 1;
      summary.progress.finished += 1;
      report_progress();
    } else {
      batch.push_back(std::move(*item));
      if (static_cast<int>(batch.size()) >= options.batch_size) explain_items(batch);
    }
    if (options.fail_fast && summary.code != ExitCode::ok) break;
  }
  if (!(options.fail_fast && summary.code != ExitCode::ok)) explain_items(batch);
  stop = true;
  order_cv.notify_all();
  queue.close();
  closer.join();

  write_summary_csv(options.output_dir, log.records());
  write_gallery_html(options.output_dir, log.records());
  if (summary.code == ExitCode::ok && summary.progress.failed > 0) summary.code = ExitCode::partial;
  report_progress();
  return summary;
}

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
      if (record.contains("files"))
        for (const auto& [name, file] : record["files"].items()) {
          const fs::path from = fs::path(dir) / file.get<std::string>(), to = fs::path(out_dir) / file.get<std::string>();
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
  write_summary_csv(out_dir, merged);
  write_gallery_html(out_dir, merged);
  return merged.size();
}

}  // namespace xai
