// Decoded-image memory in flight in a batch run: decoders reserve what an image will need before
// decoding it, and the reservation is returned when the image's outputs are written. Without it a
// batch held every decoded image its queues could take (24 16-megapixel JPEGs: 5.6 GB).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>

namespace xai {

class MemoryLedger {
 public:
  explicit MemoryLedger(uint64_t capacity) : capacity_(capacity) {}

  // Reservations are granted in ticket order (0, 1, 2, ...: the batch's input order), each when its
  // `bytes` fit beside what is reserved; an image alone always fits (one image over the capacity is the
  // per-image budget's business). In order, so that an image never waits for memory held by a later
  // one that waits for its turn in the queue. Every ticket must be taken once (0 bytes for an input
  // with nothing to do). stop() releases every waiter. The reservation is returned when the last copy
  // of the handle is destroyed.
  std::shared_ptr<void> reserve(uint64_t bytes, size_t ticket) {
    std::unique_lock<std::mutex> lock(mutex_);
    freed_.wait(lock, [&] {
      if (stopped_) return true;
      if (next_ticket_ != ticket) return false;
      head_blocked_ = !(used_ == 0 || used_ + bytes <= capacity_);
      return !head_blocked_;
    });
    head_blocked_ = false;
    if (next_ticket_ == ticket) ++next_ticket_;
    used_ += bytes;
    freed_.notify_all();  // the next ticket may fit too
    return std::shared_ptr<void>(nullptr, [this, bytes](void*) { release(bytes); });
  }
  // Whether the next image waits for memory: the model thread then runs the images it holds instead of
  // waiting for a full batch (their memory comes back once they are written).
  bool someone_waits() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return head_blocked_;
  }
  void stop() {
    std::lock_guard<std::mutex> lock(mutex_);
    stopped_ = true;
    freed_.notify_all();
  }

 private:
  void release(uint64_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    used_ -= bytes;
    freed_.notify_all();
  }

  const uint64_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable freed_;
  uint64_t used_ = 0;
  size_t next_ticket_ = 0;
  bool head_blocked_ = false;
  bool stopped_ = false;
};

}  // namespace xai
