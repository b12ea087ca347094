#include "model/layer_capture.hpp"

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/library.h>

#include <algorithm>
#include <optional>
#include <unordered_set>

#include "xai/error.hpp"
#include "core/text.hpp"

namespace xai {
namespace {

thread_local CaptureSession* active_session = nullptr;

// The operator's body. Runs for every call of every instance of an instrumented ClassType.
at::Tensor capture_tensor(const at::Tensor& x, const c10::IValue& self) {
  CaptureSession* session = active_session;
  if (session == nullptr || !self.isObject()) return x;
  const auto slot_it = session->slot_of.find(&self.toObjectRef());
  if (slot_it == session->slot_of.end()) return x;  // a sibling sharing the type: stay silent
  const size_t slot = slot_it->second;
  session->call_count[slot] += 1;
  session->completed_at[slot] = session->clock++;

  if (session->mode == CaptureSession::Mode::replace) {
    // Downstream layers see the replacement (a copy: they may modify it in place). Its batch may
    // be larger than the input's: one image's upstream computation then serves many variants.
    const at::Tensor& replacement = session->replacements[slot];
    if (replacement.defined() && session->call_count[slot] == session->replace_at_call[slot]) return replacement.clone();
    return x;
  }
  if (session->mode == CaptureSession::Mode::observe || !at::GradMode::is_enabled()) {
    // Dry runs keep only a cheap copy of the meta data; the clone keeps the recorded value
    // equal to the module's output even if the caller mutates it in place afterwards.
    session->activations[slot] = session->mode == CaptureSession::Mode::observe
                                     ? at::empty(x.sizes(), x.options().device(at::kMeta))
                                     : x.clone();
    return x;
  }
  // Gradient mode. When nothing upstream requires grad (the usual case: parameters don't),
  // the recorded activation becomes a fresh leaf, so autograd records only what runs *after*
  // this point and the backward stops here. The caller gets a copy: in-place ops downstream
  // (`out += identity`, DenseNet's in-place ReLU) must not touch the recorded tensor.
  at::Tensor recorded = x.requires_grad() ? x.clone() : x.detach().clone().requires_grad_(true);
  session->activations[slot] = recorded;
  return recorded.clone();
}

void capture_boxed(const c10::OperatorHandle&, torch::jit::Stack* stack) {
  c10::IValue self = torch::jit::pop(*stack);
  at::Tensor x = torch::jit::pop(*stack).toTensor();
  torch::jit::push(*stack, capture_tensor(x, self));
}

}  // namespace

bool is_forward_method(const std::string& name) {
  if (name.rfind("forward", 0) != 0) return false;
  const std::string rest = name.substr(7);
  if (rest.empty()) return true;                                             // forward
  if (std::all_of(rest.begin(), rest.end(), ::isdigit)) return true;          // forward1 (traced re-calls)
  return rest.rfind("__", 0) == 0 && rest.size() > 2 &&                       // forward__0 (overloads)
         std::all_of(rest.begin() + 2, rest.end(), ::isdigit);
}


std::optional<torch::jit::Module> find_submodule(const torch::jit::Module& root, const std::string& path) {
  torch::jit::Module current = root;
  size_t start = 0;
  while (start <= path.size()) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (part.empty() || !current.hasattr(part)) return std::nullopt;
    c10::IValue child = current.attr(part);
    if (!child.isModule()) return std::nullopt;
    current = child.toModule();
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return current;
}

TORCH_LIBRARY(xai, m) {
  m.def(torch::schema("capture(Tensor x, Any self) -> Tensor", c10::AliasAnalysisKind::CONSERVATIVE),
        torch::CppFunction::makeFromBoxedFunction<&capture_boxed>());
}

ActiveCapture::ActiveCapture(CaptureSession& session) : previous_(active_session) { active_session = &session; }
ActiveCapture::~ActiveCapture() { active_session = previous_; }

std::vector<std::string> submodule_paths(const torch::jit::Module& model) {
  std::vector<std::string> paths;
  for (const auto& item : model.named_modules())
    if (!item.name.empty()) paths.push_back(item.name);
  return paths;
}

std::string short_type_name(const torch::jit::Module& module) {
  const auto& name = module.type()->name();
  return name ? name->name() : std::string("Module");
}

void require_layer_exists(const torch::jit::Module& model, const std::string& path, const std::string& model_name) {
  if (find_submodule(model, path)) return;
  const std::vector<std::string> paths = submodule_paths(model);
  if (paths.empty())
    throw layer_error(model_name + ": model has no submodules (frozen or optimized for inference?): layer '" +
                      path + "' cannot be captured; export it without torch.jit.freeze");
  // Rank by edit distance, favouring paths that contain the request or end like it.
  std::vector<std::pair<size_t, std::string>> ranked;
  for (const auto& candidate : paths) {
    size_t distance = edit_distance(path, candidate);
    if (candidate.find(path) != std::string::npos) distance = std::min<size_t>(distance, 1);
    ranked.emplace_back(distance, candidate);
  }
  std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string suggestions;
  for (size_t i = 0; i < ranked.size() && i < 5; ++i) {
    if (ranked[i].first > std::max<size_t>(3, path.size() / 2)) break;
    suggestions += (suggestions.empty() ? "" : ", ") + ranked[i].second;
  }
  throw layer_error(model_name + ": no layer '" + path + "'" +
                    (suggestions.empty() ? "" : "; close matches: " + suggestions) +
                    " (list all with `xai layers`)");
}

CaptureModel::CaptureModel(const torch::jit::Module& model, const std::vector<std::string>& layer_paths)
    // inplace=true: new ClassTypes and method graphs, parameters shared, the original untouched.
    : clone_(model.clone(/*inplace=*/true)) {
  std::unordered_set<const c10::ClassType*> instrumented_types;
  const c10::Symbol capture_symbol = c10::Symbol::fromQualString("xai::capture");
  for (const auto& path : layer_paths) {
    auto target = find_submodule(clone_, path);
    if (!target) throw layer_error("no layer '" + path + "'");
    InstrumentedLayer layer;
    layer.path = path;
    layer.type_name = short_type_name(*target);
    layer.instance = target->_ivalue().get();

    for (torch::jit::Function* method : target->type()->methods()) {
      if (!is_forward_method(method->name())) continue;
      layer.methods.push_back(method->name());
      std::shared_ptr<torch::jit::Graph> graph = torch::jit::toGraphFunction(*method).graph();
      torch::jit::Value* out = graph->outputs().at(0);
      const c10::TypeKind kind = out->type()->kind();
      if (kind == c10::TypeKind::NoneType) {
        layer.pass_through = true;
        continue;
      }
      if (kind != c10::TypeKind::TensorType) {
        layer.unsupported_output = out->type()->repr_str();
        continue;
      }
      if (instrumented_types.count(target->type().get())) continue;  // a sibling already edited the type
      torch::jit::WithInsertPoint insert_before_return(graph->return_node());
      torch::jit::Value* captured = graph->insert(capture_symbol, {out, graph->inputs().at(0)});
      graph->return_node()->replaceInputWith(out, captured);
    }
    std::sort(layer.methods.begin(), layer.methods.end());
    instrumented_types.insert(target->type().get());
    layers_.push_back(std::move(layer));
  }
}

CaptureSession CaptureModel::make_session(CaptureSession::Mode mode) const {
  CaptureSession session(mode, layers_.size());
  for (size_t i = 0; i < layers_.size(); ++i) session.slot_of[layers_[i].instance] = i;
  return session;
}

void CaptureModel::require_capturable(const std::string& model_name) const {
  for (const auto& layer : layers_) {
    if (layer.pass_through)
      throw layer_error(model_name + ": layer '" + layer.path + "' (" + layer.type_name +
                        ") is a pass-through in this traced model (it returns nothing; data flows around it, "
                        "as for Identity, Dropout or StochasticDepth in eval): capture the module that "
                        "produces its input instead (see `xai layers`)");
    if (!layer.unsupported_output.empty())
      throw layer_error(model_name + ": layer '" + layer.path + "' (" + layer.type_name + ") returns " +
                        layer.unsupported_output + ", not a tensor: choose a layer whose output is a feature map");
    if (layer.methods.empty())
      throw layer_error(model_name + ": layer '" + layer.path + "' (" + layer.type_name +
                        ") has no forward method to capture");
  }
}

}  // namespace xai
