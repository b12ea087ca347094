#include "model/runtime.hpp"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <malloc.h>

#include <thread>

namespace xai {

void set_thread_count(int n) {
  if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(n);
}


int thread_count() { return at::get_num_threads(); }

void use_ieee_float32_on_gpus() {
  // The per-operation settings: cuDNN's convolutions read theirs, not the backend's or the global one.
  for (const at::Float32Op op : {at::Float32Op::CONV, at::Float32Op::RNN, at::Float32Op::MATMUL})
    at::globalContext().setFloat32Precision(at::Float32Backend::CUDA, op, at::Float32Precision::IEEE);
}

namespace {

// The value after `key` in LibTorch's build description, up to the next comma or line end.
std::string config_value(const std::string& config, const std::string& key) {
  const size_t at = config.find(key);
  if (at == std::string::npos) return "";
  const size_t start = at + key.size();
  const size_t end = config.find_first_of(",\n", start);
  std::string value = config.substr(start, end == std::string::npos ? std::string::npos : end - start);
  while (!value.empty() && value.back() == ' ') value.pop_back();
  return value;
}

}  // namespace

RuntimeInfo runtime_info() {
  RuntimeInfo info;
  info.libtorch_compiled = TORCH_VERSION;
  const std::string config = at::show_config();
  info.libtorch_loaded = config_value(config, "TORCH_VERSION=");
  info.cuda_compiled = config_value(config, "CUDA_VERSION=");
  info.gpus = torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0;
  return info;
}

std::string runtime_summary(const char* xai_version) {
  const RuntimeInfo info = runtime_info();
  std::string text = std::string("xai ") + xai_version + ", LibTorch " + info.libtorch_compiled;
  if (!info.libtorch_loaded.empty() && info.libtorch_loaded != info.libtorch_compiled)
    text += " (but the loaded library is " + info.libtorch_loaded + ": another libtorch.so was found)";
  text += info.cuda_compiled.empty() ? " (CPU only)" : " (CUDA " + info.cuda_compiled + ")";
  text += info.gpus == 0 ? ", no GPU visible" : ", " + std::to_string(info.gpus) + " GPU(s) visible";
  return text;
}

void keep_freed_memory() {
  // Allocations below 256 MiB come from the heap, and the heap is trimmed only past 512 MiB free.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
}

}  // namespace xai
