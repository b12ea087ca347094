#include "xai/batch.hpp"
#include "output/print_figure.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <sys/resource.h>
#include <unistd.h>

#include "input/image_header.hpp"
#include "pipelines/bounded_queue.hpp"
#include "pipelines/helper_threads.hpp"
#include "pipelines/memory_ledger.hpp"
#include "pipelines/staged_run.hpp"
#include "xai/atomic_file.hpp"
#include "input/dicom.hpp"
#include "core/file_read.hpp"
#include "output/gallery.hpp"
#include "output/report.hpp"
#include "output/results_log.hpp"
#include "core/sha256.hpp"
#include "core/text.hpp"
#include "input/true_labels.hpp"
#include "output/render.hpp"

namespace xai {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

std::string relative_to(const std::string& path, const std::string& base) {
  return fs::path(path).lexically_relative(base).generic_string();
}


// One input on its way through the pipeline.
struct WorkItem {
  size_t index = 0;
  std::string content_sha;
  std::vector<size_t> pending;  // plan method indices without a finished result
  std::optional<PreparedImage> prepared;
  nlohmann::ordered_json carried = nlohmann::ordered_json::array();  // report entries of finished methods
  std::optional<Error> error;
  std::shared_ptr<void> memory;  // the decoded image's reservation (MemoryLedger), returned when written
};

// An input whose model work is over: explained (computed), failed (item.error) or already done
// (no prepared image). The writer renders, writes and records these in input order.
using Finished = StagedRun<WorkItem>::Done;

Error as_error(const std::exception& e, const std::string& path) {
  if (const auto* error = dynamic_cast<const Error*>(&e)) return *error;
  return Error(ExitCode::internal, path + ": " + first_line(e.what()));
}

// Destinations mirror the input tree; two inputs with the same stem in one folder (x.png, x.jpg)
// keep their extension in the stem. A frame of a multi-frame file adds its suffix (STEM.f003).
std::vector<Destination> destinations_for(const std::vector<InputFile>& files, const std::string& output_dir) {
  std::map<std::string, std::set<std::string>> files_per_stem;
  for (const auto& f : files) {
    const fs::path rel(f.relative);
    files_per_stem[(rel.parent_path() / input_stem(rel)).string()].insert(f.relative);
  }
  std::vector<Destination> destinations;
  for (const auto& f : files) {
    const fs::path rel(f.relative);
    const bool shared = files_per_stem[(rel.parent_path() / input_stem(rel)).string()].size() > 1;
    const std::string stem = shared ? rel.filename().string() : input_stem(rel);
    destinations.push_back({(fs::path(output_dir) / rel.parent_path()).string(),
                            f.frame > 0 ? stem + frame_suffix(f.frame, f.frames) : stem});
  }
  return destinations;
}

// How maps are drawn: a rerun with other settings redraws.
json rendering_identity(const ExplainOptions& options) {
  json identity = {{"colormap", to_string(options.colormap)}, {"signed_colormap", to_string(options.signed_colormap)},
                   {"alpha", options.alpha},
                   {"background", to_string(options.background)}, {"figure_size", options.figure_size},
                   {"figures", options.figures}, {"num_features", options.num_features}};
  // Only when not the default: earlier runs' results keep their keys.
  const bool any_figure = options.figures || options.panel;
  if (options.panel) identity["panel"] = true;
  if (any_figure && options.figure_format != FigureFormat::png) identity["figure_format"] = to_string(options.figure_format);
  if (any_figure && options.figure_dpi > 0) identity["figure_dpi"] = options.figure_dpi;
  return identity;
}

// What identifies a result: the method's parameters (the record its report lists), the model and
// its preprocessing, and how maps are drawn.
std::vector<std::string> method_fingerprints(const ExplainPlan& plan, const std::string& model_sha) {
  std::vector<std::string> fingerprints;
  for (size_t m = 0; m < plan.methods.size(); ++m) {
    json identity = result_identity(plan, m, model_sha);
    identity["rendering"] = rendering_identity(plan.options);
    fingerprints.push_back(sha256_hex(identity.dump()).substr(0, 16));
  }
  return fingerprints;
}

class BatchRun {
 public:
  BatchRun(Model& model, const std::vector<std::string>& inputs, const BatchOptions& options)
      : model_(model), options_(options), plan_(plan_explanations(model, options.explain)),
        truths_(plan_.labels, options.labels_csv), start_(Clock::now()), inputs_(inputs) {
    discover(inputs);
    destinations_ = destinations_for(files_, options_.output_dir);
    fingerprints_ = method_fingerprints(plan_, model.sha256());
  }

