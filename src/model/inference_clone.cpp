#include "model/inference_clone.hpp"

#include <ATen/Context.h>
#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/frozen_linear_transpose.h>
#include <torch/csrc/jit/passes/graph_rewrite_helper.h>
#include <torch/csrc/jit/runtime/graph_executor.h>

#include <functional>
#include <optional>
#include <vector>

namespace xai {
namespace {

using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;

// A convolution of the frozen graph whose weights and settings are constants.
struct ConstantConvolution {
  Node* node = nullptr;
  size_t position = 0;  // among the graph's top-level nodes (the same in a copy of the graph)
  torch::Tensor weight;
  std::vector<int64_t> stride, padding, dilation;
  int64_t groups = 1;
};

// oneDNN's inference convolution, the kernel PyTorch's own compiler (inductor) uses on CPUs.
c10::Symbol inference_convolution() { return c10::Symbol::fromQualString("mkldnn::_convolution_pointwise"); }

std::optional<std::vector<int64_t>> constant_ints(Value* value) {
  const std::optional<c10::IValue> constant = torch::jit::toIValue(value);
  if (!constant || !constant->isIntList()) return std::nullopt;
  return constant->toIntVector();
}

// Top-level aten::conv2d nodes with constant float32 weights (and bias) and integer settings; a
// convolution inside a branch or loop, or with padding="same", keeps LibTorch's path.
std::vector<ConstantConvolution> constant_convolutions(Graph& graph) {
  std::vector<ConstantConvolution> found;
  size_t position = 0;
  for (Node* node : graph.nodes()) {
    const size_t here = position++;
    if (node->kind() != c10::aten::conv2d || node->inputs().size() != 7) continue;
    const std::optional<c10::IValue> weight = torch::jit::toIValue(node->input(1));
    if (!weight || !weight->isTensor()) continue;
    const torch::Tensor w = weight->toTensor();
    if (w.dim() != 4 || w.scalar_type() != torch::kFloat || !w.device().is_cpu() || w.layout() != torch::kStrided)
      continue;
    if (!node->input(2)->type()->cast<c10::NoneType>()) {
      const std::optional<c10::IValue> bias = torch::jit::toIValue(node->input(2));
      if (!bias || !bias->isTensor() || bias->toTensor().scalar_type() != torch::kFloat) continue;
    }
    ConstantConvolution conv;
    conv.node = node;
    conv.position = here;
    conv.weight = w.contiguous();
    const auto stride = constant_ints(node->input(3)), padding = constant_ints(node->input(4)),
               dilation = constant_ints(node->input(5));
    const std::optional<c10::IValue> groups = torch::jit::toIValue(node->input(6));
    if (!stride || !padding || !dilation || !groups || !groups->isInt()) continue;
    conv.stride = *stride;
    conv.padding = *padding;
    conv.dilation = *dilation;
    conv.groups = groups->toInt();
    found.push_back(std::move(conv));
  }
  return found;
}

// Each convolution's input size for a one-image `example`: one pass of a copy of the graph that
// also returns every convolution's input.
std::vector<std::vector<int64_t>> convolution_input_sizes(const torch::jit::Module& frozen, Graph& graph,
                                                          const std::vector<ConstantConvolution>& convs,
                                                          const torch::Tensor& example) {
  std::shared_ptr<Graph> probe = graph.copy();
  const std::vector<Node*> nodes(probe->nodes().begin(), probe->nodes().end());
  std::vector<Value*> returned(probe->outputs().begin(), probe->outputs().end());
  if (returned.size() != 1) return {};
  for (const ConstantConvolution& conv : convs) returned.push_back(nodes.at(conv.position)->input(0));
  Node* tuple = probe->createTuple(returned);
  tuple->insertBefore(probe->return_node());
  probe->eraseOutput(0);
  probe->registerOutput(tuple->output());

  torch::jit::GraphFunction function("xai_convolution_input_sizes", probe, nullptr);
  torch::jit::Stack stack{frozen._ivalue(), example};
  {
    c10::InferenceMode inference;
    // One run: the profiling executor's work for later calls would be wasted (model.cpp, run_pass).
    const torch::jit::GraphOptimizerEnabledGuard optimiser(false);
    function.run(stack);
  }
  const auto& outputs = stack.back().toTupleRef().elements();
  std::vector<std::vector<int64_t>> sizes;
  for (size_t i = 1; i < outputs.size(); ++i) sizes.push_back(outputs[i].toTensor().sizes().vec());
  return sizes;
}

// Replaces each convolution by oneDNN's inference convolution with its weights re-ordered once, here,
// into the layout that kernel reads for `images` per pass.
void lay_out_convolutions(torch::jit::Module& frozen, const torch::Tensor& example, int64_t images) {
  std::shared_ptr<Graph> graph = frozen.get_method("forward").graph();
  torch::jit::graph_rewrite_helper::replaceConvolutionWithAtenConv(graph);  // traced models record _convolution
  const std::vector<ConstantConvolution> convs = constant_convolutions(*graph);
  if (convs.empty()) return;
  const std::vector<std::vector<int64_t>> sizes = convolution_input_sizes(frozen, *graph, convs, example);
  if (sizes.size() != convs.size()) return;

  const c10::Symbol packed_constant = c10::Symbol::fromQualString("prim::ConstantMKLDNNTensor");
  for (size_t i = 0; i < convs.size(); ++i) {
    const ConstantConvolution& conv = convs[i];
    std::vector<int64_t> input_size = sizes[i];
    if (input_size.size() != 4) continue;  // an unbatched [C, H, W] convolution
    input_size[0] = images;
    const torch::Tensor packed = at::mkldnn_reorder_conv2d_weight(conv.weight.to_mkldnn(), conv.padding, conv.stride,
                                                                  conv.dilation, conv.groups, input_size);
    torch::jit::WithInsertPoint insert_before(conv.node);
    Node* weight = graph->create(packed_constant);
    weight->t_(c10::attr::value, packed);
    weight->output()->setType(c10::TensorType::get());
    graph->insertNode(weight);
    Value* scalars = graph->insertNode(graph->createList(c10::OptionalType::create(c10::NumberType::get()), {}))->output();
    Node* replacement = graph->create(inference_convolution(),
                                      {conv.node->input(0), weight->output(), conv.node->input(2),
                                       graph->insertConstant(conv.padding), graph->insertConstant(conv.stride),
                                       graph->insertConstant(conv.dilation), graph->insertConstant(conv.groups),
                                       graph->insertConstant(std::string("none")), scalars,
                                       graph->insertConstant(c10::IValue())});
    replacement->output()->setType(conv.node->output()->type());
    graph->insertNode(replacement);
    conv.node->output()->replaceAllUsesWith(replacement->output());
    conv.node->destroy();
  }
  torch::jit::EliminateDeadCode(graph);  // the dense weights
}

}  // namespace

int laid_out_convolutions(const torch::jit::Module& clone) {
  int count = 0;
  for (const Node* node : clone.get_method("forward").graph()->nodes()) count += node->kind() == inference_convolution();
  return count;
}

double laid_out_weight_share(const torch::jit::Module& clone) {
  double laid_out = 0, all = 0;
  const c10::Symbol packed_constant = c10::Symbol::fromQualString("prim::ConstantMKLDNNTensor");
  const std::function<void(torch::jit::Block*)> visit = [&](torch::jit::Block* block) {
    for (Node* node : block->nodes()) {
      for (torch::jit::Block* inner : node->blocks()) visit(inner);
      if ((node->kind() != c10::prim::Constant && node->kind() != packed_constant) || !node->hasAttribute(c10::attr::value) ||
          node->kindOf(c10::attr::value) != torch::jit::AttributeKind::t)
        continue;
      const double elements = static_cast<double>(c10::multiply_integers(node->t(c10::attr::value).sizes()));
      all += elements;
      for (const torch::jit::Use& use : node->output()->uses())
        if (use.user->kind() == inference_convolution() && use.offset == 1) {
          laid_out += elements;
          break;
        }
    }
  };
  visit(clone.get_method("forward").graph()->block());
  return all > 0 ? laid_out / all : 0.0;
}

torch::jit::Module optimise_frozen_module(torch::jit::Module frozen, const torch::Tensor& example, CloneBatch batch) {
  if (example.device().is_cpu() && example.scalar_type() == torch::kFloat && at::hasMKLDNN()) {
    std::shared_ptr<Graph> graph = frozen.get_method("forward").graph();
    torch::jit::FrozenLinearTranspose(graph);
    lay_out_convolutions(frozen, example, batch == CloneBatch::single_image ? 1 : kBatchedCloneLayoutSize);
    return frozen;
  }
  return torch::jit::optimize_for_inference(frozen);  // frozen already: optimised in place
}

std::unique_ptr<torch::jit::Module> make_inference_clone(const torch::jit::Module& source, const torch::Tensor& example,
                                                    CloneBatch batch) {
  try {
    return std::make_unique<torch::jit::Module>(optimise_frozen_module(torch::jit::freeze(source), example, batch));
  } catch (const std::exception&) {
    // A graph the convolution rewrite does not cover (the probe pass's interpreter may rethrow LibTorch's
    // errors as plain runtime_errors): LibTorch's own optimisation, on a fresh freeze.
  }
  auto clone = std::make_unique<torch::jit::Module>(torch::jit::freeze(source));
  *clone = torch::jit::optimize_for_inference(*clone);
  return clone;
}

}  // namespace xai
