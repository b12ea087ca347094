// LIME: building blocks against scikit-learn (the reference explainer's own estimator), closed
// forms, and the whole engine on a model whose answer is known.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <opencv2/imgcodecs.hpp>
#include <random>

#include "test_helpers.hpp"
#include "xai/error.hpp"
#include "methods/lime.hpp"
#include "output/npy.hpp"
#include "methods/ridge.hpp"

namespace xai {
namespace {

using test::run_command;


TEST(Ridge, ClosedFormWithOneFeature) {
  // x = 0,1,2; y = 1,3,5; unit weights. Centred: xc = -1,0,1; yc = -2,0,2.
  cv::Mat X = (cv::Mat_<double>(3, 1) << 0, 1, 2);
  const RidgeFit ols = weighted_ridge(X, {1, 3, 5}, {1, 1, 1}, 0.0);
  EXPECT_NEAR(ols.coefficients[0], 2.0, 1e-12);
  EXPECT_NEAR(ols.intercept, 1.0, 1e-12);
  EXPECT_NEAR(ols.r2, 1.0, 1e-12);
  const RidgeFit ridge = weighted_ridge(X, {1, 3, 5}, {1, 1, 1}, 1.0);
  EXPECT_NEAR(ridge.coefficients[0], 4.0 / 3.0, 1e-12);  // Σ xc yc / (Σ xc² + α) = 4 / 3
  EXPECT_NEAR(ridge.intercept, 3.0 - 4.0 / 3.0, 1e-12);  // the intercept is not penalised
}

TEST(Ridge, WeightsActLikeRepeatedSamples) {
  cv::Mat X = (cv::Mat_<double>(3, 1) << 0, 1, 5);
  cv::Mat repeated = (cv::Mat_<double>(4, 1) << 0, 1, 1, 5);
  const RidgeFit weighted = weighted_ridge(X, {1, 2, 4}, {1, 2, 1}, 0.5);
  const RidgeFit copies = weighted_ridge(repeated, {1, 2, 2, 4}, {1, 1, 1, 1}, 0.5);
  EXPECT_NEAR(weighted.coefficients[0], copies.coefficients[0], 1e-12);
  EXPECT_NEAR(weighted.intercept, copies.intercept, 1e-12);
}

TEST(Lime, RidgeDistancesAndKernelMatchScikitLearn) {
  const int samples = 300, features = 12;
  const std::vector<uint8_t> switches = sample_switches(samples, features, 42);
  std::vector<float> X(switches.begin(), switches.end()), y(samples);
  std::mt19937 rng(3);
  std::normal_distribution<float> noise(0, 0.05f);
  for (int i = 0; i < samples; ++i)  // a target that depends on a few features, plus noise
    y[i] = 0.2f + 0.5f * X[i * features + 2] - 0.3f * X[i * features + 7] + noise(rng);
  const std::vector<double> distances = cosine_distances_to_original(switches, samples, features);
  std::vector<double> w(samples);
  std::vector<float> wf(samples);
  for (int i = 0; i < samples; ++i) wf[i] = static_cast<float>(w[i] = lime_kernel(distances[i], 0.25));

  test::TempDir dir;
  write_npy(dir.file("X.npy"), X.data(), {size_t(samples), size_t(features)});
  write_npy(dir.file("y.npy"), y.data(), {size_t(samples)});
  write_npy(dir.file("w.npy"), wf.data(), {size_t(samples)});
  const std::string text =
      run_command(XAI_PYTHON " " + std::string(XAI_SOURCE_DIR) + "/tests/reference/lime_reference.py " +
                  dir.path.string());
  ASSERT_FALSE(text.empty()) << "the scikit-learn reference did not run (python3-sklearn installed?)";
  const auto reference = nlohmann::json::parse(text);

  for (int i = 0; i < samples; ++i) {
    EXPECT_NEAR(distances[i], reference["distances"][i].get<double>(), 1e-12) << i;
    EXPECT_NEAR(w[i], reference["kernel"][i].get<double>(), 1e-7) << i;  // w went through float32
  }
  cv::Mat Xd(samples, features, CV_64FC1);
  for (int i = 0; i < samples * features; ++i) Xd.at<double>(i / features, i % features) = X[i];
  std::vector<double> yd(y.begin(), y.end()), wd(wf.begin(), wf.end());
  const RidgeFit fit = weighted_ridge(Xd, yd, wd, 1.0);
  for (int j = 0; j < features; ++j) EXPECT_NEAR(fit.coefficients[j], reference["coef"][j].get<double>(), 1e-6);
  EXPECT_NEAR(fit.intercept, reference["intercept"].get<double>(), 1e-6);
  EXPECT_NEAR(fit.r2, reference["r2"].get<double>(), 1e-6);
  EXPECT_NEAR(fit.predict(Xd.ptr<double>(0)), reference["local_prediction"].get<double>(), 1e-6);
}

TEST(Lime, SamplingIsSeededAndFair) {
  const auto a = sample_switches(1000, 40, 7), b = sample_switches(1000, 40, 7), c = sample_switches(1000, 40, 8);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  for (int j = 0; j < 40; ++j) EXPECT_EQ(a[j], 1);  // row 0: the original image
  const double on = std::accumulate(a.begin() + 40, a.end(), 0.0) / (999 * 40);
  EXPECT_NEAR(on, 0.5, 0.02);
  EXPECT_DOUBLE_EQ(cosine_distances_to_original(std::vector<uint8_t>(4, 0), 1, 4)[0], 1.0);
  EXPECT_DOUBLE_EQ(lime_kernel(0.0, 0.25), 1.0);
  EXPECT_NEAR(lime_kernel(0.25, 0.25), std::sqrt(std::exp(-1.0)), 1e-15);
}

TEST(Lime, StabilityOfIdenticalAndReversedWeights) {
  const std::vector<double> w = {0.5, 0.1, -0.2, 0.9, 0.0, 0.3, 0.7};
  std::vector<double> reversed(w.rbegin(), w.rend());
  const LimeStability same = stability_of({w, w, w});
  EXPECT_DOUBLE_EQ(same.mean_spearman, 1.0);
  EXPECT_DOUBLE_EQ(same.mean_top5_jaccard, 1.0);
  std::vector<double> negated;
  for (double v : w) negated.push_back(-v);
  EXPECT_NEAR(stability_of({w, negated}).mean_spearman, -1.0, 1e-12);
}

// A textured image: the red channel is uniform noise (texture energy 1/3, 1/4 once filled with its mean).
Image noise_image(int size, unsigned seed) {
  cv::Mat pixels(size, size, CV_32FC3);
  cv::RNG rng(seed);
  rng.fill(pixels, cv::RNG::UNIFORM, 0.0, 1.0);
  Image image;
  image.path = "noise";
  image.pixels = pixels;
  return image;
}

TEST(Lime, FindsTheRegionAKnownModelLooksAt) {
  Model model = Model::load(test::data_path("region-scripted.pt"));
  test::TempDir dir;
  // A 4x4 grid of 16x16 regions: the model looks exactly at the four centre cells.
  cv::Mat regions(64, 64, CV_8UC1);
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x) regions.at<uchar>(y, x) = static_cast<uchar>((y / 16) * 4 + x / 16);
  cv::imwrite(dir.file("grid.png"), regions);
  LimeOptions options;
  options.regions_path = dir.file("grid.png");
  options.target.kind = TargetSpec::Kind::given;
  options.target.class_index = 1;
  const LimeExplanation result = explain_lime(model, noise_image(64, 1), options);
  ASSERT_EQ(result.segment_count, 16);
  const auto& weights = result.classes.front().weights;
  double smallest_inside = 1e9, largest_outside = 0;
  for (int cell = 0; cell < 16; ++cell) {
    const int label = result.segments.at<int>((cell / 4) * 16 + 8, (cell % 4) * 16 + 8);
    const bool inside = (cell / 4 == 1 || cell / 4 == 2) && (cell % 4 == 1 || cell % 4 == 2);
    if (inside)
      smallest_inside = std::min(smallest_inside, weights[label]);
    else
      largest_outside = std::max(largest_outside, std::abs(weights[label]));
  }
  EXPECT_GT(smallest_inside, 0.02);
  EXPECT_LT(largest_outside, 0.1 * smallest_inside) << "weights outside the region must be near zero";
  EXPECT_GT(result.classes.front().r2, 0.9);
  // Row 0 of the samples is the unperturbed image: LIME's prediction is the model's.
  EXPECT_NEAR(result.classes.front().model_probability,
              model.predict({preprocess(noise_image(64, 1), model.card())}).front().probabilities[1], 1e-6);
}

TEST(Lime, SlicSuperpixelsOverTheRegionGetTheWeight) {
  Model model = Model::load(test::data_path("region-scripted.pt"));
  LimeOptions options;
  options.superpixels.segments = 30;
  options.target.kind = TargetSpec::Kind::given;
  options.target.class_index = 1;
  const LimeExplanation result = explain_lime(model, noise_image(64, 2), options);
  const auto& weights = result.classes.front().weights;
  // Share of each superpixel's pixels inside the square the model looks at.
  std::vector<double> inside(result.segment_count, 0), total(result.segment_count, 0);
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x) {
      const int s = result.segments.at<int>(y, x);
      total[s] += 1;
      inside[s] += (y >= 16 && y < 48 && x >= 16 && x < 48) ? 1 : 0;
    }
  // Hiding a superpixel removes the texture energy of its pixels inside the square: its weight
  // should follow that pixel count, and be near zero for superpixels entirely outside.
  const double top = *std::max_element(weights.begin(), weights.end());
  for (int s = 0; s < result.segment_count; ++s)
    if (inside[s] == 0) EXPECT_LT(std::abs(weights[s]), 0.15 * top) << "superpixel " << s << " lies outside";
  const double n = result.segment_count;
  const double mw = std::accumulate(weights.begin(), weights.end(), 0.0) / n;
  const double mi = std::accumulate(inside.begin(), inside.end(), 0.0) / n;
  double cov = 0, vw = 0, vi = 0;
  for (int s = 0; s < result.segment_count; ++s) {
    cov += (weights[s] - mw) * (inside[s] - mi);
    vw += (weights[s] - mw) * (weights[s] - mw);
    vi += (inside[s] - mi) * (inside[s] - mi);
  }
  EXPECT_GT(cov / std::sqrt(vw * vi), 0.9) << "weights should follow the pixels each superpixel has in the square";
}

