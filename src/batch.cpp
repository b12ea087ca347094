#include "xai/batch.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <opencv2/imgproc.hpp>
#include <sstream>
#include <thread>

#include <sys/resource.h>
#include <unistd.h>

#include "bounded_queue.hpp"
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

// Decoding and writing threads run at a lower priority than the model's threads: the model's
// parallel regions wait for their slowest thread, so a helper preempting one of them stalls all of
// them, while a helper that waits costs nothing (the bounded queues keep it ahead when the model
// pauses). Best effort: without the permission, threads keep the normal priority.
void yield_to_the_model() {
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);
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

// An input whose model work is over: explained (computed), failed (item.error) or already done
// (no prepared image). The writer renders, writes and records these in input order.
struct Finished {
  WorkItem item;
  std::optional<ComputedExplanation> computed;
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
    return sha256_hex(files[i].relative + '\n' + sha + '\n' + method + '\n' + fingerprints.at(method));
  };

  ResultsLog log((fs::path(options.output_dir) / "results.jsonl").string());
  BatchSummary summary;
  summary.progress.total = files.size();

  // Decoding and preprocessing on worker threads, in input order through a bounded queue.
  const int workers = options.workers > 0 ? options.workers : std::max(1u, std::thread::hardware_concurrency());
  BoundedQueue<WorkItem> queue(static_cast<size_t>(std::max(2, options.batch_size * 2)));
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex order_mutex;
  std::condition_variable order_cv;
  size_t next_to_push = 0;  // items enter the queue in input order: results and resumes are deterministic
  std::vector<std::thread> pool;
  for (int w = 0; w < workers; ++w)
    pool.emplace_back([&] {
      yield_to_the_model();
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

  // Rendering, writing and recording run on one writer thread, in input order, while the model
  // works on the next batch. Only the writer touches `summary` until it has been joined.
  BoundedQueue<std::vector<Finished>> finished_queue(2);
  std::atomic<bool> halted{false};  // fail-fast tripped: stop computing and writing

  auto report_progress = [&] {
    summary.progress.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    summary.progress.rate = summary.progress.seconds > 0 ? summary.explained / summary.progress.seconds : 0;
    if (options.on_progress) options.on_progress(summary.progress);
  };

  auto failure_records = [&](const WorkItem& item, const Error& error) {
    std::vector<Record> records;
    for (const auto& method : item.pending_methods)
      records.push_back({{"key", key_of(item.index, item.content_sha, method)}, {"input", files[item.index].relative},
                         {"path", files[item.index].path}, {"sha256", item.content_sha}, {"method", method},
                         {"status", "error"}, {"exit_code", static_cast<int>(error.code())}, {"error", error.what()}});
    summary.progress.failed += 1;
    if (summary.first_error.empty()) {
      summary.first_error = error.what();
      if (options.fail_fast) {
        summary.code = error.code();
        halted = true;
      }
    }
    return records;
  };

  auto success_records = [&](const WorkItem& item, const ExplainOutcome& outcome, const std::string& thumb) {
    std::vector<Record> records;
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
      const Destination& d = destinations[item.index];
      for (const auto& [name, file] : first["files"].items())
        files_json[name] = relative_to((fs::path(d.dir) / file.get<std::string>()).string(), options.output_dir);
      json probabilities = json::object();
      for (const auto& c : report["prediction"]["classes"]) probabilities[c["label"].get<std::string>()] = c["probability"];
      records.push_back({{"key", key_of(item.index, item.content_sha, method)},
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
    return records;
  };

  // Output files go to disk with one file-system sync per group, and only then are their results
  // journaled: a journal line always refers to complete, durable files.
  auto write_groups = [&] {
    while (auto group = finished_queue.pop()) {
      std::vector<Record> records;
      bool wrote = false;
      for (Finished& f : *group) {
        if (halted) break;
        const WorkItem& item = f.item;
        std::vector<Record> lines;
        if (item.error) {
          lines = failure_records(item, *item.error);
        } else if (!f.computed) {
          summary.progress.skipped += 1;
        } else {
          try {
            const Destination& d = destinations[item.index];
            ExplainOutcome outcome =
                write_explanation(*item.prepared, *f.computed, d, options.explain, Durability::deferred);
            const std::string thumb = (fs::path(d.dir) / (d.stem + ".thumb.png")).string();
            write_file_atomic(thumb, item.thumbnail_png, Durability::deferred);
            wrote = true;
            lines = success_records(item, outcome, thumb);
          } catch (const Error& e) {
            lines = failure_records(item, e);
          } catch (const std::exception& e) {
            lines = failure_records(item, Error(ExitCode::internal, files[item.index].path + ": " + first_line(e.what())));
          }
        }
        summary.progress.finished += 1;
        for (auto& line : lines) records.push_back(std::move(line));
      }
      if (wrote) sync_file_system(options.output_dir);
      log.append(records);
      report_progress();
    }
  };
  std::exception_ptr writer_error;  // the journal or a sync failed: the run cannot go on
  std::thread writer([&] {
    yield_to_the_model();
    try {
      write_groups();
    } catch (...) {
      writer_error = std::current_exception();
      halted = true;
      finished_queue.close();
    }
  });

  // Computes a batch; if it fails as a whole, retries image by image so one bad input cannot take
  // the others down with it.
  auto explain_items = [&](std::vector<WorkItem>& batch) {
    if (batch.empty()) return;
    auto compute = [&](const std::vector<WorkItem*>& items) {
      std::vector<PreparedImage> prepared;
      for (auto* item : items) prepared.push_back(*item->prepared);
      return compute_explanations(model, prepared, options.explain);
    };
    std::vector<Finished> group;
    std::vector<WorkItem*> all;
    for (auto& item : batch) all.push_back(&item);
    try {
      std::vector<ComputedExplanation> computed = compute(all);
      for (size_t i = 0; i < batch.size(); ++i) group.push_back({std::move(batch[i]), std::move(computed[i])});
    } catch (const std::exception&) {
      for (auto& item : batch) {
        try {
          ComputedExplanation computed = std::move(compute({&item}).front());
          group.push_back({std::move(item), std::move(computed)});
        } catch (const Error& e) {
          item.error = e;
          group.push_back({std::move(item), std::nullopt});
          if (options.fail_fast) break;
        } catch (const std::exception& e) {
          item.error = Error(ExitCode::internal, files[item.index].path + ": " + first_line(e.what()));
          group.push_back({std::move(item), std::nullopt});
          if (options.fail_fast) break;
        }
      }
    }
    finished_queue.push(std::move(group));
    batch.clear();
  };

  // Stops and joins every thread, also when the model thread leaves with an exception.
  bool shut_down = false;
  auto shutdown = [&] {
    if (shut_down) return;
    shut_down = true;
    finished_queue.producers_finished();
    writer.join();
    queue.close();  // first: a decoder blocked in push() holds order_mutex
    {
      std::lock_guard<std::mutex> lock(order_mutex);  // no decoder misses the wake-up
      stop = true;
    }
    order_cv.notify_all();
    closer.join();
  };
  struct ShutdownGuard {
    std::function<void()> run;
    ~ShutdownGuard() { run(); }
  } guard{shutdown};

  std::vector<WorkItem> batch;
  while (!halted) {
    auto item = queue.pop();
    if (!item) break;
    if (item->error || !item->prepared) {
      std::vector<Finished> single;
      single.push_back({std::move(*item), std::nullopt});
      finished_queue.push(std::move(single));
    } else {
      batch.push_back(std::move(*item));
      if (static_cast<int>(batch.size()) >= options.batch_size) explain_items(batch);
    }
  }
  if (!halted) explain_items(batch);
  shutdown();
  if (writer_error) std::rethrow_exception(writer_error);

  const std::vector<Record> records = read_results((fs::path(options.output_dir) / "results.jsonl").string());
  write_summary_csv(options.output_dir, records);
  write_gallery_html(options.output_dir, records);
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
