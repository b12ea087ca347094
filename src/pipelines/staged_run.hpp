// One staged run of many inputs through one model, for batch (images) and slide (tiles) alike:
// reader threads read and prepare inputs (handing them over in input order when asked), the calling
// thread runs the model on batches, a writer thread writes each finished group. A batch that fails
// as a whole is retried one input at a time, so one bad input cannot take the others down; a stop
// signal or a failing writer ends the run cleanly, every thread joined. This is the one place where
// inputs meet the model, so it is also where device transfers belong.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "pipelines/bounded_queue.hpp"
#include "pipelines/helper_threads.hpp"
#include "xai/explain.hpp"

namespace xai {

template <typename Item>
class StagedRun {
 public:
  // An item whose model work is over: computed, failed (`computed` empty, the failure recorded on the
  // item) or never sent to the model (not ready: failed to read, or nothing left to compute).
  struct Done {
    Item item;
    std::optional<ComputedExplanation> computed;
  };

  struct Stages {
    size_t inputs = 0;
    int readers = 0;  // reader threads; <= 0: one per core
    int batch_size = 1;
    size_t queue_capacity = 16;
    bool in_input_order = false;  // readers hand items over in input order (deterministic outputs)
    bool fail_fast = false;       // the first input that fails ends the batch's retries
    const std::atomic<int>* stop = nullptr;  // set by SIGINT/SIGTERM: stop cleanly
    // On a reader thread: input i read and prepared, or nothing when it is skipped (already done).
    std::function<std::optional<Item>(size_t)> read;
    // Whether an item goes to the model (else straight to the writer).
    std::function<bool(const Item&)> ready;
    // On the model thread: the explanations of these items, in their order.
    std::function<std::vector<ComputedExplanation>(const std::vector<Item*>&)> compute;
    // Records on the item why it failed alone.
    std::function<void(Item&, const std::exception&)> failed;
    // On the writer thread: a finished group, in the order the model finished it.
    std::function<void(std::vector<Done>&)> write;
    // While the model waits for items: run the partial batch now (a reader waits for memory it holds).
    std::function<bool()> flush_early;
    // Wakes readers blocked on something of the caller's (a memory ledger) when the run stops.
    std::function<void()> release_readers;
  };

  explicit StagedRun(Stages stages) : stages_(std::move(stages)), queue_(stages_.queue_capacity) {}
  StagedRun(const StagedRun&) = delete;
  StagedRun& operator=(const StagedRun&) = delete;
  ~StagedRun() { shutdown(); }

  // Runs until every input is written or the run stops; rethrows what stopped the writer.
  void run() {
    start_readers();
    writer_ = std::thread([this] {
      yield_to_the_model();
      try {
        while (auto group = done_queue_.pop()) stages_.write(*group);
      } catch (...) {
        writer_error_ = std::current_exception();
        halted_ = true;
        done_queue_.close();
      }
    });
    std::vector<Item> batch;
    while (!halted_ && !stop_requested()) {
      bool timed_out = false;
      auto item = queue_.pop_for(std::chrono::milliseconds(50), timed_out);
      if (timed_out) {
        if (!batch.empty() && stages_.flush_early && stages_.flush_early()) explain(batch);
        continue;
      }
      if (!item) break;
      if (!stages_.ready(*item)) {
        std::vector<Done> single;
        single.push_back({std::move(*item), std::nullopt});
        done_queue_.push(std::move(single));
        continue;
      }
      batch.push_back(std::move(*item));
      if (static_cast<int>(batch.size()) >= stages_.batch_size) explain(batch);
    }
    if (!halted_ && !stop_requested()) explain(batch);  // stopping: a partial batch is left to the resume
    stopped_ = stop_requested();
    shutdown();
    if (writer_error_) std::rethrow_exception(writer_error_);
  }

  // The writer (or the caller) ends the run: no further group is written.
  void halt() { halted_ = true; }
  bool halted() const { return halted_; }
  bool stopped() const { return stopped_; }
  bool stop_requested() const { return stages_.stop && stages_.stop->load() != 0; }
  double model_seconds() const { return model_seconds_; }

 private:
  void start_readers() {
    const int readers = stages_.readers > 0 ? stages_.readers : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    for (int r = 0; r < readers; ++r)
      readers_.emplace_back([this] {
        yield_to_the_model();
        for (size_t i = next_++; i < stages_.inputs && !stop_ && !stop_requested(); i = next_++) {
          std::optional<Item> item = stages_.read(i);
          if (!stages_.in_input_order) {
            if (item) queue_.push(std::move(*item));
            continue;
          }
          std::unique_lock<std::mutex> lock(order_mutex_);
          order_cv_.wait(lock, [&] { return next_to_push_ == i || stop_; });
          if (stop_) return;
          if (item) queue_.push(std::move(*item));
          ++next_to_push_;
          order_cv_.notify_all();
        }
      });
    closer_ = std::thread([this] {
      for (auto& t : readers_) t.join();
      queue_.producers_finished();
    });
  }

  void explain(std::vector<Item>& batch) {
    if (batch.empty()) return;
    const auto start = std::chrono::steady_clock::now();
    std::vector<Done> group;
    try {
      std::vector<Item*> all;
      for (auto& item : batch) all.push_back(&item);
      std::vector<ComputedExplanation> computed = stages_.compute(all);
      for (size_t i = 0; i < batch.size(); ++i) group.push_back({std::move(batch[i]), std::move(computed[i])});
    } catch (const std::exception&) {
      group.clear();
      for (auto& item : batch) {
        try {
          ComputedExplanation computed = std::move(stages_.compute({&item}).front());
          group.push_back({std::move(item), std::move(computed)});
        } catch (const std::exception& e) {
          stages_.failed(item, e);
          group.push_back({std::move(item), std::nullopt});
          if (stages_.fail_fast) break;
        }
      }
    }
    model_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    done_queue_.push(std::move(group));
    batch.clear();
  }

  // Stops and joins every thread, also when the model thread leaves with an exception.
  void shutdown() {
    if (shut_down_) return;
    shut_down_ = true;
    done_queue_.producers_finished();
    if (writer_.joinable()) writer_.join();
    queue_.close();  // first: a reader blocked in push() holds order_mutex_
    if (stages_.release_readers) stages_.release_readers();
    {
      std::lock_guard<std::mutex> lock(order_mutex_);  // no reader misses the wake-up
      stop_ = true;
    }
    order_cv_.notify_all();
    if (closer_.joinable()) closer_.join();
  }

  Stages stages_;
  BoundedQueue<Item> queue_;
  BoundedQueue<std::vector<Done>> done_queue_{2};
  std::vector<std::thread> readers_;
  std::thread closer_, writer_;
  std::atomic<size_t> next_{0};
  std::atomic<bool> stop_{false};
  std::mutex order_mutex_;
  std::condition_variable order_cv_;
  size_t next_to_push_ = 0;
  std::exception_ptr writer_error_;
  std::atomic<bool> halted_{false};
  bool stopped_ = false;
  bool shut_down_ = false;
  double model_seconds_ = 0;
};

}  // namespace xai
