#include "xai/runtime.hpp"

#include <ATen/Parallel.h>

#include <malloc.h>

#include <thread>

namespace xai {

void set_thread_count(int n) {
  if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(n);
}


int thread_count() { return at::get_num_threads(); }

void keep_freed_memory() {
  // Allocations below 256 MiB come from the heap, and the heap is trimmed only past 512 MiB free.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
}

}  // namespace xai
