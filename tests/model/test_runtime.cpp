// The runtime's process-wide settings.
#include <gtest/gtest.h>

#include <ATen/Context.h>

#include "model/runtime.hpp"

namespace xai {
namespace {

// LibTorch 2.x runs a GPU's float32 convolutions as TensorFloat-32 unless told otherwise (eager PyTorch:
// torch.backends.cudnn.conv.fp32_precision is "tf32" by default); after use_ieee_float32_on_gpus() the
// setting cuDNN's convolutions read says IEEE, and so do RNNs' and cuBLAS's. Settings, not kernels:
// this holds without a GPU (bench/gpu.sh compares the maps with the CPU's on one).
TEST(Runtime, GpusComputeFloat32AsIeeeFloat32) {
  at::Context& context = at::globalContext();
  const at::Float32Precision before = context.float32Precision(at::Float32Backend::CUDA, at::Float32Op::CONV);
  EXPECT_EQ(before, at::Float32Precision::TF32) << "LibTorch's default changed: the note in runtime.hpp is stale";
  use_ieee_float32_on_gpus();
  for (const at::Float32Op op : {at::Float32Op::CONV, at::Float32Op::RNN, at::Float32Op::MATMUL})
    EXPECT_EQ(context.float32Precision(at::Float32Backend::CUDA, op), at::Float32Precision::IEEE);
  EXPECT_FALSE(context.allowTF32CuDNN(at::Float32Op::CONV));
  EXPECT_FALSE(context.allowTF32CuBLAS());
}

}  // namespace
}  // namespace xai