  BatchSummary run();

 private:
  void discover(const std::vector<std::string>& inputs);
  bool stop_requested() const { return options_.stop && options_.stop->load() != 0; }
  std::string key_of(size_t i, const std::string& sha, size_t method) const {
    return sha256_hex(files_[i].id() + '\n' + sha + '\n' + plan_.methods[method]->name() + '\n' +
                      fingerprints_[method]);
  }
  WorkItem prepare(size_t i, const ResultsLog& log) const;
  // The run's image limits, reading this input's frame (--frames all).
  ImageLimits limits_for(const InputFile& file) const {
    ImageLimits limits = plan_.options.limits;
    if (file.frame > 0) limits.dicom.frame = file.frame;
    return limits;
  }
  json finished_entries(size_t i, std::vector<size_t>& pending) const;
  void write_group(std::vector<Finished>& group, ResultsLog& log);
  std::vector<Record> failure_records(const WorkItem& item, const Error& error);
  std::vector<Record> success_records(const WorkItem& item, const ExplainOutcome& outcome);
  std::vector<Record> listed_results(const std::vector<Record>& latest);
  void report_progress();
  void write_run_settings(const std::vector<std::string>& inputs) const;

  Model& model_;
  const BatchOptions& options_;
  const ExplainPlan plan_;
  const TrueLabels truths_;  // --labels-csv or class-named folders: for the gallery and summary
  const Clock::time_point start_;
  const std::vector<std::string> inputs_;
  std::vector<InputFile> files_;
  std::vector<Destination> destinations_;
  std::vector<std::string> fingerprints_;
  BatchSummary summary_;

