#include "model/staged_capture.hpp"

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/runtime/graph_iterator.h>
#include <torch/library.h>

#include <stdexcept>
#include <unordered_map>

#include "model/layer_capture.hpp"

namespace xai {
namespace {

using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;

// Every instance of the layer's ClassType gets this attribute: 1 on the layer, 0 on its siblings (they
// share the type's graphs). Freezing folds it into a constant, so the inlined graph tells them apart.
constexpr const char* kMarkAttribute = "xai_cut_mark";

c10::Symbol cut_mark() { return c10::Symbol::fromQualString("xai::cut_mark"); }

// The mark's body: the identity. It only exists to be found in the frozen graph (CONSERVATIVE: the
// compiler neither removes nor moves it, so batch-norm folding cannot reach across the cut).
void cut_mark_boxed(const c10::OperatorHandle&, torch::jit::Stack* stack) { torch::jit::drop(*stack, 1); }

// A clone of `module` whose `layer` returns `xai::cut_mark(output, self.xai_cut_mark)` from every forward method.
torch::jit::Module marked_clone(const torch::jit::Module& module, const std::string& layer) {
  torch::jit::Module clone = module.clone(/*inplace=*/true);  // parameters shared; freezing copies them
  const std::optional<torch::jit::Module> target = find_submodule(clone, layer);
  if (!target) throw std::runtime_error("no layer '" + layer + "'");
  for (const auto& item : clone.named_modules()) {
    torch::jit::Module instance = item.value;
    if (instance.type() != target->type()) continue;
    const bool is_target = instance._ivalue().get() == target->_ivalue().get();
    instance.register_attribute(kMarkAttribute, c10::IntType::get(), c10::IValue(int64_t{is_target ? 1 : 0}));
  }
  int marked = 0;
  for (torch::jit::Function* method : target->type()->methods()) {
    if (!is_forward_method(method->name())) continue;
    std::shared_ptr<Graph> graph = torch::jit::toGraphFunction(*method).graph();
    Value* out = graph->outputs().at(0);
    if (out->type()->kind() != c10::TypeKind::TensorType) continue;
    torch::jit::WithInsertPoint before_return(graph->return_node());
    Value* mark = graph->insertGetAttr(graph->inputs().at(0), kMarkAttribute);
    graph->return_node()->replaceInputWith(out, graph->insert(cut_mark(), {out, mark}));
    ++marked;
  }
  if (marked == 0) throw std::runtime_error("layer '" + layer + "' has no forward method that returns a tensor");
  return clone;
}

// Removes every mark but the layer's last call at the top level of the frozen graph; returns how many
// times the layer runs.
int keep_last_call(std::shared_ptr<Graph>& graph) {
  std::vector<Node*> marks;
  for (torch::jit::DepthFirstGraphNodeIterator it(graph); Node* node = it.next();)
    if (node->kind() == cut_mark()) marks.push_back(node);
  Node* last = nullptr;
  int calls = 0;
  for (Node* mark : marks) {
    const std::optional<c10::IValue> flag = torch::jit::toIValue(mark->input(1));
    if (!flag || !flag->isInt()) throw std::runtime_error("the layer's mark was not folded by freezing");
    if (flag->toInt() != 1) continue;
    ++calls;
    if (mark->owningBlock() != graph->block())
      throw std::runtime_error("the layer runs inside a loop or branch of the frozen graph");
    last = mark;  // depth-first order is program order at the top level
  }
  if (!last) throw std::runtime_error("the layer does not run in the frozen graph");
  for (Node* mark : marks) {
    if (mark == last) continue;
    mark->output()->replaceAllUsesWith(mark->input(0));
    mark->destroy();
  }
  return calls;
}

// The graph's top-level nodes, where the cut is among them, and the values the layers after the cut
// read from before it (graph inputs included, `self` and constants not: those both stages have).
struct CutPlan {
  std::vector<Node*> nodes;
  size_t cut = 0;
  std::vector<Value*> carried;
};

CutPlan plan_cut(Graph& graph) {
  CutPlan plan;
  std::unordered_map<const Node*, size_t> position;
  for (Node* node : graph.nodes()) {
    if (node->kind() == cut_mark()) plan.cut = plan.nodes.size();
    position[node] = plan.nodes.size();
    plan.nodes.push_back(node);
  }
  const auto read_after_cut = [&](const Value* value) {
    for (const torch::jit::Use& use : value->uses()) {
      const Node* user = use.user;
      while (user->owningBlock() != graph.block()) user = user->owningBlock()->owningNode();
      if (user == graph.return_node() || position.at(user) > plan.cut) return true;
    }
    return false;
  };
  for (size_t i = 1; i < graph.inputs().size(); ++i)
    if (read_after_cut(graph.inputs()[i])) plan.carried.push_back(graph.inputs()[i]);
  for (size_t n = 0; n < plan.cut; ++n) {
    if (plan.nodes[n]->kind() == c10::prim::Constant) continue;
    for (Value* output : plan.nodes[n]->outputs())
      if (read_after_cut(output)) plan.carried.push_back(output);
  }
  if (read_after_cut(plan.nodes[plan.cut]->input(0)))
    throw std::runtime_error("the layer's output is read again after the cut");
  return plan;
}

// Keeps the nodes up to the cut; the graph returns (the layer's output, carried values...).
void make_prefix(Graph& graph) {
  const CutPlan plan = plan_cut(graph);
  Node* cut = plan.nodes[plan.cut];
  std::vector<Value*> returned{cut->input(0)};
  returned.insert(returned.end(), plan.carried.begin(), plan.carried.end());
  Node* tuple = graph.createTuple(returned);
  tuple->insertAfter(cut);
  graph.eraseOutput(0);
  graph.registerOutput(tuple->output());
  for (size_t n = plan.nodes.size(); n-- > plan.cut + 1;) plan.nodes[n]->destroy();
  cut->destroy();
  torch::jit::EliminateDeadCode(graph.block());
}

// Keeps the nodes after the cut; the graph takes (self, the layer's output, carried values...).
size_t make_suffix(Graph& graph) {
  const CutPlan plan = plan_cut(graph);
  const size_t inputs = graph.inputs().size();
  Node* cut = plan.nodes[plan.cut];
  cut->output()->replaceAllUsesWith(graph.addInput("activation")->setType(cut->output()->type()));
  for (Value* value : plan.carried) value->replaceAllUsesWith(graph.addInput()->setType(value->type()));
  for (size_t n = plan.cut + 1; n-- > 0;)
    if (plan.nodes[n]->kind() != c10::prim::Constant) plan.nodes[n]->destroy();
  // The image input(s): the prefix consumed them (a read after the cut now reads a carried input).
  for (size_t i = inputs; i-- > 1;) {
    if (!graph.inputs()[i]->uses().empty()) throw std::runtime_error("an input is still read after the cut");
    graph.eraseInput(i);
  }
  torch::jit::EliminateDeadCode(graph.block());
  return plan.carried.size();
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(xai, m) {
  m.def(torch::schema("cut_mark(Tensor x, int mark) -> Tensor", c10::AliasAnalysisKind::CONSERVATIVE),
        torch::CppFunction::makeFromBoxedFunction<&cut_mark_boxed>());
}

StagedCapture::StagedCapture(const torch::jit::Module& module, const std::string& layer, const torch::Tensor& example,
                             CloneBatch batch) {
  torch::jit::Module frozen = torch::jit::freeze(marked_clone(module, layer));
  std::shared_ptr<Graph> graph = frozen.get_method("forward").graph();
  calls_ = keep_last_call(graph);
  std::shared_ptr<Graph> suffix = graph->copy();
  carried_count_ = make_suffix(*suffix);
  make_prefix(*graph);
  suffix_owner_ = frozen;
  suffix_ = std::make_unique<torch::jit::GraphFunction>("xai_suffix", suffix, nullptr);
  prefix_ = optimise_frozen_module(frozen, example, batch);
}

StagedCapture::~StagedCapture() = default;

StagedCapture::Prefix StagedCapture::run_prefix(const torch::Tensor& input) {
  torch::NoGradGuard no_grad;
  const c10::IValue out = prefix_.forward({input});
  const auto& elements = out.toTupleRef().elements();
  Prefix p;
  p.activation = elements.at(0).toTensor();
  p.carried.assign(elements.begin() + 1, elements.end());
  return p;
}

c10::IValue StagedCapture::run_suffix(const torch::Tensor& activation, const std::vector<c10::IValue>& carried) {
  torch::jit::Stack stack{suffix_owner_._ivalue(), activation};
  stack.insert(stack.end(), carried.begin(), carried.end());
  suffix_->run(stack);
  return stack.back();
}

int StagedCapture::laid_out_convolutions() const { return xai::laid_out_convolutions(prefix_); }

}  // namespace xai
