// Internal: what a loaded model's graphs and random number generators show about how it will run,
// read before and at its first pass (model.cpp): behaviour that eval() cannot change, devices a trace
// recorded, and the random numbers its forward draws.
#pragma once

#include <torch/script.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace xai {

// What a model's graphs hold that eval() or the device cannot change. Each module's own methods are
// walked, not the inlined forward: inlining copies the whole graph (DenseNet201: 285 ms in Python, the
// walk 27 ms), and a trace keeps each submodule's operations in its own forward.
struct RecordedInGraph {
  int training_batch_norms = 0;   // batch_norm(..., training=True) with running statistics
  int training_dropouts = 0;      // dropout(..., p > 0, train=True) and its variants
  std::set<std::string> devices;  // devices a trace recorded for the tensors it creates
};
RecordedInGraph recorded_in_graph(const torch::jit::Module& module);

// Throws a model error naming the batch norms and dropouts a trace recorded in training mode.
void refuse_training_behaviour(const RecordedInGraph& recorded, const std::string& path);

// What a failed forward pass most likely means, where the model shows it ("; ..." or empty): tensors it
// creates on a device the trace recorded (traced on a GPU, run on the CPU), or weights that are not float32.
std::string forward_failure_hint(const RecordedInGraph& recorded, const torch::jit::Module& module,
                                 const torch::Device& device);

// The states of the random number generators a pass on `device` can draw from (the CPU's, and the GPU's
// where it runs there), taken when constructed: whether a pass drew random numbers is whether they changed.
class GeneratorStates {
 public:
  explicit GeneratorStates(const torch::Device& device);
  bool changed() const;

 private:
  std::vector<torch::Device> devices_;
  std::vector<torch::Tensor> states_;
};

// The operations that draw random numbers ("aten::dropout, aten::randn_like") that this thread calls
// while one lives: what a model's forward actually ran, where its graphs may also hold dropout that
// self.training turns off.
class RandomOperations {
 public:
  RandomOperations();
  ~RandomOperations();
  RandomOperations(const RandomOperations&) = delete;
  RandomOperations& operator=(const RandomOperations&) = delete;
  std::string listed() const;  // comma-separated, or empty

 private:
  std::set<std::string> called_;
  std::set<std::string>* previous_ = nullptr;
  uint64_t callback_;
};

}  // namespace xai