  // Decoded images in flight: at most twice the per-image budget (--max-image-memory). Declared before
  // the run's queues (in run()): the items they hold return their reservations when destroyed.
  mutable MemoryLedger memory_{2 * options_.explain.limits.max_decoded_bytes};
  StagedRun<WorkItem>* staged_ = nullptr;  // the run in progress (run())
};

// The summary and gallery show this run: its inputs (as found now) × its methods. Results of inputs
// deleted or not named this time, or of other methods, stay in the journal (a later run with them
// resumes) but are not listed as if they were part of this one.
std::vector<Record> BatchRun::listed_results(const std::vector<Record>& latest) {
  std::set<std::string> inputs, methods;
  for (const auto& f : files_) inputs.insert(f.id());
  for (const auto& m : plan_.methods) methods.insert(m->name());
  std::vector<Record> listed;
  for (const auto& r : latest)
    if (inputs.count(r.value("input", "")) && methods.count(r.value("method", ""))) listed.push_back(r);
  summary_.unlisted_results = latest.size() - listed.size();
  // True labels as this run knows them (also for results an earlier run left): gallery and summary only.
  for (auto& r : listed) {
    const auto truth = truths_.of(r.value("path", ""));
    if (!truth) continue;
    r["truth"] = truth->label;
    r["truth_from"] = truth->source;
    summary_.with_true_label += r.value("method", "") == plan_.methods.front()->name() ? 1 : 0;
  }
  return listed;
}

void BatchRun::discover(const std::vector<std::string>& inputs) {
  InputSelection selection = options_.selection;
  selection.output_dirs.push_back(options_.output_dir);
  DiscoveryCounts counts;
  std::vector<InputFile> files = discover_inputs(inputs, selection, &counts);
  summary_.skipped_outputs = counts.skipped_outputs;
  summary_.skipped_masks = counts.skipped_masks;
  for (auto& f : files)
    if (!options_.shard || in_shard(f, *options_.shard)) files_.push_back(std::move(f));
  // The frames of one file stay in its shard: each shard reads the files it owns.
  if (options_.explain.limits.dicom.all_frames) files_ = expand_frames(files_);
  summary_.progress.total = files_.size();
}

// On resume with new methods, the earlier report's entries of the finished methods: the new report
// lists every method although only the pending ones are computed.
json BatchRun::finished_entries(size_t i, std::vector<size_t>& pending) const {
  const Destination& d = destinations_[i];
  json carried = json::array();
  try {
    const json old = json::parse(read_regular_file((fs::path(d.dir) / (d.stem + ".json")).string(), 256ull << 20, ExitCode::output));
    for (const auto& entry : old.at("explanations")) {
      const std::string method = entry.value("method", "");
      const bool finished = std::none_of(pending.begin(), pending.end(),
                                         [&](size_t m) { return plan_.methods[m]->name() == method; });
      if (finished) carried.push_back(entry);
    }
  } catch (const std::exception&) {
    // No readable earlier report: compute every method again, so the report is whole.
    pending.clear();
    for (size_t m = 0; m < plan_.methods.size(); ++m) pending.push_back(m);
    return json::array();
  }
  return carried;
}

WorkItem BatchRun::prepare(size_t i, const ResultsLog& log) const {
  WorkItem item;
  item.index = i;
  std::string bytes;
  uint64_t decoded_bytes = 0;
  // Every index reserves exactly once, in input order (MemoryLedger), whatever fails before.
  bool reserved = false;
  auto reserve = [&] {
    if (!reserved) item.memory = memory_.reserve(decoded_bytes, i), reserved = true;
  };
  try {
    bytes = read_image_bytes(files_[i].path, plan_.options.limits);
    item.content_sha = sha256_hex(bytes);  // hashed once: the resume key and the report share it
    for (size_t m = 0; m < plan_.methods.size(); ++m)
      if (!log.done(key_of(i, item.content_sha, m))) item.pending.push_back(m);
    if (!item.pending.empty() && item.pending.size() < plan_.methods.size()) item.carried = finished_entries(i, item.pending);
    if (!item.pending.empty()) decoded_bytes = read_image_header(bytes).decoded_bytes();
    reserve();
    if (!item.pending.empty())
      item.prepared = prepare_image_bytes(bytes, item.content_sha, files_[i].path, plan_.card, limits_for(files_[i]));
  } catch (const std::exception& e) {
    item.error = as_error(e, files_[i].path);
    if (item.pending.empty())
      for (size_t m = 0; m < plan_.methods.size(); ++m) item.pending.push_back(m);
  }
  reserve();
  return item;
}

std::vector<Record> BatchRun::failure_records(const WorkItem& item, const Error& error) {
  std::vector<Record> records;
  for (size_t m : item.pending)
    records.push_back({{"key", key_of(item.index, item.content_sha, m)}, {"input", files_[item.index].id()},
                       {"path", utf8_path(files_[item.index].path)}, {"sha256", item.content_sha},
                       {"method", plan_.methods[m]->name()}, {"status", "error"},
                       {"exit_code", static_cast<int>(error.code())}, {"error", error.what()}});
  summary_.progress.failed += 1;
  if (summary_.first_error.empty()) {
    summary_.first_error = error.what();
    if (options_.fail_fast) {
      summary_.code = error.code();
      staged_->halt();
    }
  }
  return records;
}

// One record per method: the prediction, and every map it wrote (each class × layer).
std::vector<Record> BatchRun::success_records(const WorkItem& item, const ExplainOutcome& outcome) {
  std::vector<Record> records;
  const std::string& out = options_.output_dir;
  json probabilities = json::object();
  for (size_t c = 0; c < plan_.labels.size(); ++c) probabilities[plan_.labels[c]] = outcome.prediction.probabilities.at(c);
  for (size_t m : item.pending) {
    const std::string method = plan_.methods[m]->name();
    json maps = json::array();
    for (const auto& map : outcome.maps) {
      if (map.method != method) continue;
      json files = json::object();
      for (const auto& [role, path] : map.files) files[role] = relative_to(path, out);
      maps.push_back({{"target", {{"index", map.class_index}, {"label", map.label}, {"probability", map.probability}}},
                      {"layer", map.layer.empty() ? json(nullptr) : json(map.layer)},
                      {"stats", map_stats_json(map.stats)},
                      {"files", files}});
      if (!map.faithfulness.is_null()) maps.back()["faithfulness"] = map.faithfulness;
    }
    json files = {{"report", relative_to(outcome.report_path, out)},
                  {"thumbnail", relative_to(outcome.thumbnail_path, out)}};
    for (const auto& [role, path] : maps.front()["files"].items()) files[role] = path;
    records.push_back({{"key", key_of(item.index, item.content_sha, m)},
                       {"input", files_[item.index].id()},
                       {"path", utf8_path(files_[item.index].path)},
                       {"sha256", item.content_sha},
                       {"method", method},
                       {"status", "ok"},
                       {"label", outcome.label},
                       {"index", outcome.prediction.predicted},
                       {"probability", outcome.prediction.probabilities.at(outcome.prediction.predicted)},
                       {"probabilities", probabilities},
                       {"target", maps.front()["target"]},
                       {"layer", maps.front()["layer"]},
                       {"stats", maps.front()["stats"]},
                       {"files", files},
                       {"maps", maps}});
  }
  summary_.explained += 1;
  return records;
}

// Output files go to disk with one file-system sync per group, and only then are their results
// journaled: a journal line always refers to complete, durable files.
void BatchRun::write_group(std::vector<Finished>& group, ResultsLog& log) {
  {
    std::vector<Record> records;
    bool wrote = false;
    for (Finished& f : group) {
      if (staged_->halted()) break;
      const WorkItem& item = f.item;
      std::vector<Record> lines;
      if (item.error) {
        lines = failure_records(item, *item.error);
      } else if (!f.computed) {
        summary_.progress.skipped += 1;
      } else {
        try {
          const ExplainOutcome outcome = write_explanation(*item.prepared, *f.computed, plan_, destinations_[item.index],
                                                           Durability::deferred, /*thumbnail=*/true, item.carried);
          wrote = true;
          lines = success_records(item, outcome);
        } catch (const std::exception& e) {
          lines = failure_records(item, as_error(e, files_[item.index].path));
        }
      }
      summary_.progress.finished += 1;
      for (auto& line : lines) records.push_back(std::move(line));
    }
    if (wrote) sync_file_system(options_.output_dir);
    log.append(records);
    report_progress();
  }
}

void BatchRun::report_progress() {
  summary_.progress.seconds = std::chrono::duration<double>(Clock::now() - start_).count();
  summary_.progress.rate = summary_.progress.seconds > 0 ? summary_.explained / summary_.progress.seconds : 0;
  if (options_.on_progress) options_.on_progress(summary_.progress);
}

// OUT/run.json: how the last run into OUT was made (every setting, applied or not visible in the
// maps: batch size, workers, shard, filters), for provenance.
void BatchRun::write_run_settings(const std::vector<std::string>& inputs) const {
  json methods = json::array();
  for (size_t m = 0; m < plan_.methods.size(); ++m)
    methods.push_back({{"method", plan_.methods[m]->name()}, {"parameters", plan_.parameters[m]}});
  const json settings = {
      {"xai_version", xai_version()},
      {"model", with_current_checks(plan_.model, model_)},
      {"inputs", inputs},
      {"include", options_.selection.include},
      {"exclude", options_.selection.exclude},
      {"shard", options_.shard ? json(std::to_string(options_.shard->index) + "/" + std::to_string(options_.shard->count))
                               : json(nullptr)},
      {"methods", methods},
      {"rendering", {{"colormap", to_string(plan_.options.colormap)},
                     {"signed_colormap", to_string(plan_.options.signed_colormap)},
                     {"alpha", plan_.options.alpha}}},
      {"max_pixels", plan_.options.limits.max_pixels},
      {"batch_size", options_.batch_size},
      {"workers", options_.workers},
      {"fail_fast", options_.fail_fast},
      {"counts", {{"inputs", files_.size()}, {"explained", summary_.explained}, {"already_done", summary_.progress.skipped},
                  {"failed", summary_.progress.failed}, {"skipped_outputs", summary_.skipped_outputs},
                  {"skipped_masks", summary_.skipped_masks}}}};
  write_file_atomic((fs::path(options_.output_dir) / "run.json").string(), settings.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

BatchSummary BatchRun::run() {
  std::error_code ec;
  fs::create_directories(options_.output_dir, ec);
  if (ec || !fs::is_directory(options_.output_dir))
    throw output_error(options_.output_dir + ": cannot create output directory");
  const OutputLock lock(options_.output_dir);  // before the journal is read or compacted
  remove_stale_temporaries(options_.output_dir);  // left by a run killed while writing
  const std::string journal = (fs::path(options_.output_dir) / "results.jsonl").string();
  ResultsLog log(journal);
  StagedRun<WorkItem>::Stages stages;
  stages.inputs = files_.size();
  stages.readers = options_.workers;
  stages.batch_size = options_.batch_size;
  stages.queue_capacity = static_cast<size_t>(std::max(2, options_.batch_size * 2));
  stages.in_input_order = true;  // results and resumes are deterministic
  stages.fail_fast = options_.fail_fast;
  stages.stop = options_.stop;
  stages.read = [this, &log](size_t i) { return std::optional<WorkItem>(prepare(i, log)); };
  stages.ready = [](const WorkItem& item) { return !item.error && item.prepared.has_value(); };
  stages.compute = [this](const std::vector<WorkItem*>& items) {  // only each image's pending methods
    std::vector<const PreparedImage*> prepared;
    std::vector<std::vector<size_t>> methods_for;
    for (auto* item : items) prepared.push_back(&*item->prepared), methods_for.push_back(item->pending);
    return compute_explanations(model_, plan_, prepared, methods_for);
  };
  stages.failed = [this](WorkItem& item, const std::exception& e) { item.error = as_error(e, files_[item.index].path); };
  stages.write = [this, &log](std::vector<Finished>& group) { write_group(group, log); };
  // Readers wait for the memory these images hold: run them now rather than wait for a full batch.
  stages.flush_early = [this] { return memory_.someone_waits(); };
  stages.release_readers = [this] { memory_.stop(); };
  {
    struct Forget {  // destroyed after the run below, whose threads (the writer) use staged_ until joined
      StagedRun<WorkItem>*& run;
      ~Forget() { run = nullptr; }
    } forget{staged_};
    StagedRun<WorkItem> staged(std::move(stages));
    staged_ = &staged;
    staged.run();
    summary_.stopped = staged.stopped();
  }

  // Superseded results (an input that changed, another target) leave the journal once the run is over;
  // during it, appends alone keep it crash-safe.
  const std::vector<Record> latest = compact_journal(journal);
  write_run_index(options_.output_dir, listed_results(latest));
  write_run_settings(inputs_);
  if (summary_.code == ExitCode::ok && summary_.progress.failed > 0) summary_.code = ExitCode::partial;
  report_progress();
  return summary_;
}

}  // namespace

BatchSummary run_batch(Model& model, const std::vector<std::string>& inputs, const BatchOptions& options) {
  BatchRun run(model, inputs, options);
  return run.run();
}

}  // namespace xai
