// Cascading model-parameter randomisation (randomisation.hpp): stages from the output down, and
// deep copies of the model with chosen modules re-initialised.
#include "model/randomisation.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "model/torch_model.hpp"
#include "xai/error.hpp"

namespace xai {
namespace {

bool owns_state(const torch::jit::Module& module) {
  return module.named_parameters(/*recurse=*/false).size() > 0 || module.named_buffers(/*recurse=*/false).size() > 0;
}

bool inside(const std::string& path, const std::string& container) {
  return path == container || path.rfind(container + ".", 0) == 0;
}

// FNV-1a: a parameter's random values depend on its name and the seed only.
uint64_t name_hash(const std::string& text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  return h;
}

int64_t fan_in(const torch::Tensor& weight) {
  int64_t fan = weight.size(1);
  for (int64_t d = 2; d < weight.dim(); ++d) fan *= weight.size(d);
  return std::max<int64_t>(fan, 1);
}

// Fresh values drawn on the CPU (the same on every device), then copied into the parameter in place.
void redraw(torch::Tensor& target, const std::string& name, uint64_t seed, const std::string& how, double a, double b) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed ^ name_hash(name));
  torch::Tensor values = torch::empty(target.sizes(), torch::TensorOptions().dtype(torch::kDouble));
  if (how == "uniform")
    values.uniform_(a, b, generator);
  else
    values.normal_(a, b, generator);
  target.copy_(values);
}

void reinitialise(torch::jit::Module& module, const std::string& path, uint64_t seed) {
  const std::string type = module.type()->name() ? module.type()->name()->name() : "";
  const bool norm = type.find("Norm") != std::string::npos;
  std::optional<int64_t> weight_fan_in;
  for (const auto& p : module.named_parameters(false))
    if (p.name == "weight" && p.value.dim() >= 2) weight_fan_in = fan_in(p.value);
  const std::string prefix = path.empty() ? "" : path + ".";
  for (const auto& p : module.named_parameters(false)) {
    torch::Tensor value = p.value;
    const std::string name = prefix + p.name;
    if (norm && p.name == "weight") {
      value.fill_(1.0);
    } else if (norm && p.name == "bias") {
      value.fill_(0.0);
    } else if (value.dim() >= 2) {
      const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in(value)));
      redraw(value, name, seed, "uniform", -bound, bound);
    } else if (p.name == "bias" && weight_fan_in) {
      const double bound = 1.0 / std::sqrt(static_cast<double>(*weight_fan_in));
      redraw(value, name, seed, "uniform", -bound, bound);
    } else if (value.numel() > 0) {
      const torch::Tensor trained = value.to(torch::kDouble);
      const double mean = trained.mean().item<double>();
      const double spread = value.numel() > 1 ? trained.std().item<double>() : std::abs(mean);
      redraw(value, name, seed, "normal", mean, spread > 0 ? spread : 1.0);
    }
  }
  if (!norm) return;  // other buffers (masks, position indices) are structure, not learnt values
  for (const auto& b : module.named_buffers(false)) {
    torch::Tensor value = b.value;
    if (b.name == "running_mean") value.fill_(0.0);
    if (b.name == "running_var") value.fill_(1.0);
  }
}

}  // namespace

std::vector<RandomisationStage> randomisation_cascade(Model& model) {
  Model::Impl& impl = model.impl();
  std::set<std::string> owners;
  for (const auto& item : impl.module.named_modules())
    if (!item.name.empty() && owns_state(item.value)) owners.insert(item.name);
  if (owners.empty())
    throw layer_error(impl.path + ": no submodule holds parameters (frozen or optimized for inference?): "
                      "nothing to randomise; export the model without torch.jit.freeze");

  // Parametrised modules that ran, in the order they finished.
  std::vector<std::pair<int64_t, std::string>> ran;
  for (const LayerInfo& info : model.layers())
    if (owners.count(info.path) && info.calls > 0) ran.emplace_back(info.completed_at, info.path);
  std::sort(ran.begin(), ran.end());
  std::vector<std::string> stages;
  try {
    stages = model.stage_layers();
  } catch (const Error& e) {
    if (e.code() != ExitCode::layer) throw;
    // No spatial stages (an MLP): every parametrised module is a stage of its own.
  }

  std::vector<RandomisationStage> forward;  // input side first
  std::string open_group;                   // the stage the last module went to ("" = outside stages)
  for (const auto& [order, path] : ran) {
    auto stage = std::find_if(stages.begin(), stages.end(), [&](const std::string& s) { return inside(path, s); });
    const std::string group = stage != stages.end() ? *stage : "";
    const bool extends = !forward.empty() && group == open_group && (!group.empty() || !stages.empty());
    if (!extends) {
      forward.push_back({group.empty() ? path : group, {}});
    } else if (group.empty()) {
      forward.back().name += "+" + path;
    }
    forward.back().modules.push_back(path);
    open_group = group;
  }
  if (forward.empty()) throw layer_error(impl.path + ": no parametrised submodule runs in a forward pass");
  if (impl.module.named_parameters(false).size() > 0) forward.front().modules.push_back("");
  std::reverse(forward.begin(), forward.end());
  return forward;
}

Model randomised_copy(Model& model, const std::vector<std::string>& modules, uint64_t seed) {
  Model::Impl& source = model.impl();
  auto impl = std::make_unique<Model::Impl>();
  impl->path = source.path;
  impl->sha256 = source.sha256;
  impl->device_name = source.device_name;
  impl->device = source.device;
  impl->card = source.card;
  impl->inference_clone = source.inference_clone;
  impl->requested_precision = source.requested_precision;
  impl->module = source.module.clone(/*inplace=*/false);  // deep: its own parameter tensors
  impl->module.eval();

  std::map<std::string, torch::jit::Module> by_path;
  for (const auto& item : impl->module.named_modules()) by_path.emplace(item.name, item.value);
  torch::NoGradGuard no_grad;
  std::set<std::string> chosen;  // each module once, also when a container and its parts are both named
  for (const auto& path : modules) {
    if (!by_path.count(path)) throw layer_error(source.path + ": no module '" + path + "' to randomise");
    if (path.empty()) {
      chosen.insert(path);  // the model's own parameters only
      continue;
    }
    for (const auto& [name, module] : by_path)
      if (!name.empty() && inside(name, path)) chosen.insert(name);
  }
  for (const auto& name : chosen) reinitialise(by_path.at(name), name, seed);
  return Model::from_impl(std::move(impl));
}

}  // namespace xai
