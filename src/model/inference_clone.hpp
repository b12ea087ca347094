// Internal: the frozen, inference-optimised copy of a model that forward-only passes run on.
#pragma once

#include <torch/script.h>

#include <cstdint>
#include <memory>

namespace xai {

// How many images a clone's passes carry: the convolution weights' best memory layout depends on it.
enum class CloneBatch { single_image, batched };

// A frozen (constants folded), inference-optimised copy of `source`; freezing clones. `example` is one
// input image [1, C, H, W] on the module's device, used to learn each convolution's input size.
//
// On the CPU in float32, every convolution whose weights are constants runs as oneDNN's inference
// convolution with its weights stored once in the layout that kernel reads for `batch`. LibTorch 2.x's
// optimize_for_inference stores them in that layout too but then runs oneDNN's training convolution,
// which wants another one, so every pass re-ordered every weight (ResNet50 at batch 1: 56 re-orders,
// a fifth of the pass). Elsewhere (CUDA, bf16/fp16) it is LibTorch's optimize_for_inference as is.
std::unique_ptr<torch::jit::Module> make_inference_clone(const torch::jit::Module& source, const torch::Tensor& example,
                                                    CloneBatch batch);

// The same optimisation of a module frozen already (torch::jit::freeze), whose forward graph is edited in
// place; throws where the rewrite cannot handle the graph.
torch::jit::Module optimise_frozen_module(torch::jit::Module frozen, const torch::Tensor& example, CloneBatch batch);

// How many convolutions of `clone`'s forward run with weights laid out by make_inference_clone.
int laid_out_convolutions(const torch::jit::Module& clone);

// The share of `clone`'s weights (its graph's tensor constants, by element count) that those convolutions
// hold: what a pass of another batch size re-orders (exported ResNet50 0.999, DenseNet 0.975-0.98; ViT-B/16 0.004, its patch embedding).
double laid_out_weight_share(const torch::jit::Module& clone);

// The batch size the layouts of a batched clone are chosen for (measured on ResNet50: packed for 16,
// batches of 16 and 64 ran 4-6 % faster than LibTorch's clone; packed for 1, batches of 16 ran slower).
constexpr int64_t kBatchedCloneLayoutSize = 16;

// Single images get a clone of their own (laid out for 1) when its laid-out convolutions hold at least this
// share of the batched clone's weights; below it, they run on the batched clone (forward_only.cpp).
constexpr double kSingleImageCloneWeightShare = 0.5;

}  // namespace xai
