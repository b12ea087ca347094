// Batch runs over folders of images: resumable, sharded, with per-file errors, a results journal,
// a summary and a gallery. Works for every method explain_image supports.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "xai/error.hpp"
#include "xai/explain.hpp"
#include "xai/inputs.hpp"
#include "xai/model.hpp"

namespace xai {

struct BatchProgress {
  size_t total = 0;      // inputs in this shard
  size_t finished = 0;   // explained, failed or already done
  size_t skipped = 0;    // already done by an earlier run
  size_t failed = 0;
  double seconds = 0;    // since the start
  double rate = 0;       // images explained per second (skipped ones excluded)
};

struct BatchOptions {
  ExplainOptions explain;  // methods, layers, target, LIME settings, rendering; output_dir unused
  std::string output_dir;
  InputSelection selection;
  std::optional<Shard> shard;
  int batch_size = 8;      // images per forward pass (CAM methods)
  int workers = 0;         // decoding threads; 0: one per core
  bool fail_fast = false;
  // True labels for the gallery (a misclassified filter) and summary.csv: name,label lines; inputs in
  // folders named like a class get that class without it.
  std::string labels_csv;
  std::function<void(const BatchProgress&)> on_progress;  // called after every image
  // Set (from a signal handler) to stop the run: no new image is started, the batch the model is on
  // is finished and written, then the journal, summary and gallery; the rest is left to a resume.
  const std::atomic<int>* stop = nullptr;
};

struct BatchSummary {
  BatchProgress progress;
  size_t explained = 0;
  ExitCode code = ExitCode::ok;  // ok, partial, or the first error's code with fail_fast
  std::string first_error;
  size_t skipped_outputs = 0;  // files under the inputs that are xai outputs, not inputs
  size_t skipped_masks = 0;    // ground-truth masks under the inputs (discover_inputs), not inputs
  bool stopped = false;        // BatchOptions::stop was set before every input was done
  size_t unlisted_results = 0;  // journal results of inputs or methods not in this run (kept, not listed)
  size_t with_true_label = 0;   // listed inputs whose true label is known
};

BatchSummary run_batch(Model& model, const std::vector<std::string>& inputs, const BatchOptions& options);

// Combines the outputs of several runs (e.g. shards) into `out_dir`: files are hard-linked (or
// copied) with their relative paths, results are deduplicated by key, and the summary and gallery
// are rebuilt. Returns the number of records.
size_t merge_batch_outputs(const std::vector<std::string>& run_dirs, const std::string& out_dir);

}  // namespace xai
