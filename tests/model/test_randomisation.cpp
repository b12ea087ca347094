// Cascading randomisation: the stages of known architectures, and copies that change exactly the
// chosen modules, by PyTorch's reset_parameters rules, the same way every time.
#include "model/randomisation.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "model/torch_model.hpp"
#include "test_helpers.hpp"
#include "xai/error.hpp"

namespace xai {
namespace {

std::map<std::string, torch::Tensor> state_of(Model& model) {
  std::map<std::string, torch::Tensor> state;
  for (const auto& p : model.impl().module.named_parameters(true)) state[p.name] = p.value.detach().clone();
  for (const auto& b : model.impl().module.named_buffers(true)) state[b.name] = b.value.detach().clone();
  return state;
}

bool under(const std::string& name, const std::vector<std::string>& modules) {
  for (const auto& m : modules)
    if (name.rfind(m + ".", 0) == 0) return true;
  return false;
}

TEST(Randomisation, CascadeRunsFromTheHeadToTheStem) {
  Model demo = Model::load(test::model_path("demo-histo.pt"));
  std::vector<std::string> names;
  for (const auto& stage : randomisation_cascade(demo)) names.push_back(stage.name);
  // DemoHistoNet (scripts/train_demo.py): stem → layer1 → layer2 → layer3 → pool → fc.
  EXPECT_EQ(names, (std::vector<std::string>{"fc", "layer3", "layer2", "layer1", "stem"}));

  // The tiny test model: stem → layer1 → layer2 → dropout → head (a conv) → pool → fc.
  Model tiny = Model::load(test::model_path("tiny-scripted.pt"));
  const auto cascade = randomisation_cascade(tiny);
  names.clear();
  std::set<std::string> covered;
  for (const auto& stage : cascade) {
    names.push_back(stage.name);
    covered.insert(stage.modules.begin(), stage.modules.end());
  }
  EXPECT_EQ(names, (std::vector<std::string>{"fc", "head", "layer2", "layer1", "stem"}));
  // Every parameter of the model belongs to a stage: full randomisation leaves nothing trained.
  for (const auto& [name, value] : state_of(tiny)) {
    const std::string owner = name.substr(0, name.rfind('.'));
    EXPECT_TRUE(covered.count(owner)) << name;
  }
}

TEST(Randomisation, CopyChangesTheChosenModulesOnlyAndNeverTheModel) {
  Model model = Model::load(test::model_path("tiny-scripted.pt"));
  const auto before = state_of(model);
  const std::vector<std::string> chosen = {"fc", "layer2"};
  Model copy = randomised_copy(model, chosen, 3);
  const auto after = state_of(copy);
  ASSERT_EQ(before.size(), after.size());
  size_t changed = 0;
  for (const auto& [name, value] : before) {
    SCOPED_TRACE(name);
    const bool is_changed = !torch::equal(value, after.at(name));
    changed += is_changed;
    if (!under(name, chosen)) {
      EXPECT_FALSE(is_changed);
    } else if (!is_changed) {
      // Only what was already at its reset value (an untrained norm layer: 0 or 1) or is a counter stays.
      const bool at_reset = torch::all(value == 0).item<bool>() || torch::all(value == 1).item<bool>();
      EXPECT_TRUE(at_reset || name.find("num_batches_tracked") != std::string::npos);
    }
  }
  EXPECT_GT(changed, 8u);
  for (const auto& [name, value] : state_of(model)) EXPECT_TRUE(torch::equal(value, before.at(name))) << name;

  const InputBlob blob = test::random_blob(3, 64, 64, 1);
  EXPECT_NE(model.predict({blob}).front().probabilities, copy.predict({blob}).front().probabilities);
}

TEST(Randomisation, ValuesFollowResetParametersAndDependOnTheSeedAndNameOnly) {
  Model model = Model::load(test::model_path("demo-histo.pt"));
  Model head = randomised_copy(model, {"fc"}, 11);
  Model deeper = randomised_copy(model, {"fc", "layer3"}, 11);
  Model other_seed = randomised_copy(model, {"fc"}, 12);
  const auto a = state_of(head), b = state_of(deeper), c = state_of(other_seed);
  EXPECT_TRUE(torch::equal(a.at("fc.weight"), b.at("fc.weight"))) << "the cascade's steps are cumulative";
  EXPECT_FALSE(torch::equal(a.at("fc.weight"), c.at("fc.weight")));

  // fc: 128 inputs, U(−1/√128, 1/√128) for weight and bias (standard deviation bound/√3).
  const torch::Tensor w = b.at("fc.weight").to(torch::kDouble);
  const double bound = 1.0 / std::sqrt(128.0);
  EXPECT_LE(w.abs().max().item<double>(), bound);
  EXPECT_NEAR(w.std().item<double>(), bound / std::sqrt(3.0), 0.15 * bound / std::sqrt(3.0));
  EXPECT_LE(b.at("fc.bias").abs().max().item<double>(), bound);
  // A 3×3 convolution in layer3: fan_in = in_channels · 9.
  for (const auto& [name, value] : b) {
    if (name.rfind("layer3.", 0) != 0) continue;
    if (name.find("conv") != std::string::npos && value.dim() == 4) {
      const double conv_bound = 1.0 / std::sqrt(static_cast<double>(value.size(1) * value.size(2) * value.size(3)));
      EXPECT_LE(value.abs().max().item<double>(), conv_bound) << name;
      EXPECT_GT(value.abs().max().item<double>(), 0.9 * conv_bound) << name;
    }
    // Batch norms become the identity: weight 1, bias 0, running mean 0, running variance 1.
    const auto ends_with = [&](const std::string& suffix) {
      return name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    if (name.find("bn") == std::string::npos && name.find("downsample.1") == std::string::npos) continue;
    if (ends_with(".weight") || ends_with(".running_var")) EXPECT_TRUE(torch::all(value == 1).item<bool>()) << name;
    if (ends_with(".bias") || ends_with(".running_mean")) EXPECT_TRUE(torch::all(value == 0).item<bool>()) << name;
  }
}

TEST(Randomisation, UnknownModuleIsALayerError) {
  Model model = Model::load(test::model_path("tiny-scripted.pt"));
  try {
    randomised_copy(model, {"fcc"}, 0);
    FAIL() << "expected a layer error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::layer);
    EXPECT_NE(std::string(e.what()).find("fcc"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace xai
