#include "xai/runtime.hpp"

#include <ATen/Parallel.h>

#include <thread>

namespace xai {

void set_thread_count(int n) {
  if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(n);
}

int thread_count() { return at::get_num_threads(); }

}  // namespace xai
