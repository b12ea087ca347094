// Deletion and insertion curves: closed forms on a fake classifier, and a naive torch reference on a
// real TorchScript model (tests/reference/faithfulness_reference.py).
#include "analysis/faithfulness.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "npy_reader.hpp"
#include "test_helpers.hpp"
#include "xai/error.hpp"
#include "xai/explain_options.hpp"
#include "xai/methods.hpp"
#include "xai/model.hpp"
#include "output/npy.hpp"
#include "xai/prepared_image.hpp"

namespace xai {
namespace {

TEST(Faithfulness, RanksFollowTheMapHighestFirst) {
  const cv::Mat map = (cv::Mat_<float>(1, 5) << 0.1f, 0.9f, -2.0f, 0.5f, 3.0f);
  EXPECT_EQ(removal_ranks(map, 0), (std::vector<int>{3, 1, 4, 2, 0}));
}

TEST(Faithfulness, TiesAreASeededShuffleNotARasterScan) {
  const cv::Mat flat = cv::Mat::zeros(8, 8, CV_32FC1);
  const std::vector<int> a = removal_ranks(flat, 1), b = removal_ranks(flat, 1), c = removal_ranks(flat, 2);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  std::vector<int> raster(64);
  std::iota(raster.begin(), raster.end(), 0);
  EXPECT_NE(a, raster);
  std::vector<int> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, raster) << "every pixel has one rank";
}

TEST(Faithfulness, StepsAndAreas) {
  EXPECT_EQ(pixels_at_step(0, 20, 4096), 0);
  EXPECT_EQ(pixels_at_step(20, 20, 4096), 4096);
  EXPECT_EQ(pixels_at_step(1, 3, 10), 3);   // 3.33
  EXPECT_EQ(pixels_at_step(2, 3, 10), 7);   // 6.67
  EXPECT_EQ(pixels_at_step(1, 4, 2), 1);    // 0.5 rounds up
  EXPECT_DOUBLE_EQ(curve_area({1.0, 0.0}), 0.5);
  EXPECT_DOUBLE_EQ(curve_area({1.0, 1.0, 1.0}), 1.0);
  EXPECT_DOUBLE_EQ(curve_area({0.0, 1.0, 0.0, 1.0}), 0.5);
}

// A fake model whose "probability" of class 1 is Σ w·x / Σ w over one channel (fill 0): after the
// first n pixels of an order are removed it is Σ over the others — known without any mask.
TEST(Faithfulness, CurvesOfALinearClassifierHaveTheirClosedForm) {
  const int h = 6, w = 7, pixels = h * w;
  cv::Mat weights(h, w, CV_32FC1), picture(h, w, CV_32FC1);
  cv::randu(weights, 0.0, 1.0);
  cv::randu(picture, 0.2, 1.0);
  const double total = cv::sum(weights)[0];
  const Classifier classify = [&](const ImageBatch& batch) {
    std::vector<double> out;
    for (int s = 0; s < batch.count; ++s) {
      double p = 0;
      for (int i = 0; i < pixels; ++i) p += weights.ptr<float>()[i] * batch.values[s * pixels + i];
      out.push_back(1.0 - p / total);
      out.push_back(p / total);
    }
    return out;
  };
  PerturbationBase base;
  base.original = {1, h, w, std::vector<float>(picture.ptr<float>(), picture.ptr<float>() + pixels)};
  base.fill = {1, h, w, std::vector<float>(pixels, 0.0f)};
  FaithfulnessOptions options;
  options.steps = 7;
  options.batch_size = 5;
  // The map is w · x: the exact contribution of each pixel, so deletion is the fastest possible.
  const cv::Mat contribution = weights.mul(picture);
  const Faithfulness f = measure_faithfulness(classify, base, contribution, 1, options);
  std::vector<int> order(pixels);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](int a, int b) { return contribution.ptr<float>()[a] > contribution.ptr<float>()[b]; });
  for (int k = 0; k <= options.steps; ++k) {
    const int n = pixels_at_step(k, options.steps, pixels);
    double removed = 0;
    for (int i = 0; i < n; ++i) removed += contribution.ptr<float>()[order[i]];
    const double whole = cv::sum(contribution)[0];
    EXPECT_NEAR(f.deletion.probabilities[k], (whole - removed) / total, 1e-6) << k;
    EXPECT_NEAR(f.insertion.probabilities[k], removed / total, 1e-6) << k;
  }
  EXPECT_LT(f.deletion.auc, f.random_deletion.auc);
  EXPECT_GT(f.insertion.auc, f.random_insertion.auc);
  // The inverted map is the slowest order: worse than random on both curves.
  const Faithfulness inverted = measure_faithfulness(classify, base, -contribution, 1, options);
  EXPECT_GT(inverted.deletion.auc, f.random_deletion.auc);
  EXPECT_LT(inverted.insertion.auc, f.random_insertion.auc);
  // Deletion of everything and insertion of nothing both leave only the fill.
  EXPECT_NEAR(f.deletion.probabilities.back(), 0.0, 1e-12);
  EXPECT_NEAR(f.insertion.probabilities.front(), 0.0, 1e-12);
  EXPECT_NEAR(f.random_deletion.probabilities.front(), f.deletion.probabilities.front(), 1e-12);
}

