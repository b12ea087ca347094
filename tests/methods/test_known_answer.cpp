// Every method on a model whose answer is known (tests/data/region-scripted.pt: the "malignant"
// logit depends only on the red texture inside rows/cols 16..47): each must put its largest
// positive mass there. And Kernel SHAP on that real model equals the Shapley values computed here
// by the 2^M definition, on images composed here.
#include <gtest/gtest.h>

#include <iostream>
#include <opencv2/imgcodecs.hpp>

#include "test_helpers.hpp"
#include "xai/methods.hpp"
#include "xai/model.hpp"
#include "methods/superpixels.hpp"

namespace xai {
namespace {

bool inside_square(int y, int x) { return y >= 16 && y < 48 && x >= 16 && x < 48; }

class KnownAnswer : public ::testing::Test {
 protected:
  void SetUp() override {
    cv::Mat noise(64, 64, CV_8UC3);
    cv::theRNG().state = 11;
    cv::randu(noise, 0, 255);  // texture everywhere: hiding any of it lowers the energy it had
    cv::imwrite(dir_.file("noise.png"), noise);
    image_ = prepare_image(dir_.file("noise.png"), model_.card(), {});
    options_.cam.target.kind = TargetSpec::Kind::given;
    options_.cam.target.class_index = 1;  // malignant
  }
  Model model_ = Model::load(test::data_path("region-scripted.pt"));
  test::TempDir dir_;
  PreparedImage image_;
  ExplainOptions options_;
};

TEST_F(KnownAnswer, EveryMethodPutsItsLargestPositiveMassOnTheRegion) {
  options_.lime.samples = 400;
  options_.shap.samples = 400;
  options_.shap.max_evals = 200;
  options_.rise.masks = 2000;
  options_.occlusion = {8, 4};
  options_.gradients.steps = 16;
  options_.gradients.samples = 16;
  // LIME and Kernel SHAP on an 8x8 grid of 8-pixel cells: SLIC has nothing to follow in pure noise.
  cv::Mat grid(64, 64, CV_8UC1);
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x) grid.at<uchar>(y, x) = static_cast<uchar>((y / 8) * 8 + x / 8);
  cv::imwrite(dir_.file("grid.png"), grid);
  options_.lime.regions_path = dir_.file("grid.png");
  for (const char* name : {"lime", "kernelshap", "partitionshap", "occlusion", "rise", "intgrad", "smoothgrad"}) {
    SCOPED_TRACE(name);
    const auto results = find_method(name).compute(model_, {&image_}, options_, {});
    const std::vector<DenseMap> maps = dense_maps(results.front(), cv::Size(64, 64));
    ASSERT_EQ(maps.size(), 1u);
    const cv::Mat& v = maps.front().values;
    // RISE's map is a mean probability, positive everywhere: measure it above its own median.
    double offset = 0;
    if (std::string(name) == "rise") {
      std::vector<float> all(v.ptr<float>(), v.ptr<float>() + v.total());
      std::nth_element(all.begin(), all.begin() + all.size() / 2, all.end());
      offset = all[all.size() / 2];
    }
    double in = 0, out = 0;
    for (int y = 0; y < 64; ++y)
      for (int x = 0; x < 64; ++x) {
        const double positive = std::max(0.0, v.at<float>(y, x) - offset);
        (inside_square(y, x) ? in : out) += positive;
      }
    // Per pixel: the square is a quarter of the image. RISE's masks are smooth on the scale of a
    // grid cell (64/7 pixels), so its map spills over the square's edge: the factor has room for it.
    in /= 32 * 32;
    out /= 64 * 64 - 32 * 32;
    EXPECT_GT(in, 2 * out) << "positive mass per pixel inside " << in << ", outside " << out;
    std::cout << name << ": positive mass per pixel inside " << in << ", outside " << out << "\n";
    cv::Point peak;
    cv::minMaxLoc(v, nullptr, nullptr, nullptr, &peak);
    EXPECT_TRUE(inside_square(peak.y, peak.x)) << "peak at " << peak;
  }
}

TEST_F(KnownAnswer, KernelShapOnTheModelIsTheShapleyValue) {
  // Eight regions: the square the model reads split into four, and four bands around it.
  cv::Mat regions(64, 64, CV_8UC1);
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x)
      regions.at<uchar>(y, x) = inside_square(y, x) ? static_cast<uchar>((y >= 32) * 2 + (x >= 32))
                                                    : static_cast<uchar>(4 + (y < 16 ? 0 : y >= 48 ? 1 : x < 16 ? 2 : 3));
  cv::imwrite(dir_.file("regions.png"), regions);
  options_.lime.regions_path = dir_.file("regions.png");
  options_.lime.hide = {HideMode::constant, {0.5f}};
  std::vector<std::string> warnings;
  const cv::Mat segments = explanation_regions(image_.image.pixels.size(), image_.visible, image_.view, {}, options_.lime.regions_path, warnings);
  const int M = label_count(segments);
  ASSERT_EQ(M, 8);
  options_.shap.samples = (1 << M);  // every coalition
  const auto results = find_method("kernelshap").compute(model_, {&image_}, options_, {});
  const DenseMap& map = results.front().maps.front();
  EXPECT_TRUE(map.details["exact"].get<bool>());

  // v(S): the model's probability on the image with the regions outside S at 0.5, composed here.
  std::vector<InputBlob> batch;
  for (int bits = 0; bits < (1 << M); ++bits) {
    InputBlob b = image_.blob;
    for (int c = 0; c < 3; ++c)
      for (int p = 0; p < 64 * 64; ++p)
        if (!((bits >> segments.ptr<int>()[p]) & 1)) b.values[c * 4096 + p] = 0.5f;  // mean 0, std 1
    batch.push_back(std::move(b));
  }
  std::vector<double> v;
  for (const Prediction& p : model_.predict(batch)) v.push_back(p.probabilities[1]);
  std::vector<double> factorial(M + 1, 1.0);
  for (int i = 1; i <= M; ++i) factorial[i] = factorial[i - 1] * i;
  for (int i = 0; i < M; ++i) {
    double phi = 0;
    for (int bits = 0; bits < (1 << M); ++bits) {
      if ((bits >> i) & 1) continue;
      const int size = __builtin_popcount(bits);
      phi += factorial[size] * factorial[M - size - 1] / factorial[M] * (v[bits | (1 << i)] - v[bits]);
    }
    EXPECT_NEAR(map.region_weights[i], phi, 1e-6) << "region " << i;
  }
  EXPECT_LT(map.details["efficiency"]["error"].get<double>(), 1e-6);
}

}  // namespace
}  // namespace xai
