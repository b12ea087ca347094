// Perturbed images per forward pass, chosen by measurement. The fastest batch size per image depends
// on the model and the machine (ResNet50 on 2 cores: 10 images per pass beat 64 by ~30 %, the demo
// model prefers large batches), so a constant is wrong somewhere. The first passes of a process try
// each candidate size a few times, as part of the real work (nothing is run just to measure), and the
// fastest per image is used from then on. On a GPU the candidates go larger (Model::load), bounded by
// what fits: a size that runs out of the device's memory is dropped and its images run again smaller.
#pragma once

#include <chrono>
#include <vector>

#include "xai/error.hpp"

namespace xai {

class BatchTuner {
 public:
  explicit BatchTuner(std::vector<int> candidates = {4, 8, 16, 32, 64}, int trials = 2);
  // The size for the next pass: a candidate still being measured, then the chosen one.
  int next() const;
  // A pass of `size` images took `ms`. The very first pass warms the model up and is not counted;
  // a pass of another size than next() (the end of a run) is ignored.
  void record(int size, double ms);
  // A pass of `size` images ran out of the device's memory: `size` and every larger candidate are dropped,
  // and the measuring goes on among the others. False when no candidate is left below `size` (then the
  // caller reports the error: even the smallest batch does not fit).
  bool exceeded_memory(int size);
  int chosen() const { return chosen_; }  // 0 while still measuring
  int largest() const;                    // the buffer a caller needs
  // Best per-image time of each candidate so far (0: not measured), in candidate order.
  std::vector<double> per_image_ms() const { return best_; }
  const std::vector<int>& candidates() const { return candidates_; }

 private:
  void choose_when_measured();  // the fastest per image, once every candidate has its trials

  std::vector<int> candidates_;
  int trials_;
  std::vector<int> counts_;
  std::vector<double> best_;
  bool warmed_ = false;
  int chosen_ = 0;
};

// Runs `pass` (one pass of `size` images) and adds its time to `model_ms`. With a tuner (the caller gave
// no size) the time is recorded, and a pass that runs out of the device's memory drops `size` and returns
// false: those images run again at tuner->next(). Without one, or with no smaller size left, the error
// (which names what to lower) is the caller's.
template <typename Pass>
bool run_timed_pass(BatchTuner* tuner, int size, double& model_ms, Pass pass) {
  const auto start = std::chrono::steady_clock::now();
  try {
    pass();
  } catch (const DeviceMemoryError&) {
    if (!tuner || !tuner->exceeded_memory(size)) throw;
    return false;
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  model_ms += ms;
  if (tuner) tuner->record(size, ms);
  return true;
}

}  // namespace xai
