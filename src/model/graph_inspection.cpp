#include "model/graph_inspection.hpp"

#include <ATen/Context.h>
#include <ATen/record_function.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/runtime/graph_iterator.h>

#include <mutex>

#include "xai/error.hpp"

namespace xai {
namespace {

// ATen operations that draw from a random number generator, without a trailing in-place '_'.
bool draws_random_numbers(const std::string& kind) {
  static const std::set<std::string> random{
      "dropout", "feature_dropout", "alpha_dropout", "feature_alpha_dropout", "native_dropout", "bernoulli",
      "rand", "rand_like", "randn", "randn_like", "randint", "randint_like", "randperm", "random", "normal",
      "uniform", "multinomial", "poisson", "exponential", "geometric", "cauchy", "log_normal", "rrelu",
      "rrelu_with_noise"};
  if (kind.rfind("aten::", 0) != 0) return false;
  std::string name = kind.substr(6);
  if (!name.empty() && name.back() == '_') name.pop_back();
  return random.count(name) > 0;
}

bool constant_true(const torch::jit::Value* value) {
  const std::optional<c10::IValue> constant = torch::jit::toIValue(value);
  return constant && constant->isBool() && constant->toBool();
}

bool is_none(const torch::jit::Value* value) { return value->type()->kind() == c10::TypeKind::NoneType; }

// The operations a pass calls that draw random numbers, while a RandomOperations lives on this thread:
// the outermost calls only (aten::dropout, not the aten::bernoulli_ inside it).
thread_local std::set<std::string>* random_operations_called = nullptr;
thread_local int operation_depth = 0;

std::unique_ptr<at::ObserverContext> on_operation_start(const at::RecordFunction& call) {
  if (operation_depth++ != 0 || !random_operations_called || !draws_random_numbers(call.name())) return nullptr;
  // dropout(input, p, train): nn.Dropout calls it in eval() too, with train false, and draws nothing.
  // The interpreter hands over its stack, the call's arguments last.
  const std::string name = call.name();
  if (name.find("dropout") != std::string::npos) {
    const auto inputs = call.inputs();
    if (!inputs.empty() && inputs.back().isBool() && !inputs.back().toBool()) return nullptr;
  }
  random_operations_called->insert(name);
  return nullptr;
}

void on_operation_end(const at::RecordFunction&, at::ObserverContext*) { --operation_depth; }

}  // namespace

RecordedInGraph recorded_in_graph(const torch::jit::Module& module) {
  RecordedInGraph recorded;
  for (const torch::jit::Module& submodule : module.modules())
    for (const torch::jit::Method& method : submodule.get_methods()) {
      std::shared_ptr<torch::jit::Graph> graph = method.graph();
      for (torch::jit::DepthFirstGraphNodeIterator it(graph); const torch::jit::Node* node = it.next();) {
        if (node->kind() == c10::prim::Constant) {
          if (node->output()->type()->kind() == c10::TypeKind::DeviceObjType)
            recorded.devices.insert(torch::jit::toIValue(node->output())->toDevice().str());
          continue;
        }
        const std::string kind = node->kind().toQualString();
        // batch_norm(input, weight, bias, running_mean, running_var, training, ...): without running
        // statistics (track_running_stats=False) batch statistics are the model's design, in eval too.
        if ((kind == "aten::batch_norm" || kind == "aten::_batch_norm_impl_index") && node->inputs().size() > 5 &&
            constant_true(node->input(5)) && !is_none(node->input(3)))
          ++recorded.training_batch_norms;
        // dropout(input, p, train) and its feature/alpha variants, in place or not.
        if (kind.rfind("aten::", 0) == 0 && kind.find("dropout") != std::string::npos && node->inputs().size() == 3 &&
            constant_true(node->input(2))) {
          const std::optional<c10::IValue> p = torch::jit::toIValue(node->input(1));
          if (!p || !p->isDouble() || p->toDouble() > 0) ++recorded.training_dropouts;
        }
      }
    }
  return recorded;
}

// A model traced in training mode keeps training's behaviour whatever module.eval() says: the trace
// recorded its batch norms with training=True (each image's scores then depend on the others in its
// batch, and xai batches perturbed images) and its dropout on (scores change from pass to pass). Its
// explanations would be noise. Scripted models read self.training, which eval() sets, so they pass.
void refuse_training_behaviour(const RecordedInGraph& recorded, const std::string& path) {
  if (recorded.training_batch_norms == 0 && recorded.training_dropouts == 0) return;
  std::string what;
  if (recorded.training_batch_norms)
    what = "its batch norms (" + std::to_string(recorded.training_batch_norms) +
           ") normalise by each batch's own statistics";
  if (recorded.training_dropouts)
    what += (what.empty() ? "its" : " and its") + std::string(" dropouts (") +
            std::to_string(recorded.training_dropouts) + ") drop at random";
  throw model_error(path + ": runs in training mode whatever eval() says (" + what +
                    "): the trace recorded model.train(); trace it after model.eval()");
}

std::string forward_failure_hint(const RecordedInGraph& recorded, const torch::jit::Module& module,
                                 const torch::Device& device) {
  std::string hint;
  for (const std::string& recorded_device : recorded.devices)
    if (torch::Device(recorded_device).type() != device.type()) {
      hint += "; the model creates tensors on " + recorded_device +
              " (a trace records the device it ran on): run it with " + setting_name("device") + " " + recorded_device +
              ", or trace it on the device it will run on";
      break;
    }
  for (const torch::Tensor& parameter : module.parameters())
    if (parameter.is_floating_point()) {
      if (parameter.scalar_type() != torch::kFloat)
        hint += "; its weights are " + std::string(c10::toString(parameter.scalar_type())) +
                " and xai's inputs float32: export it after model.float() (" + setting_name("precision") +
                " runs forward-only passes in fp16 or bf16)";
      break;
    }
  return hint;
}

GeneratorStates::GeneratorStates(const torch::Device& device) {
  devices_.emplace_back(torch::kCPU);
  if (!device.is_cpu()) devices_.push_back(device);  // without an index: the current GPU's, where it runs
  for (const torch::Device& on : devices_) {
    at::Generator generator = at::globalContext().defaultGenerator(on);
    const std::lock_guard<std::mutex> lock(generator.mutex());
    states_.push_back(generator.get_state());
  }
}

bool GeneratorStates::changed() const {
  for (size_t i = 0; i < devices_.size(); ++i) {
    at::Generator generator = at::globalContext().defaultGenerator(devices_[i]);
    const std::lock_guard<std::mutex> lock(generator.mutex());
    if (!torch::equal(generator.get_state(), states_[i])) return true;
  }
  return false;
}

RandomOperations::RandomOperations()
    : callback_(at::addThreadLocalCallback(
          at::RecordFunctionCallback(&on_operation_start, &on_operation_end)
              .scopes({at::RecordScope::FUNCTION})
              .needsInputs(true))) {
  previous_ = random_operations_called;
  random_operations_called = &called_;
}

RandomOperations::~RandomOperations() {
  at::removeCallback(callback_);
  random_operations_called = previous_;
}

std::string RandomOperations::listed() const {
  std::string list;
  for (const std::string& operation : called_) list += (list.empty() ? "" : ", ") + operation;
  return list;
}

}  // namespace xai
