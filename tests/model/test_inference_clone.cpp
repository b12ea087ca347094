// The inference clone (frozen, convolution weights laid out once) used for forward-only passes: the same
// probabilities (batches and single images) and the same LIME weights as the module as loaded, on every
// committed model; the choice is reported, and a run that needs no forward-only pass never builds it. The low-precision
// copies (--precision bf16/fp16): used where their probabilities stay within the tolerance, refused where not.
#include <gtest/gtest.h>

#include <torch/script.h>

#include <opencv2/imgproc.hpp>
#include <random>

#include "test_helpers.hpp"
#include "xai/error.hpp"
#include "xai/explain.hpp"
#include "methods/lime.hpp"
#include "model/inference_clone.hpp"
#include "model/torch_model.hpp"
#include "xai/model.hpp"

namespace xai {
namespace {

std::vector<InputBlob> random_batch(const ModelCard& card, int count, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> value(-2.0f, 2.0f);
  std::vector<InputBlob> batch;
  for (int i = 0; i < count; ++i) {
    InputBlob b{card.channel_count(), card.input_height, card.input_width, {}};
    b.values.resize(static_cast<size_t>(b.channels) * b.height * b.width);
    for (auto& v : b.values) v = value(rng);
    batch.push_back(std::move(b));
  }
  return batch;
}

Model load(const std::string& path, bool clone) {
  ModelOptions options;
  options.inference_clone = clone;
  return Model::load(path, options);
}

TEST(InferenceClone, SameProbabilitiesOnEveryCommittedModel) {
  for (const std::string& path :
       {test::model_path("tiny-scripted.pt"), test::model_path("tiny-traced.pt"),
        test::model_path("tiny-binary-scripted.pt"), test::model_path("tiny-binary-traced.pt"),
        test::model_path("demo-histo.pt"), test::data_path("region-scripted.pt"), test::data_path("linear-scripted.pt"),
        test::data_path("frozen-scripted.pt")}) {
    SCOPED_TRACE(path);
    Model plain = load(path, false), optimised = load(path, true);
    for (const int images : {3, 1}) {  // a batch, then a single image (its own clone)
      const auto batch = random_batch(plain.card(), images, 5);
      const auto a = plain.predict(batch), b = optimised.predict(batch);
      EXPECT_EQ(plain.inference(), "plain");
      EXPECT_FALSE(optimised.inference().empty());
      if (path.find("frozen") == std::string::npos) EXPECT_EQ(optimised.inference(), "optimised");
      for (size_t i = 0; i < a.size(); ++i)
        for (size_t c = 0; c < a[i].probabilities.size(); ++c)
          EXPECT_NEAR(a[i].probabilities[c], b[i].probabilities[c], 1e-4);
    }
  }
}

// Counted independently of the rewrite: the convolutions LibTorch's freezing leaves in the graph.
int frozen_convolutions(const torch::jit::Module& module) {
  const torch::jit::Module frozen = torch::jit::freeze(module);
  int count = 0;
  for (const torch::jit::Node* node : frozen.get_method("forward").graph()->nodes())
    count += node->kind() == c10::aten::conv2d || node->kind() == c10::aten::_convolution;
  return count;
}

// Every convolution of a CNN runs with its weights laid out once (not re-ordered by oneDNN on every pass,
// as LibTorch 2.x's optimize_for_inference does), on a scripted (1.13) and a traced (2.x) file; a batch
// uses the batched clone, and the first single image builds one of its own.
TEST(InferenceClone, ConvolutionWeightsAreLaidOutOnceForBatchesAndForSingleImages) {
  for (const std::string& path : {test::model_path("demo-histo.pt"), test::model_path("tiny-traced.pt")}) {
    SCOPED_TRACE(path);
    Model model = load(path, true);
    const int convolutions = frozen_convolutions(model.impl().module);
    ASSERT_GT(convolutions, 0);
    model.predict(random_batch(model.card(), 4, 7));
    ASSERT_NE(model.impl().inference_module, nullptr);
    EXPECT_EQ(laid_out_convolutions(*model.impl().inference_module), convolutions);
    // Counted on the module as loaded: its convolutions' share of the weights (batch norms fold into them).
    double convolution_weights = 0, weights = 0;
    for (const auto& p : model.impl().module.parameters()) {
      weights += p.numel();
      if (p.dim() == 4) convolution_weights += p.numel();
    }
    EXPECT_NEAR(laid_out_weight_share(*model.impl().inference_module), convolution_weights / weights, 0.02);
    EXPECT_EQ(model.impl().single_image_module, nullptr) << "built before a single image needed it";
    model.predict(random_batch(model.card(), 1, 7));
    ASSERT_NE(model.impl().single_image_module, nullptr);
    EXPECT_EQ(laid_out_convolutions(*model.impl().single_image_module), convolutions);
  }
}

// A model whose weights are not convolutions' (a transformer's case, where only the patch embedding is one;
// here the linear test model) has none laid out for batches worth a clone: single images run on the batched
// clone, and no second copy of the weights is made.
TEST(InferenceClone, SingleImagesOfAModelWithoutConvolutionsRunOnTheBatchedClone) {
  const std::string path = test::data_path("linear-scripted.pt");
  Model model = load(path, true), plain = load(path, false);
  ASSERT_EQ(frozen_convolutions(model.impl().module), 0);
  const auto single = random_batch(model.card(), 1, 3);
  const auto got = model.predict(single), expected = plain.predict(single);
  ASSERT_NE(model.impl().inference_module, nullptr);
  EXPECT_EQ(model.impl().single_image_module, nullptr);
  EXPECT_EQ(&model.impl().forward_only_module(1), model.impl().inference_module.get());
  EXPECT_EQ(laid_out_weight_share(*model.impl().inference_module), 0.0);
  for (size_t c = 0; c < expected[0].probabilities.size(); ++c)
    EXPECT_NEAR(got[0].probabilities[c], expected[0].probabilities[c], 1e-6);
}

TEST(InferenceClone, SameLimeWeights) {
  Model plain = load(test::model_path("tiny-scripted.pt"), false);
  Model optimised = load(test::model_path("tiny-scripted.pt"), true);
  Image image;
  image.path = "noise";
  image.pixels = cv::Mat(64, 64, CV_32FC3);
  cv::randu(image.pixels, 0.0, 1.0);
  cv::GaussianBlur(image.pixels, image.pixels, cv::Size(0, 0), 4);  // structure for SLIC to follow
  LimeOptions options;
  options.samples = 200;
  options.superpixels.segments = 12;
  const LimeExplanation a = explain_lime(plain, image, options), b = explain_lime(optimised, image, options);
  ASSERT_EQ(a.classes.front().weights.size(), b.classes.front().weights.size());
  for (size_t s = 0; s < a.classes.front().weights.size(); ++s)
    EXPECT_NEAR(a.classes.front().weights[s], b.classes.front().weights[s], 1e-4);
  EXPECT_EQ(optimised.inference(), "optimised");
}

TEST(InferenceClone, GradientCamRunsNeverBuildIt) {
  Model model = load(test::model_path("tiny-scripted.pt"), true);
  ExplainOptions options;
  options.methods = {"gradcam"};
  ExplainPlan plan = plan_explanations(model, options);
  EXPECT_EQ(model.inference(), "");
  EXPECT_EQ(plan.model["inference"], "not used (no forward-only pass)");
  options.methods = {"gradcam", "occlusion"};
  plan = plan_explanations(model, options);
  EXPECT_EQ(plan.model["inference"], "optimised");
}

// The report's model.checks: a check that has not run says so; one that ran gives its number and tolerance.
// The batch-independence number is recomputed here on the same probe with the file loaded afresh.
TEST(InferenceClone, ReportsGiveWhatTheModelsChecksMeasured) {
  const std::string path = test::model_path("tiny-scripted.pt");
  Model model = load(path, true);
  ExplainOptions options;
  options.methods = {"gradcam"};
  ExplainPlan plan = plan_explanations(model, options);
  EXPECT_EQ(plan.model["checks"]["batch_independence"], "not run (no pass of two or more images)");
  EXPECT_EQ(plan.model["checks"]["inference_clone"], "not run (no inference clone built)");
  EXPECT_EQ(plan.model["checks"]["random_draws"], "none seen (every pass watched)");

  options.methods = {"gradcam", "occlusion"};
  plan = plan_explanations(model, options);
  const auto& checks = plan.model["checks"];
  ASSERT_TRUE(checks["inference_clone"].is_object()) << checks.dump();
  EXPECT_LE(checks["inference_clone"]["probability_difference"].get<double>(), 1e-4);
  EXPECT_EQ(checks["inference_clone"]["tolerance"].get<double>(), 1e-4);
  ASSERT_TRUE(checks["batch_independence"].is_object()) << checks.dump();
  EXPECT_EQ(checks["batch_independence"]["tolerance"].get<double>(), 1e-4);

  torch::jit::Module fresh = torch::jit::load(path);
  fresh.eval();
  c10::InferenceMode inference;
  const torch::Tensor pair = model.impl().probe();
  const auto probabilities = [&](const torch::Tensor& x) { return torch::softmax(fresh.forward({x}).toTensor(), 1); };
  const double expected = (probabilities(pair.narrow(0, 0, 1)) - probabilities(pair).narrow(0, 0, 1)).abs().max().item<double>();
  EXPECT_DOUBLE_EQ(checks["batch_independence"]["probability_difference"].get<double>(), expected);
}


// A parameter-free model whose scores hang on the input's mean, shifted to 100 where bf16 and fp16 steps
// are coarse (0.5 and 0.0625 apart; fp32's 7.6e-6): fp32 resolves the mean, the low precisions round it away.
std::string ill_conditioned_model(const test::TempDir& dir) {
  torch::jit::Module m("IllConditioned");
  m.define(R"(
def forward(self, x):
    score = (x.mean(dim=[1, 2, 3]) + 100.0 - 100.0) * 1000.0
    return torch.stack([score, -score], dim=1)
)");
  const std::string path = (dir.path / "ill-conditioned.pt").string();
  m.save(path);
  return path;
}

TEST(Precision, LowPrecisionIsUsedWhereItsProbabilitiesStayWithinTheToleranceAndRefusedElsewhere) {
  test::TempDir dir;
  const std::string sharp_path = ill_conditioned_model(dir);
  for (const std::string precision : {"bf16", "fp16"}) {
    SCOPED_TRACE(precision);
    ModelOptions options;
    options.precision = precision;
    // A committed model: its probabilities on inputs other than the probe stay within the tolerance,
    // and they are the low precision's own (not fp32's under another name).
    Model full = Model::load(test::model_path("tiny-scripted.pt"));
    Model low = Model::load(test::model_path("tiny-scripted.pt"), options);
    const auto batch = random_batch(full.card(), 6, 11);
    const auto a = full.predict(batch), b = low.predict(batch);
    EXPECT_EQ(low.precision(), precision);
    EXPECT_EQ(low.requested_precision(), precision);
    EXPECT_EQ(low.precision_note().rfind("probabilities within ", 0), 0u) << low.precision_note();
    double largest = 0;
    bool logits_differ = false;
    for (size_t i = 0; i < a.size(); ++i) {
      for (size_t c = 0; c < a[i].probabilities.size(); ++c)
        largest = std::max(largest, std::abs(static_cast<double>(a[i].probabilities[c]) - b[i].probabilities[c]));
      logits_differ = logits_differ || a[i].logits != b[i].logits;
    }
    EXPECT_TRUE(logits_differ) << "the low precision was not applied";
    EXPECT_LE(largest, kLowPrecisionTolerance);

    // The ill-conditioned model: refused, and its forward-only passes are fp32's exactly.
    Model sharp_full = Model::load(sharp_path);
    Model sharp_low = Model::load(sharp_path, options);
    sharp_low.prepare_inference();
    EXPECT_EQ(sharp_low.precision(), "fp32");
    EXPECT_EQ(sharp_low.precision_note().rfind(precision + " refused: its probabilities differed from fp32's by ", 0), 0u)
        << sharp_low.precision_note();
    const auto sharp_batch = random_batch(sharp_full.card(), 4, 3);
    const auto c = sharp_full.predict(sharp_batch), d = sharp_low.predict(sharp_batch);
    for (size_t i = 0; i < c.size(); ++i) EXPECT_EQ(c[i].logits, d[i].logits);
  }
  ModelOptions bad;
  bad.precision = "fp8";
  EXPECT_THROW(Model::load(test::model_path("tiny-scripted.pt"), bad), Error);
}

// The precision is part of the identity of the methods it applies to (reports, batch's resume key), and
// only of those.
TEST(Precision, PlansNameItForTheMethodsItAppliesTo) {
  ModelOptions low;
  low.precision = "bf16";
  Model model = Model::load(test::model_path("tiny-scripted.pt"), low);
  ExplainOptions options;
  options.methods = {"gradcam", "occlusion", "scorecam", "ablationcam"};
  const ExplainPlan plan = plan_explanations(model, options);
  EXPECT_FALSE(plan.parameters[0].contains("precision"));
  EXPECT_EQ(plan.parameters[1]["precision"], "bf16");
  EXPECT_EQ(plan.parameters[2]["precision"], "bf16");
  EXPECT_FALSE(plan.parameters[3].contains("precision")) << "Ablation-CAM's passes go through the captured layer";
  EXPECT_EQ(plan.model["precision"]["used"], "bf16");
}

}  // namespace
}  // namespace xai
