// Capturing the output of named submodules inside a TorchScript model (internal, LibTorch).
//
// TorchScript modules have no forward hooks, so we edit a fresh clone's method graphs: each
// forward method of a target submodule returns `xai::capture(out, self)` instead of `out`.
// The operator consults the calling thread's active CaptureSession and records the tensor only
// when `self` is one of the session's target instances (modules share ClassTypes, so the edit
// reaches siblings too; identity keeps them silent). Design notes: shared/notes/layer-capture.md.
#pragma once

#include <torch/script.h>

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace xai {

// What happens at a capture point during one forward pass on this thread.
struct CaptureSession {
  enum class Mode {
    observe,   // record shapes and completion order only (dry runs)
    gradient,  // record the activation as a tensor that gradients can be taken against
    replace,   // return `replacements[slot]` instead of the module's output at call `replace_at_call[slot]`
  };
  Mode mode = Mode::gradient;
  std::unordered_map<const c10::ivalue::Object*, size_t> slot_of;  // target instance → slot
  std::vector<torch::Tensor> activations;                          // last call's output per slot
  std::vector<int> call_count;                                     // calls per slot in this pass
  std::vector<int64_t> completed_at;                               // completion order of the last call
  int64_t clock = 0;
  std::vector<torch::Tensor> replacements;  // Mode::replace: e.g. a batch of ablated activations
  std::vector<int> replace_at_call;         // 1-based call to replace (the explained, last call)

  explicit CaptureSession(Mode m, size_t slots)
      : mode(m), activations(slots), call_count(slots, 0), completed_at(slots, -1), replacements(slots),
        replace_at_call(slots, 1) {}
};

// Makes `session` the active one for the current thread while in scope.
class ActiveCapture {
 public:
  explicit ActiveCapture(CaptureSession& session);
  ~ActiveCapture();
  ActiveCapture(const ActiveCapture&) = delete;
  ActiveCapture& operator=(const ActiveCapture&) = delete;

 private:
  CaptureSession* previous_;
};

// How a layer's forward methods could be instrumented.
struct InstrumentedLayer {
  std::string path;
  std::string type_name;             // e.g. "Bottleneck"
  const c10::ivalue::Object* instance = nullptr;
  std::vector<std::string> methods;  // forward, forward1, forward__0, ...
  bool pass_through = false;         // a traced call that returns None (Identity, Dropout, ...)
  std::string unsupported_output;    // non-empty when a method returns something other than a Tensor
};

// A clone of `model` whose listed submodules (by dotted path) are instrumented. Paths must
// exist; a path that cannot be captured is reported in `layers()` and by `require_capturable`.
class CaptureModel {
 public:
  CaptureModel(const torch::jit::Module& model, const std::vector<std::string>& layer_paths);

  const std::vector<InstrumentedLayer>& layers() const { return layers_; }
  torch::jit::Module& module() { return clone_; }

  // Fills a session whose slots follow `layers()` order.
  CaptureSession make_session(CaptureSession::Mode mode) const;

  // Throws layer_error when a layer is a pass-through or returns a non-tensor.
  void require_capturable(const std::string& model_name) const;

 private:
  torch::jit::Module clone_;
  std::vector<InstrumentedLayer> layers_;
};

// Every submodule path of `model` in definition order ("" for the root is excluded).
std::vector<std::string> submodule_paths(const torch::jit::Module& model);

// Throws layer_error for an unknown path, listing close matches.
void require_layer_exists(const torch::jit::Module& model, const std::string& path, const std::string& model_name);

// The submodule at dotted `path`, if there is one.
std::optional<torch::jit::Module> find_submodule(const torch::jit::Module& root, const std::string& path);

// Whether a method is one of a module's forward methods: forward, forward1.. (a traced module's re-calls),
// forward__0.. (overloads).
bool is_forward_method(const std::string& name);

// Short type name of a module ("__torch__.torchvision.models.resnet.Bottleneck" → "Bottleneck").
std::string short_type_name(const torch::jit::Module& module);

}  // namespace xai
