// Occlusion and RISE: their windows and masks against closed forms, and both methods end to end
// against the naive numpy/torch reference of tests/reference/perturbation_reference.py on the same
// windows, masks and seed.
#include <gtest/gtest.h>

#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "npy_reader.hpp"
#include "test_helpers.hpp"
#include "xai/error.hpp"
#include "xai/methods.hpp"
#include "output/npy.hpp"
#include "methods/occlusion.hpp"
#include "methods/rise.hpp"

namespace xai {
namespace {

TEST(Occlusion, WindowsCoverEveryPixelWithTheLastFlushWithTheEdge) {
  const auto windows = occlusion_windows(cv::Size(10, 7), 4, 3);
  // x: 0, 3, 6 (6 + 4 = 10 reaches the edge); y: 0, 3 and 3 (flush: 7 − 4).
  std::vector<int> xs, ys;
  for (const auto& w : windows) xs.push_back(w.x), ys.push_back(w.y);
  EXPECT_EQ(windows.size(), 6u);
  EXPECT_EQ(std::set<int>(xs.begin(), xs.end()), (std::set<int>{0, 3, 6}));
  EXPECT_EQ(std::set<int>(ys.begin(), ys.end()), (std::set<int>{0, 3}));
  cv::Mat covered = cv::Mat::zeros(7, 10, CV_32SC1);
  for (const auto& w : windows) covered(w) += 1;
  EXPECT_EQ(cv::countNonZero(covered), 70);
}

TEST(Occlusion, AMapIsTheMeanDropOverTheWindowsCoveringAPixel) {
  const std::vector<cv::Rect> windows = {cv::Rect(0, 0, 2, 2), cv::Rect(1, 0, 2, 2)};
  const cv::Mat map = occlusion_map(windows, {0.4, 0.1}, cv::Size(3, 2));
  EXPECT_FLOAT_EQ(map.at<float>(0, 0), 0.4f);
  EXPECT_FLOAT_EQ(map.at<float>(1, 1), 0.25f);
  EXPECT_FLOAT_EQ(map.at<float>(0, 2), 0.1f);
}

TEST(Occlusion, DefaultsAndBadWindows) {
  const OcclusionOptions d = resolve_occlusion({}, cv::Size(224, 200));
  EXPECT_EQ(d.window, 25);
  EXPECT_EQ(d.stride, 12);
  EXPECT_THROW(resolve_occlusion({65, 1}, cv::Size(64, 64)), Error);
  EXPECT_THROW(resolve_occlusion({-1, 1}, cv::Size(64, 64)), Error);
}

TEST(Rise, MasksAreSeededSmoothAndKeepTheRightShare) {
  const RiseOptions o{200, 7, 0.3};
  const cv::Size size(64, 48);
  EXPECT_EQ(cv::norm(rise_mask(size, o, 5, 17), rise_mask(size, o, 5, 17), cv::NORM_INF), 0.0);
  EXPECT_GT(cv::norm(rise_mask(size, o, 5, 17), rise_mask(size, o, 6, 17), cv::NORM_INF), 0.0);
  double mean = 0;
  for (int i = 0; i < o.masks; ++i) {
    const cv::Mat m = rise_mask(size, o, 1, i);
    double lo, hi;
    cv::minMaxLoc(m, &lo, &hi);
    ASSERT_GE(lo, 0.0);
    ASSERT_LE(hi, 1.0);
    mean += cv::mean(m)[0] / o.masks;
  }
  EXPECT_NEAR(mean, o.keep, 0.03) << "a pixel is shown with probability p on average";
  // Neighbouring pixels differ by at most one cell's bilinear step: 1 / cell (cell = 10 pixels).
  const cv::Mat m = rise_mask(size, o, 2, 0);
  cv::Mat dx;
  cv::absdiff(m.colRange(1, 64), m.colRange(0, 63), dx);
  double step;
  cv::minMaxLoc(dx, nullptr, &step);
  EXPECT_LE(step, 1.0 / 10 + 1e-6);
  EXPECT_THROW(validate(RiseOptions{10, 0, 0.5}, size), Error);
  EXPECT_THROW(validate(RiseOptions{0, 7, 0.5}, size), Error);
  EXPECT_THROW(validate(RiseOptions{10, 7, 0.0}, size), Error);
  EXPECT_THROW(validate(RiseOptions{10, 49, 0.5}, size), Error);
}

TEST(Rise, AnAllShownGridGivesAnAllOnesMask) {
  const cv::Mat m = rise_mask(cv::Size(30, 20), RiseOptions{1, 3, 1.0}, 0, 0);
  EXPECT_NEAR(cv::norm(m - 1.0, cv::NORM_INF), 0.0, 1e-6);
}

TEST(OcclusionAndRise, MatchANaiveReferenceOnTheSameWindowsAndMasks) {
  Model model = Model::load(test::model_path("tiny-scripted.pt"));
  test::TempDir dir;
  const PreparedImage image = prepare_image(test::write_random_picture(dir, "patch.png"), model.card(), {});

  ExplainOptions options;
  options.lime.hide = {HideMode::constant, {0.3f}};
  options.lime.batch_size = 7;  // batches of 7 against the reference's one image per pass
  options.cam.target.kind = TargetSpec::Kind::given;
  options.cam.target.class_index = 1;
  options.occlusion = {12, 8};
  options.rise = {60, 4, 0.5};
  options.lime.seed = 3;
  const auto occlusion = find_method("occlusion").compute(model, {&image}, options, {});
  const auto rise = find_method("rise").compute(model, {&image}, options, {});

  std::vector<float> masks;
  for (int i = 0; i < options.rise.masks; ++i) {
    const cv::Mat m = rise_mask(cv::Size(64, 64), options.rise, options.lime.seed, i);
    masks.insert(masks.end(), m.ptr<float>(), m.ptr<float>() + 64 * 64);
  }
  write_npy(dir.file("masks.npy"), masks.data(), {size_t(options.rise.masks), 64, 64});
  write_npy(dir.file("input.npy"), image.blob.values.data(), {3, 64, 64});
  nlohmann::json fill;
  for (int c = 0; c < 3; ++c) fill.push_back((0.3 - model.card().mean[c]) / model.card().std[c]);
  std::ofstream(dir.file("params.json")) << nlohmann::json{{"model", test::model_path("tiny-scripted.pt")},
                                                           {"class", 1},
                                                           {"fill", fill},
                                                           {"window", 12},
                                                           {"stride", 8},
                                                           {"keep", 0.5}}
                                                .dump();
  int status = 0;
  test::run_command(XAI_PYTHON " " + std::string(XAI_SOURCE_DIR) + "/tests/reference/perturbation_reference.py " +
                  dir.path.string() + " 2>&1",
              &status);
  ASSERT_EQ(status, 0) << "the reference did not run";
  for (const auto& [name, result] : {std::pair{"occlusion", &occlusion}, std::pair{"rise", &rise}}) {
    SCOPED_TRACE(name);
    const test::NpyArray expected = test::read_npy(dir.file(std::string(name) + ".npy"));
    const cv::Mat ours = result->front().maps.front().values;
    ASSERT_EQ(ours.size(), cv::Size(64, 64));
    double largest = 0, worst = 0;
    for (int i = 0; i < 64 * 64; ++i) {
      largest = std::max(largest, std::abs(double(expected.data[i])));
      worst = std::max(worst, std::abs(double(ours.ptr<float>()[i]) - expected.data[i]));
    }
    EXPECT_GT(largest, 1e-4) << "a map of zeros would match anything";
    EXPECT_LT(worst, 1e-5);
  }
  EXPECT_EQ(occlusion.front().model_images, 8 * 8 + 1) << "windows at 0, 8, ..., 48 and 52 on each axis, and the image";
}

}  // namespace
}  // namespace xai
