// The CAM engine against closed forms: at a layer followed only by ReLU-free global average
// pooling and a linear classifier, Grad-CAM equals the original CAM, ReLU(Σ_c w_tc A_c).
#include <gtest/gtest.h>

#include "model/layer_capture.hpp"
#include "test_helpers.hpp"
#include "model/torch_model.hpp"
#include "methods/cam.hpp"
#include "methods/cam_methods.hpp"

namespace xai {
namespace {

// The activation of `head` (then pool → flatten → fc) for one input.
torch::Tensor head_activation(Model& model, const InputBlob& blob) {
  CaptureModel capture(model.impl().module, {"head"});
  CaptureSession session = capture.make_session(CaptureSession::Mode::gradient);
  torch::NoGradGuard no_grad;
  ActiveCapture active(session);
  capture.module().forward({model.impl().to_tensor({blob})});
  return session.activations[0][0];  // [C,h,w]
}

cv::Mat normalised(torch::Tensor cam) {
  cam = torch::relu(cam).contiguous();
  cv::Mat m(static_cast<int>(cam.size(0)), static_cast<int>(cam.size(1)), CV_32FC1, cam.data_ptr<float>());
  double lo, hi;
  cv::minMaxLoc(m, &lo, &hi);
  cv::Mat out;
  m.convertTo(out, CV_32FC1, 1.0 / (hi - lo), -lo / (hi - lo));
  return out;
}

TEST(Cam, GradCamEqualsClosedFormCamBeforePoolingAndLinear) {
  Model model = Model::load(test::model_path("tiny-scripted.pt"));
  const InputBlob blob = test::random_blob(3, 64, 64, 11);
  const torch::Tensor a = head_activation(model, blob);
  const torch::Tensor w = model.impl().module.attr("fc").toModule().attr("weight").toTensor();  // [3, C]
  for (int cls = 0; cls < 3; ++cls) {
    CamRequest request;
    request.layers = {"head"};
    request.target.kind = TargetSpec::Kind::given;
    request.target.class_index = cls;
    const cv::Mat map = explain_cam(model, {blob}, request).front().targets.front().maps.front().map;
    const cv::Mat expected = normalised((w[cls].view({-1, 1, 1}) * a).sum(0));
    EXPECT_LE(cv::norm(map, expected, cv::NORM_INF), 1e-5) << "class " << cls;
  }
}

TEST(Cam, BinarySingleLogitNegativeClassUsesTheNegatedLogit) {
  Model model = Model::load(test::model_path("tiny-binary-scripted.pt"));
  const InputBlob blob = test::random_blob(1, 64, 64, 5);
  const torch::Tensor a = head_activation(model, blob);
  const torch::Tensor w = model.impl().module.attr("fc").toModule().attr("weight").toTensor()[0];  // [C]
  const torch::Tensor s = (w.view({-1, 1, 1}) * a).sum(0);
  for (int cls = 0; cls < 2; ++cls) {
    CamRequest request;
    request.layers = {"head"};
    request.target.kind = TargetSpec::Kind::given;
    request.target.class_index = cls;
    const auto explained = explain_cam(model, {blob}, request).front();
    const cv::Mat expected = normalised(cls == 1 ? s : -s);
    EXPECT_LE(cv::norm(explained.targets.front().maps.front().map, expected, cv::NORM_INF), 1e-5) << cls;
    const float logit = explained.prediction.logits[0];
    EXPECT_FLOAT_EQ(explained.targets.front().score, cls == 1 ? logit : -logit);
    EXPECT_NEAR(explained.prediction.probabilities[1], 1.0 / (1.0 + std::exp(-logit)), 1e-6);
  }
}

TEST(Cam, BatchGivesEachImageItsOwnMap) {
  Model model = Model::load(test::model_path("tiny-traced.pt"));
  std::vector<InputBlob> batch = {test::random_blob(3, 64, 64, 1), test::random_blob(3, 64, 64, 2),
                                  test::random_blob(3, 64, 64, 3)};
  // EigenCAM decomposes every image of the batch at once (and picks each image's sign): still its own.
  for (const std::string method : {"gradcam", "eigencam"}) {
    CamRequest request;
    request.method = method;
    request.layers = {"layer2"};
    const auto together = explain_cam(model, batch, request);
    for (size_t i = 0; i < batch.size(); ++i) {
      const auto alone = explain_cam(model, {batch[i]}, request).front();
      EXPECT_EQ(together[i].prediction.predicted, alone.prediction.predicted);
      EXPECT_LE(cv::norm(together[i].targets[0].maps[0].map, alone.targets[0].maps[0].map, cv::NORM_INF), 1e-5)
          << method << " image " << i;
    }
  }
}

// The probe batch only groups passes: Score-CAM and Ablation-CAM maps are the same for one probe
// per pass, an odd batch that leaves a remainder, and the automatic choice.
TEST(Cam, ProbeBatchSizeDoesNotChangeTheMap) {
  Model model = Model::load(test::model_path("tiny-scripted.pt"));
  const std::vector<InputBlob> batch = {test::random_blob(3, 64, 64, 4), test::random_blob(3, 64, 64, 5)};
  for (const std::string method : {"scorecam", "ablationcam"})
    for (const std::string layer : {"layer1.0.bn2", "head"}) {
      CamRequest request;
      request.method = method;
      request.layers = {layer};
      request.batch_size = 1;
      const auto one = explain_cam(model, batch, request);
      for (const int size : {5, 0}) {
        request.batch_size = size;
        const auto other = explain_cam(model, batch, request);
        for (size_t i = 0; i < batch.size(); ++i)
          EXPECT_LE(cv::norm(one[i].targets[0].maps[0].map, other[i].targets[0].maps[0].map, cv::NORM_INF), 1e-5)
              << method << " " << layer << " batch " << size;
      }
    }
}

// Without a given size, a probing method's batches are the tuner's: a size that does not fit (here a
// device that holds 4 probes) is dropped and its channels weighed again smaller, so the map is the
// closed form Σ_k w_k A_k with every channel weighed once, as with a fixed batch.
TEST(Cam, TunedProbeBatchesThatDoNotFitAreWeighedAgainSmaller) {
  torch::manual_seed(3);
  const torch::Tensor activation = torch::rand({2, 23, 3, 3});
  const torch::Tensor no_gradient;
  std::vector<int64_t> passes;
  auto map_with = [&](BatchTuner* tuner, int batch) {
    CamProbe probe;
    probe.batch_size = batch;
    probe.tuner = tuner;
    return probe_weighted_map(CamInputs{activation, no_gradient, probe}, [&](int64_t i, int64_t first, int64_t count) {
      passes.push_back(count);
      if (count > 4) throw DeviceMemoryError("out of memory");
      return torch::arange(first, first + count, torch::kFloat) * static_cast<float>(i + 1) + 0.5f;
    });
  };
  const torch::Tensor k = torch::arange(23, torch::kFloat);
  const torch::Tensor expected = torch::stack({((k + 0.5f).view({-1, 1, 1}) * activation[0]).sum(0),
                                               ((2 * k + 0.5f).view({-1, 1, 1}) * activation[1]).sum(0)});
  BatchTuner tuner({2, 4, 8}, 1);
  const torch::Tensor tuned = map_with(&tuner, 0);
  EXPECT_LE((tuned - expected).abs().max().item<float>(), 1e-5);
  EXPECT_NE(std::find(passes.begin(), passes.end(), 8), passes.end()) << "8 was tried";
  EXPECT_TRUE(tuner.chosen() == 2 || tuner.chosen() == 4) << tuner.chosen();
  EXPECT_TRUE(torch::equal(tuned, map_with(nullptr, 3))) << "the same weights as a fixed batch";
  // A size the caller gave is the caller's: the error is reported, not worked around.
  EXPECT_THROW(map_with(nullptr, 8), DeviceMemoryError);
}

// Score-CAM's probes are the model's forward-only passes, so the model's tuner measures them (and the
// perturbation methods then start from its choice); Ablation-CAM's are sized by their activations.
TEST(Cam, ScoreCamProbesAreSizedByTheModelsTuner) {
  const std::vector<InputBlob> batch = {test::random_blob(3, 64, 64, 4)};
  auto measured = [](const BatchTuner& tuner) {
    int sizes = 0;
    for (double ms : tuner.per_image_ms()) sizes += ms > 0;
    return sizes;
  };
  for (const std::string method : {"scorecam", "ablationcam"}) {
    Model model = Model::load(test::model_path("tiny-scripted.pt"));
    CamRequest request;
    request.method = method;
    request.layers = {"layer1"};
    explain_cam(model, batch, request);
    if (method == "scorecam")
      EXPECT_GT(measured(model.batch_tuner()), 1);
    else
      EXPECT_EQ(measured(model.batch_tuner()), 0);
    // A given size is used as given, and not measured.
    Model given = Model::load(test::model_path("tiny-scripted.pt"));
    request.batch_size = 8;
    explain_cam(given, batch, request);
    EXPECT_EQ(measured(given.batch_tuner()), 0) << method;
  }
}

TEST(Cam, TopKExplainsClassesInProbabilityOrder) {
  Model model = Model::load(test::model_path("tiny-scripted.pt"));
  CamRequest request;
  request.target.kind = TargetSpec::Kind::top_k;
  request.target.k = 3;
  const auto result = explain_cam(model, {test::random_blob(3, 64, 64, 9)}, request).front();
  ASSERT_EQ(result.targets.size(), 3u);
  EXPECT_EQ(result.targets[0].class_index, result.prediction.predicted);
  for (size_t r = 1; r < 3; ++r)
    EXPECT_GE(result.prediction.probabilities[result.targets[r - 1].class_index],
              result.prediction.probabilities[result.targets[r].class_index]);
  for (const auto& t : result.targets) {
    double lo, hi;
    cv::minMaxLoc(t.maps[0].map, &lo, &hi);
    EXPECT_GE(lo, 0.0);
    EXPECT_LE(hi, 1.0);
  }
}

TEST(Cam, UpsamplingUsesHalfPixelCentres) {
  const cv::Mat map = (cv::Mat_<float>(2, 2) << 0, 1, 2, 3);
  const cv::Mat up = upsample_map(map, 4, 4);
  // Output x maps to input (x + 0.5) / 2 - 0.5, clamped at the border.
  const float row0[] = {0.0f, 0.25f, 0.75f, 1.0f};
  for (int x = 0; x < 4; ++x) EXPECT_NEAR(up.at<float>(0, x), row0[x], 1e-6);
  // Interior point (1,1): input (0.25, 0.25): bilinear of 0,1,2,3.
  EXPECT_NEAR(up.at<float>(1, 1), 0.75f * 0.75f * 0 + 0.75f * 0.25f * 1 + 0.25f * 0.75f * 2 + 0.25f * 0.25f * 3, 1e-6);
}

}  // namespace
}  // namespace xai