TEST(Lime, SameSeedSameWeights) {
  Model model = Model::load(test::model_path("tiny-scripted.pt"));
  LimeOptions options;
  options.samples = 200;
  options.seed = 5;
  const auto a = explain_lime(model, noise_image(64, 3), options);
  const auto b = explain_lime(model, noise_image(64, 3), options);
  EXPECT_EQ(a.classes.front().weights, b.classes.front().weights);
  options.repeats = 3;
  const auto c = explain_lime(model, noise_image(64, 3), options);
  ASSERT_TRUE(c.stability.has_value());
  EXPECT_EQ(c.stability->repeats, 3);
}

void expect_error(Model& model, const Image& image, const LimeOptions& options, ExitCode code, const std::string& fragment) {
  try {
    explain_lime(model, image, options);
    ADD_FAILURE() << "accepted; expected " << fragment;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(Lime, BadSettingsAreClearErrors) {
  Model model = Model::load(test::model_path("tiny-scripted.pt"));
  const Image image = noise_image(64, 4);
  LimeOptions options;
  options.samples = 0;
  expect_error(model, image, options, ExitCode::usage, "samples must be at least 2");
  options = {};
  options.superpixels.segments = 0;
  expect_error(model, image, options, ExitCode::usage, "segments must be at least 2");
  options = {};
  options.superpixels.segments = 2000;  // 64x64 pixels cannot hold 2000 superpixels
  expect_error(model, image, options, ExitCode::usage, "too small");

  test::TempDir dir;
  cv::imwrite(dir.file("wrong.png"), cv::Mat(10, 10, CV_8UC1, cv::Scalar(0)));
  options = {};
  options.regions_path = dir.file("wrong.png");
  expect_error(model, image, options, ExitCode::input, "region map is 10x10");
  cv::imwrite(dir.file("one.png"), cv::Mat(64, 64, CV_8UC1, cv::Scalar(3)));
  options.regions_path = dir.file("one.png");
  expect_error(model, image, options, ExitCode::input, "single region");
  options = {};
  options.hide.mode = HideMode::constant;
  options.hide.color = {2.0f};
  expect_error(model, image, options, ExitCode::usage, "[0,1]");
}

}  // namespace
}  // namespace xai