// The random order's curves serve every map of one image and class: a second map costs half the images
// and gets the same random curves, and its own curves are those it gets alone.
TEST(Faithfulness, SharedRandomCurvesHalveTheCostAndChangeNothing) {
  const int h = 5, w = 6, pixels = h * w;
  cv::Mat weights(h, w, CV_32FC1);
  cv::randu(weights, 0.0, 1.0);
  long long images = 0;
  const Classifier classify = [&](const ImageBatch& batch) {
    images += batch.count;
    std::vector<double> out;
    for (int s = 0; s < batch.count; ++s) {
      double p = 0;
      for (int i = 0; i < pixels; ++i) p += weights.ptr<float>()[i] * batch.values[s * pixels + i];
      out.push_back(1.0 - p / pixels);
      out.push_back(p / pixels);
    }
    return out;
  };
  PerturbationBase base;
  base.original = {1, h, w, std::vector<float>(pixels, 1.0f)};
  base.fill = {1, h, w, std::vector<float>(pixels, 0.0f)};
  FaithfulnessOptions options;
  options.steps = 6;
  cv::Mat first(h, w, CV_32FC1), second(h, w, CV_32FC1);
  cv::randu(first, 0.0, 1.0);
  cv::randu(second, 0.0, 1.0);
  const Faithfulness a = measure_faithfulness(classify, base, first, 1, options);
  EXPECT_EQ(images, 4 * 7);
  const Faithfulness alone = measure_faithfulness(classify, base, second, 1, options);
  images = 0;
  const RandomOrderCurves known{a.random_deletion, a.random_insertion};
  const Faithfulness shared = measure_faithfulness(classify, base, second, 1, options, nullptr, &known);
  EXPECT_EQ(images, 2 * 7);
  EXPECT_EQ(shared.deletion.probabilities, alone.deletion.probabilities);
  EXPECT_EQ(shared.insertion.probabilities, alone.insertion.probabilities);
  EXPECT_EQ(shared.random_deletion.probabilities, alone.random_deletion.probabilities);
  EXPECT_EQ(shared.random_insertion.auc, alone.random_insertion.auc);
}

TEST(Faithfulness, RefusesAMapOfAnotherSizeAndNoSteps) {
  PerturbationBase base;
  base.original = {1, 4, 4, std::vector<float>(16, 1.0f)};
  base.fill = {1, 4, 4, std::vector<float>(16, 0.0f)};
  const Classifier classify = [](const ImageBatch& b) { return std::vector<double>(2 * b.count, 0.5); };
  FaithfulnessOptions options;
  EXPECT_THROW(measure_faithfulness(classify, base, cv::Mat::zeros(3, 4, CV_32FC1), 0, options), Error);
  options.steps = 0;
  EXPECT_THROW(measure_faithfulness(classify, base, cv::Mat::zeros(4, 4, CV_32FC1), 0, options), Error);
}

