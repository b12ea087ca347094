// The staged capture (model/staged_capture.hpp): a pass that captures one layer, cut at that layer, the
// layers before it on the inference clone's kernels. Its maps, scores and call counts equal the capture
// clone's (the module as loaded, instrumented; held to eager PyTorch by the reference and parity tests) on
// the committed models, scripted and traced, at the default layer, an inner layer and a layer called
// twice; values read across the cut are carried; a layer inside a loop stays on the capture clone and
// the report says why.
#include <gtest/gtest.h>

#include <torch/script.h>

#include <filesystem>
#include <fstream>

#include "methods/cam.hpp"
#include "model/torch_model.hpp"
#include "test_helpers.hpp"
#include "xai/model.hpp"

namespace xai {
namespace {

namespace fs = std::filesystem;

Model load(const std::string& path, bool staged) {
  ModelOptions options;
  options.staged_capture = staged;
  return Model::load(path, options);
}

std::vector<InputBlob> blobs(const ModelCard& card, int count, unsigned seed) {
  std::vector<InputBlob> batch;
  for (int i = 0; i < count; ++i)
    batch.push_back(test::random_blob(card.channel_count(), card.input_height, card.input_width, seed + i));
  return batch;
}

void expect_same_explanations(const std::vector<CamExplanation>& expected, const std::vector<CamExplanation>& got) {
  ASSERT_EQ(expected.size(), got.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_EQ(expected[i].prediction.logits.size(), got[i].prediction.logits.size());
    for (size_t c = 0; c < expected[i].prediction.logits.size(); ++c)
      EXPECT_NEAR(expected[i].prediction.logits[c], got[i].prediction.logits[c], 1e-4);
    ASSERT_EQ(expected[i].targets.size(), got[i].targets.size());
    for (size_t t = 0; t < expected[i].targets.size(); ++t) {
      EXPECT_NEAR(expected[i].targets[t].score, got[i].targets[t].score, 1e-4);
      ASSERT_EQ(expected[i].targets[t].maps.size(), got[i].targets[t].maps.size());
      for (size_t l = 0; l < expected[i].targets[t].maps.size(); ++l) {
        const LayerMap& a = expected[i].targets[t].maps[l];
        const LayerMap& b = got[i].targets[t].maps[l];
        EXPECT_EQ(a.calls, b.calls);
        ASSERT_EQ(a.map.size(), b.map.size());
        EXPECT_LE(cv::norm(a.map, b.map, cv::NORM_INF), 1e-4) << "image " << i << ", target " << t;
        EXPECT_NEAR(a.raw_max, b.raw_max, 1e-4 * std::max(1.0, std::abs(a.raw_max)));
      }
    }
  }
}

struct Case {
  std::string model, layer;  // "" : the card's layer
};

// Single images and batches (each kind its own staged capture), with every CAM family (gradients,
// activations only, and Ablation-CAM, which replays the captured call on the capture clone). On these small
// models float32 rounding in another order stays far below the tolerance (README, Speed: the staged
// capture, for deep random-weight networks).
TEST(StagedCapture, SameMapsAsTheCaptureCloneOnCommittedModels) {
  for (const Case& c : std::vector<Case>{{"demo-histo.pt", ""},
                                         {"tiny-scripted.pt", ""},
                                         {"tiny-traced.pt", ""},
                                         {"tiny-scripted.pt", "layer1.1.relu"},  // called twice
                                         {"tiny-traced.pt", "layer1.1.relu"},
                                         {"tiny-traced.pt", "layer2.0.bn2"},  // inside a block, before its skip
                                         {"tiny-binary-traced.pt", ""}}) {
    for (const std::string method : {"gradcam", "gradcam++", "eigencam", "ablationcam"}) {
      SCOPED_TRACE(c.model + " " + c.layer + " " + method);
      Model plain = load(test::model_path(c.model), false), staged = load(test::model_path(c.model), true);
      CamRequest request;
      request.method = method;
      if (!c.layer.empty()) request.layers = {c.layer};
      for (const int images : {1, 3, 1}) {
        const auto batch = blobs(plain.card(), images, 11 * images);
        const auto expected = explain_cam(plain, batch, request), got = explain_cam(staged, batch, request);
        expect_same_explanations(expected, got);
        EXPECT_EQ(expected.front().capture, "module as loaded");
        EXPECT_EQ(got.front().capture, "staged");
      }
      const std::string layer = c.layer.empty() ? staged.default_layer() : c.layer;
      EXPECT_EQ(staged.gradient_passes(),
                layer + " (single images): staged (the layers before it on the inference clone); " + layer +
                    " (batches): staged (the layers before it on the inference clone)");
      EXPECT_EQ(plain.gradient_passes(), "");
    }
  }
}

// The layers before the cut run without gradients on laid-out convolutions; the rest is not in the prefix.
TEST(StagedCapture, ThePrefixRunsTheLayersBeforeTheCutOnTheInferenceKernels) {
  Model model = load(test::model_path("tiny-scripted.pt"), true);
  const torch::Tensor example = torch::zeros({1, 3, 64, 64});
  StagedCapture early(model.impl().module, "layer1", example, CloneBatch::single_image);
  StagedCapture late(model.impl().module, "layer2", example, CloneBatch::batched);
  EXPECT_GT(early.laid_out_convolutions(), 0);
  EXPECT_GT(late.laid_out_convolutions(), early.laid_out_convolutions());
  const StagedCapture::Prefix p = early.run_prefix(example);
  EXPECT_FALSE(p.activation.requires_grad());
  EXPECT_EQ(p.activation.sizes(), (std::vector<int64_t>{1, 16, 32, 32}));
}

// A model written here in TorchScript, saved with a card so that Model::load reads it.
std::string save_model(torch::jit::Module& m, const std::string& name) {
  const fs::path dir = fs::path(XAI_BUILD_DIR) / "staged-capture-models";
  fs::create_directories(dir);
  const fs::path path = dir / (name + ".pt");
  m.save(path.string());
  std::ofstream(dir / (name + ".json")) << R"({"input_size": [12, 12], "labels": ["a", "b", "c"], "target_layer": "block"})";
  return path.string();
}

torch::jit::Module convolution(const std::string& name, int in, int out, int seed) {
  torch::manual_seed(seed);
  torch::jit::Module m("__torch__." + name);
  m.register_parameter("weight", torch::randn({out, in, 3, 3}) * 0.3, false);
  m.define(R"(
def forward(self, x):
    return torch.conv2d(x, self.weight, None, [1, 1], [1, 1])
)");
  return m;
}

torch::jit::Module model_with(const std::string& name, const std::string& forward) {
  torch::jit::Module m("__torch__." + name);
  m.register_module("stem", convolution(name + "Stem", 3, 4, 1));
  m.register_module("block", convolution(name + "Block", 4, 4, 2));
  torch::manual_seed(3);
  m.register_parameter("head", torch::randn({4, 3}), false);
  m.define(forward);
  return m;
}

// The stem's output is read after the cut (a skip connection around the captured block, added in place
// to the block's output): it travels from the prefix to the suffix, and the recorded activation is the
// block's output, not the sum. The second model also reads its input after the cut.
TEST(StagedCapture, ValuesReadAcrossTheCutAreCarried) {
  for (const auto& [name, carried, forward] : std::vector<std::tuple<std::string, size_t, std::string>>{
           {"Skip", 1, R"(
def forward(self, x):
    y = torch.relu(self.stem.forward(x))
    z = self.block.forward(y)
    z += y
    return torch.mm(torch.relu(z).mean([2, 3]), self.head)
)"},
           {"SkipInput", 2, R"(
def forward(self, x):
    y = torch.relu(self.stem.forward(x))
    z = self.block.forward(y)
    z += y
    return torch.mm(torch.relu(z).mean([2, 3]), self.head) + x.mean([1, 2, 3]).unsqueeze(1)
)"}}) {
  SCOPED_TRACE(name);
  torch::jit::Module m = model_with(name, forward);
  const std::string path = save_model(m, name);
  Model staged = load(path, true), plain = load(path, false);
  StagedCapture cut(staged.impl().module, "block", torch::zeros({1, 3, 12, 12}), CloneBatch::single_image);
  EXPECT_EQ(cut.carried_values(), carried);
  EXPECT_EQ(cut.calls(), 1);
  for (const std::string method : {"gradcam", "hirescam"}) {
    CamRequest request;
    request.method = method;
    for (int pass = 0; pass < 2; ++pass) {
      const auto batch = blobs(plain.card(), 1, 5 + pass);
      expect_same_explanations(explain_cam(plain, batch, request), explain_cam(staged, batch, request));
    }
  }
  EXPECT_NE(staged.gradient_passes().find("staged"), std::string::npos) << staged.gradient_passes();
  }
}

// A loop whose count comes from the input stays a loop in the frozen graph (a constant count is unrolled,
// and its last call cut at): a layer called inside it cannot be cut at its last call, so its passes stay on
// the capture clone and the report says why.
TEST(StagedCapture, ALayerInsideALoopStaysOnTheCaptureClone) {
  torch::jit::Module m = model_with("Loop", R"(
def forward(self, x):
    y = torch.relu(self.stem.forward(x))
    for _ in range(x.size(1) - 1):
        y = torch.relu(self.block.forward(y))
    return torch.mm(y.mean([2, 3]), self.head)
)");
  const std::string path = save_model(m, "loop");
  Model staged = load(path, true), plain = load(path, false);
  EXPECT_THROW(StagedCapture(staged.impl().module, "block", torch::zeros({1, 3, 12, 12}), CloneBatch::single_image),
               std::runtime_error);
  CamRequest request;
  for (int pass = 0; pass < 2; ++pass) {
    const auto batch = blobs(plain.card(), 1, 9 + pass);
    const auto got = explain_cam(staged, batch, request);
    expect_same_explanations(explain_cam(plain, batch, request), got);
    EXPECT_EQ(got.front().capture, "module as loaded");
  }
  EXPECT_EQ(staged.gradient_passes(),
            "block (single images): the module as loaded (staging refused: cannot cut the model there: the layer "
            "runs inside a loop or branch of the frozen graph)");
}

}  // namespace
}  // namespace xai
