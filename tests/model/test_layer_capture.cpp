// Layer capture by graph surgery on the committed tiny models (scripted and traced).
#include <gtest/gtest.h>

#include "model/layer_capture.hpp"
#include "test_helpers.hpp"
#include "model/torch_model.hpp"
#include "methods/cam.hpp"
#include "xai/error.hpp"
#include "xai/model.hpp"

namespace xai {
namespace {

using test::model_path;

class CaptureOnBothExports : public ::testing::TestWithParam<std::string> {};

TEST_P(CaptureOnBothExports, SiblingsSharingATypeStaySilent) {
  // layer1.0 and layer1.1 are the same Python class: scripted, they share one ClassType whose
  // graph gets edited once. Only the requested instance may record (2 calls of its ReLU, not 4).
  Model model = Model::load(model_path(GetParam()));
  CaptureModel capture(model.impl().module, {"layer1.1.relu"});
  CaptureSession session = capture.make_session(CaptureSession::Mode::observe);
  {
    c10::InferenceMode guard;
    ActiveCapture active(session);
    capture.module().forward({torch::zeros({1, 3, 64, 64})});
  }
  EXPECT_EQ(session.call_count[0], 2);
  EXPECT_EQ(session.activations[0].sizes(), (std::vector<int64_t>{1, 16, 32, 32}));
}

TEST_P(CaptureOnBothExports, OriginalModuleIsUntouched) {
  Model model = Model::load(model_path(GetParam()));
  CaptureModel capture(model.impl().module, {"layer1.0", "layer2.0.relu", "head"});
  auto contains_capture = [](const torch::jit::Module& m) {
    for (const auto& sub : m.modules())
      for (auto* method : sub.type()->methods())
        if (torch::jit::toGraphFunction(*method).graph()->toString().find("xai::capture") != std::string::npos)
          return true;
    return false;
  };
  EXPECT_FALSE(contains_capture(model.impl().module));
  EXPECT_TRUE(contains_capture(capture.module()));
}

TEST_P(CaptureOnBothExports, CaptureDoesNotChangeTheOutput) {
  Model model = Model::load(model_path(GetParam()));
  const InputBlob blob = test::random_blob(3, 64, 64, 7);
  const auto plain = model.predict({blob}).front();
  CamRequest request;
  request.layers = {"layer1", "layer2.0.bn2"};
  const auto explained = explain_cam(model, {blob}, request).front();
  for (size_t i = 0; i < plain.logits.size(); ++i) EXPECT_NEAR(plain.logits[i], explained.prediction.logits[i], 1e-5);
}

TEST_P(CaptureOnBothExports, UnknownLayerListsCloseMatches) {
  Model model = Model::load(model_path(GetParam()));
  CamRequest request;
  request.layers = {"layer9"};
  try {
    explain_cam(model, {test::random_blob(3, 64, 64, 1)}, request);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::layer);
    const std::string message = e.what();
    EXPECT_NE(message.find("no layer 'layer9'"), std::string::npos) << message;
    EXPECT_NE(message.find("layer1"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos);
  }
}

INSTANTIATE_TEST_SUITE_P(Tiny, CaptureOnBothExports, ::testing::Values("tiny-scripted.pt", "tiny-traced.pt"),
                         [](const auto& info) { return info.param.find("traced") != std::string::npos ? "traced" : "scripted"; });

TEST(LayerCapture, TracedPassThroughIsRefusedClearly) {
  Model model = Model::load(test::data_path("passthrough-traced.pt"), {});
  model.mutable_card().input_height = model.mutable_card().input_width = 16;
  CamRequest request;
  request.layers = {"skip"};
  try {
    explain_cam(model, {test::random_blob(3, 16, 16, 1)}, request);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::layer);
    EXPECT_NE(std::string(e.what()).find("pass-through"), std::string::npos) << e.what();
  }
  request.layers = {"conv"};  // its producer works
  EXPECT_NO_THROW(explain_cam(model, {test::random_blob(3, 16, 16, 1)}, request));
}

TEST(LayerCapture, FrozenModelHasNoLayersButStillPredicts) {
  Model model = Model::load(test::data_path("frozen-scripted.pt"), {});
  model.mutable_card().input_height = model.mutable_card().input_width = 16;
  EXPECT_TRUE(model.layers().empty());
  EXPECT_EQ(model.predict({test::random_blob(3, 16, 16, 1)}).front().probabilities.size(), 2u);
  try {
    model.default_layer();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::layer);
    EXPECT_NE(std::string(e.what()).find("frozen"), std::string::npos) << e.what();
  }
}

TEST(LayerCapture, ForwardMethodNamesOfTracedReCalls) {
  // A traced module that runs twice gets forward and forward1; both are instrumented.
  Model model = Model::load(model_path("tiny-traced.pt"));
  CaptureModel capture(model.impl().module, {"layer1.0.relu"});
  EXPECT_EQ(capture.layers()[0].methods, (std::vector<std::string>{"forward", "forward1"}));
}

}  // namespace
}  // namespace xai