// The real thing: the tiny TorchScript model, batches of 7, against one image per pass in torch.
TEST(Faithfulness, MatchesANaiveTorchReference) {
  Model model = Model::load(test::model_path("tiny-scripted.pt"));
  test::TempDir dir;
  const PreparedImage image = prepare_image(test::write_random_picture(dir, "patch.png"), model.card(), {});
  cv::Mat map(image.view.size(), CV_32FC1);
  for (int i = 0; i < static_cast<int>(map.total()); ++i) map.ptr<float>()[i] = static_cast<float>((i * 7919) % 4099);
  FaithfulnessOptions options;
  options.steps = 16;
  options.batch_size = 7;
  options.fill = {HideMode::constant, {0.3f}, 0};
  const PerturbationBase base =
      perturbation_base(image.view, cv::Mat::zeros(image.view.size(), CV_32SC1), 1, options.fill, model.card());
  const Faithfulness f = measure_faithfulness(model_classifier(model), base, map, 1, options);

  write_npy(dir.file("input.npy"), image.blob.values.data(), {3, 64, 64});
  write_npy(dir.file("map.npy"), map.ptr<float>(), {64, 64});
  nlohmann::json fill;
  for (int c = 0; c < 3; ++c) fill.push_back((0.3 - model.card().mean[c]) / model.card().std[c]);
  std::ofstream(dir.file("params.json"))
      << nlohmann::json{{"model", test::model_path("tiny-scripted.pt")}, {"class", 1}, {"fill", fill}, {"steps", 16}}.dump();
  int status = 0;
  const std::string output = test::run_command(XAI_PYTHON " " + std::string(XAI_SOURCE_DIR) +
                                                   "/tests/reference/faithfulness_reference.py " + dir.path.string() + " 2>&1",
                                               &status);
  ASSERT_EQ(status, 0) << "the reference did not run: " << output;
  for (const auto& [name, curve] : {std::pair{"deletion", &f.deletion}, std::pair{"insertion", &f.insertion}}) {
    SCOPED_TRACE(name);
    const test::NpyArray expected = test::read_npy(dir.file(std::string(name) + ".npy"));
    ASSERT_EQ(expected.data.size(), curve->probabilities.size());
    double spread = 0;
    for (size_t k = 0; k < expected.data.size(); ++k) {
      EXPECT_NEAR(curve->probabilities[k], expected.data[k], 1e-5) << "step " << k;
      spread = std::max(spread, std::abs(double(expected.data[k]) - expected.data.front()));
    }
    EXPECT_GT(spread, 1e-3) << "a flat curve would match anything";
  }
}

// On the demo model and the bundled malignant patches, Grad-CAM's order removes the evidence faster and
// restores it faster than a random order and than the inverted map (means over the patches).
TEST(Faithfulness, GradCamOnTheDemoModelBeatsRandomAndInvertedOrders) {
  Model model = Model::load(test::model_path("demo-histo.pt"));
  ExplainOptions options;
  options.cam.target.kind = TargetSpec::Kind::given;
  options.cam.target.class_index = 1;  // malignant
  FaithfulnessOptions faithfulness;
  double deletion = 0, random_deletion = 0, inverted_deletion = 0;
  double insertion = 0, random_insertion = 0, inverted_insertion = 0;
  const std::vector<std::string> names = {"malignant-1", "malignant-2", "malignant-3"};
  for (const auto& name : names) {
    const PreparedImage image =
        prepare_image(std::string(XAI_SOURCE_DIR) + "/examples/patches/" + name + ".png", model.card(), {});
    const auto results = find_method("gradcam").compute(model, {&image}, options, {model.default_layer()});
    const cv::Mat map = dense_maps(results.front(), image.view.size()).front().values;
    const PerturbationBase base = perturbation_base(image.view, cv::Mat::zeros(image.view.size(), CV_32SC1), 1,
                                                    faithfulness.fill, model.card());
    const Faithfulness f = measure_faithfulness(model_classifier(model), base, map, 1, faithfulness);
    const Faithfulness inverted = measure_faithfulness(model_classifier(model), base, 1.0 - map, 1, faithfulness);
    std::cout << name << ": deletion " << f.deletion.auc << " (random " << f.random_deletion.auc << ", inverted "
              << inverted.deletion.auc << "), insertion " << f.insertion.auc << " (random " << f.random_insertion.auc
              << ", inverted " << inverted.insertion.auc << ")\n";
    deletion += f.deletion.auc, random_deletion += f.random_deletion.auc, inverted_deletion += inverted.deletion.auc;
    insertion += f.insertion.auc, random_insertion += f.random_insertion.auc, inverted_insertion += inverted.insertion.auc;
  }
  EXPECT_LT(deletion, random_deletion);
  EXPECT_LT(deletion, inverted_deletion);
  EXPECT_GT(insertion, random_insertion);
  EXPECT_GT(insertion, inverted_insertion);
}

}  // namespace
}  // namespace xai
