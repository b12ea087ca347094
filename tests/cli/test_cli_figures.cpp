// Figures as a reader gets them: STEM.METHOD.figure.png beside every overlay (explain; batch with
// --figures), small inputs enlarged by whole factors, --background gray, and colour bars whose ends
// are the colours the map's extremes are drawn in.
#include "cli_fixture.hpp"

#include <opencv2/imgproc.hpp>

namespace {

using namespace xai::e2e;
namespace fs = std::filesystem;
using nlohmann::json;

using CliFigures = CliTest;

cv::Vec3b viridis(int level) {
  cv::Mat one(1, 1, CV_8UC1, cv::Scalar(level)), out;
  cv::applyColorMap(one, out, cv::COLORMAP_VIRIDIS);
  return out.at<cv::Vec3b>(0, 0);
}

// The smallest distance between `colour` and a colour the overlay's heatmap takes somewhere: with
// opacity 1/2, heatmap = 2 * overlay - background.
double closest_heat(const cv::Mat& overlay, const cv::Mat& background, const cv::Vec3b& colour) {
  double best = 1e9;
  for (int y = 0; y < overlay.rows; ++y)
    for (int x = 0; x < overlay.cols; ++x) {
      double d = 0;
      for (int c = 0; c < 3; ++c)
        d = std::max(d, std::abs(2.0 * overlay.at<cv::Vec3b>(y, x)[c] - background.at<cv::Vec3b>(y, x)[c] - colour[c]));
      best = std::min(best, d);
    }
  return best;
}

TEST_F(CliFigures, SmallPatchGetsAnEnlargedOverlayAndAFigureWithItsColourBar) {
  const cv::Mat original = test_image(96, 96);
  const fs::path image = write_image("patch.png", original);
  const RunResult r = explain(model("tiny-scripted.pt"), image);
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(entries(out_dir()),
            (std::set<std::string>{"patch.gradcam.png", "patch.gradcam.npy", "patch.gradcam.figure.png", "patch.json"}));
  // 96 px: enlarged 4x (the default --figure-size 384), pixels as blocks; the stored map stays 96x96.
  const cv::Mat overlay = cv::imread((out_dir() / "patch.gradcam.png").string());
  ASSERT_EQ(overlay.size(), cv::Size(384, 384));
  EXPECT_EQ(read_map(out_dir() / "patch.gradcam.npy").shape, (std::vector<size_t>{96, 96}));
  cv::Mat enlarged;
  cv::resize(original, enlarged, {384, 384}, 0, 0, cv::INTER_NEAREST);

  const json report = read_json(out_dir() / "patch.json");
  EXPECT_EQ(report.at("rendering").at("enlarged"), 4);
  EXPECT_EQ(report.at("rendering").at("colormap"), "viridis");
  const json& entry = report.at("explanations").at(0);
  EXPECT_EQ(entry.at("files").at("figure"), "patch.gradcam.figure.png");
  const json& bar = entry.at("figure").at("colour_bar");
  EXPECT_EQ(entry.at("figure").at("scale").at("low"), 0.0);
  EXPECT_EQ(entry.at("figure").at("scale").at("high"), 1.0);

  const cv::Mat figure = cv::imread((out_dir() / "patch.gradcam.figure.png").string());
  ASSERT_FALSE(figure.empty());
  EXPECT_GE(figure.cols, 2 * 384);  // original and overlay side by side, then the bar
  EXPECT_GE(figure.rows, 384 + 40);  // under a header
  const cv::Rect strip(bar.at("x").get<int>(), bar.at("y").get<int>(), bar.at("width").get<int>(), bar.at("height").get<int>());
  ASSERT_EQ(strip.height, 384);
  ASSERT_LE(strip.br().x, figure.cols);
  const cv::Vec3b top = figure.at<cv::Vec3b>(strip.y, strip.x + strip.width / 2);
  const cv::Vec3b bottom = figure.at<cv::Vec3b>(strip.br().y - 1, strip.x + strip.width / 2);
  EXPECT_EQ(top, viridis(255));
  EXPECT_EQ(bottom, viridis(0));
  // The bar runs over the colour map's whole 0..1; the map's extremes are drawn in the bar's colours
  // at their values: the CAM is 0..1 at its own resolution, and its maximum at the image's size
  // (bilinear, not renormalised) a little under 1. Both colours occur in the overlay (within a few
  // levels: the blend is rounded, and the enlarged map passes through the value between pixels).
  const Map map = read_map(out_dir() / "patch.gradcam.npy");
  const auto [lo, hi] = std::minmax_element(map.data.begin(), map.data.end());
  const auto bar_colour = [&](double value) {
    const int row = strip.y + static_cast<int>(std::lround((1.0 - value) * (strip.height - 1)));
    return figure.at<cv::Vec3b>(row, strip.x + strip.width / 2);
  };
  EXPECT_LT(closest_heat(overlay, enlarged, bar_colour(*hi)), 12) << "maximum " << *hi;
  EXPECT_LT(closest_heat(overlay, enlarged, bar_colour(*lo)), 12) << "minimum " << *lo;
  // The original panel is the enlarged image itself.
  bool found = false;
  for (int y = 0; y + 384 <= figure.rows && !found; ++y)
    for (int x = 0; x + 384 <= figure.cols / 2 && !found; ++x)
      found = figure.at<cv::Vec3b>(y, x) == enlarged.at<cv::Vec3b>(0, 0) &&
              cv::norm(figure(cv::Rect(x, y, 384, 384)), enlarged, cv::NORM_INF) == 0;
  EXPECT_TRUE(found) << "the figure shows the original, enlarged by nearest neighbour";
}

TEST_F(CliFigures, GrayBackgroundFigureSizeAndNoFigure) {
  const fs::path image = write_image("patch.png", test_image(96, 96));
  ASSERT_EQ(explain(model("tiny-scripted.pt"), image, {"--background", "gray", "--alpha", "0", "--no-figure"}).code, 0);
  EXPECT_FALSE(fs::exists(out_dir() / "patch.gradcam.figure.png"));
  const cv::Mat gray = cv::imread((out_dir() / "patch.gradcam.png").string());
  ASSERT_EQ(gray.size(), cv::Size(384, 384));
  std::vector<cv::Mat> planes;
  cv::split(gray, planes);
  EXPECT_EQ(cv::norm(planes[0], planes[1], cv::NORM_INF), 0);  // with opacity 0: the image's luma alone
  EXPECT_EQ(cv::norm(planes[1], planes[2], cv::NORM_INF), 0);

  ASSERT_EQ(explain(model("tiny-scripted.pt"), image, {"--figure-size", "0"}).code, 0);
  EXPECT_EQ(cv::imread((out_dir() / "patch.gradcam.png").string()).size(), cv::Size(96, 96));
  ASSERT_EQ(explain(model("tiny-scripted.pt"), image, {"--figure-size", "150"}).code, 0);
  EXPECT_EQ(cv::imread((out_dir() / "patch.gradcam.png").string()).size(), cv::Size(192, 192));
}

TEST_F(CliFigures, LimeFigureShowsItsWeightsOnASymmetricScale) {
  const fs::path image = write_image("patch.png", test_image(96, 96));
  ASSERT_EQ(explain(model("tiny-scripted.pt"), image, {"--method", "lime", "--samples", "60", "--segments", "12"}).code, 0);
  const json entry = read_json(out_dir() / "patch.json").at("explanations").at(0);
  double largest = 0;
  for (const auto& w : entry.at("weights")) largest = std::max(largest, std::abs(w.get<double>()));
  const json& scale = entry.at("figure").at("scale");
  EXPECT_EQ(scale.at("kind"), "signed");
  EXPECT_DOUBLE_EQ(scale.at("high").get<double>(), largest);
  EXPECT_DOUBLE_EQ(scale.at("low").get<double>(), -largest);
  const cv::Mat figure = cv::imread((out_dir() / "patch.lime.figure.png").string());
  const json& bar = entry.at("figure").at("colour_bar");
  const cv::Vec3b top = figure.at<cv::Vec3b>(bar.at("y").get<int>(), bar.at("x").get<int>() + 4);
  const cv::Vec3b bottom = figure.at<cv::Vec3b>(bar.at("y").get<int>() + bar.at("height").get<int>() - 1,
                                                bar.at("x").get<int>() + 4);
  EXPECT_GT(top[1], top[2] + 60);        // green: evidence for the class
  EXPECT_GT(bottom[2], bottom[1] + 60);  // red: against
}

TEST_F(CliFigures, BatchWritesFiguresWhenAsked) {
  fs::create_directories(in("set"));
  write_image("set/a.png", test_image(96, 96, 1));
  write_image("set/b.png", test_image(96, 96, 2));
  const fs::path out = root_ / "batch";
  ASSERT_EQ(xai({"batch", "-m", model("tiny-scripted.pt"), in("set").string(), "-o", out.string()}).code, 0);
  EXPECT_FALSE(fs::exists(out / "a.gradcam.figure.png"));
  const fs::path with = root_ / "batch-figures";
  ASSERT_EQ(xai({"batch", "-m", model("tiny-scripted.pt"), "--figures", in("set").string(), "-o", with.string()}).code, 0);
  EXPECT_TRUE(fs::exists(with / "a.gradcam.figure.png"));
  EXPECT_TRUE(fs::exists(with / "b.gradcam.figure.png"));
}

}  // namespace
