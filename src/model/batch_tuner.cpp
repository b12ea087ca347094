#include "model/batch_tuner.hpp"

#include <algorithm>

#include "xai/error.hpp"

namespace xai {

BatchTuner::BatchTuner(std::vector<int> candidates, int trials)
    : candidates_(std::move(candidates)), trials_(std::max(trials, 1)) {
  if (candidates_.empty()) throw Error(ExitCode::internal, "BatchTuner: no candidate sizes");
  counts_.assign(candidates_.size(), 0);
  best_.assign(candidates_.size(), 0.0);
}

int BatchTuner::next() const {
  if (chosen_ > 0) return chosen_;
  if (!warmed_) return candidates_.front();
  // Round robin, so a slow spell of the machine hits every candidate alike.
  size_t pick = 0;
  for (size_t i = 1; i < candidates_.size(); ++i)
    if (counts_[i] < counts_[pick]) pick = i;
  return candidates_[pick];
}

void BatchTuner::record(int size, double ms) {
  if (chosen_ > 0 || size != next()) return;
  if (!warmed_) {
    warmed_ = true;
    return;
  }
  const size_t i = static_cast<size_t>(std::find(candidates_.begin(), candidates_.end(), size) - candidates_.begin());
  const double per_image = ms / size;
  // The best of the trials: interruptions only ever make a pass slower.
  best_[i] = counts_[i] == 0 ? per_image : std::min(best_[i], per_image);
  ++counts_[i];
  choose_when_measured();
}

void BatchTuner::choose_when_measured() {
  if (*std::min_element(counts_.begin(), counts_.end()) >= trials_)
    chosen_ = candidates_[static_cast<size_t>(std::min_element(best_.begin(), best_.end()) - best_.begin())];
}

bool BatchTuner::exceeded_memory(int size) {
  std::vector<int> kept_candidates, kept_counts;
  std::vector<double> kept_best;
  for (size_t i = 0; i < candidates_.size(); ++i)
    if (candidates_[i] < size) {
      kept_candidates.push_back(candidates_[i]);
      kept_counts.push_back(counts_[i]);
      kept_best.push_back(best_[i]);
    }
  if (kept_candidates.empty()) return false;
  candidates_ = std::move(kept_candidates);
  counts_ = std::move(kept_counts);
  best_ = std::move(kept_best);
  if (chosen_ >= size) {  // chosen, then out of memory (a larger input, another process): choose again
    chosen_ = 0;
    choose_when_measured();
  }
  return true;
}

int BatchTuner::largest() const { return *std::max_element(candidates_.begin(), candidates_.end()); }

}  // namespace xai
