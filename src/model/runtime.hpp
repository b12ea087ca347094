// Process-wide settings of the inference runtime.
#pragma once

#include <string>

namespace xai {

// What xai runs on, for `xai --version` and the reports: LibTorch as compiled against and as loaded (they
// must be the same: a mismatch means another libtorch.so was found at run time), its CUDA, and the GPUs.
struct RuntimeInfo {
  std::string libtorch_compiled;  // TORCH_VERSION of the headers, "2.11.0"
  std::string libtorch_loaded;    // what the loaded library says it is (at::show_config)
  std::string cuda_compiled;      // the CUDA LibTorch was built with ("13.0"); empty: a CPU-only LibTorch
  int gpus = 0;                   // CUDA devices visible now (0 without a driver or a GPU)
};
RuntimeInfo runtime_info();
// "xai 0.1.0, LibTorch 2.11.0 (CUDA 13.0), no GPU visible": one line.
std::string runtime_summary(const char* xai_version);

// Intra-op threads for model execution; n <= 0 means one per CPU core. LibTorch from Debian
// starts with one thread on some machines, where a ResNet50 forward pass is then many times slower.
void set_thread_count(int n);
int thread_count();  // as set (reported with the model, since it can change float results slightly)

// float32 means IEEE float32 on a GPU too. LibTorch's default runs cuDNN's float32 convolutions and RNNs
// as TensorFloat-32 on tensor cores: a 10-bit mantissa, rounding 2^13 times coarser than float32's, which
// the CPU never does and the report would call fp32. Lower precision is asked for (--precision) and checked.
// Process-wide; Model::load calls it for a GPU.
void use_ieee_float32_on_gpus();

// Keeps freed tensor memory in the process instead of handing it back to the kernel. glibc serves
// every buffer over 128 KiB-32 MiB with its own mmap and unmaps it on free, so each batch's
// activations are page-faulted in afresh (README, Allocator, has the measurement). Memory stays bounded by the largest batch's working set; call once at start-up.
void keep_freed_memory();

}  // namespace xai
