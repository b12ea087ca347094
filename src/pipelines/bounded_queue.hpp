// A bounded, closable FIFO between two pipeline stages (batch runs: decoding -> model -> writer).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>

namespace xai {

// A bounded queue between pipeline stages, so a stage runs ahead of the next but memory stays flat.
template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(capacity) {}
  void push(T item) {
    std::unique_lock<std::mutex> lock(mutex_);
    not_full_.wait(lock, [&] { return queue_.size() < capacity_ || closed_; });
    if (closed_) return;
    queue_.push_back(std::move(item));
    not_empty_.notify_one();
  }
  std::optional<T> pop() {
    std::unique_lock<std::mutex> lock(mutex_);
    not_empty_.wait(lock, [&] { return !queue_.empty() || producers_done_ || closed_; });
    if (queue_.empty()) return std::nullopt;
    T item = std::move(queue_.front());
    queue_.pop_front();
    not_full_.notify_one();
    return item;
  }
  // As pop(), but waits at most `timeout`; `timed_out` says whether it returned for that reason.
  template <typename Duration>
  std::optional<T> pop_for(Duration timeout, bool& timed_out) {
    std::unique_lock<std::mutex> lock(mutex_);
    timed_out = !not_empty_.wait_for(lock, timeout, [&] { return !queue_.empty() || producers_done_ || closed_; });
    if (queue_.empty()) return std::nullopt;
    T item = std::move(queue_.front());
    queue_.pop_front();
    not_full_.notify_one();
    return item;
  }
  // No more pushes: pop() drains what is queued, then returns nothing.
  void producers_finished() {
    std::lock_guard<std::mutex> lock(mutex_);
    producers_done_ = true;
    not_empty_.notify_all();
  }
  // Abandons what is queued and wakes every waiter.
  void close() {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    queue_.clear();
    not_full_.notify_all();
    not_empty_.notify_all();
  }

 private:
  size_t capacity_;
  std::deque<T> queue_;
  std::mutex mutex_;
  std::condition_variable not_full_, not_empty_;
  bool producers_done_ = false, closed_ = false;
};

}  // namespace xai
