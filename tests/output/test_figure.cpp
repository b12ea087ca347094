// Figures and their colour bars, against OpenCV's colour maps and the signed rendering they describe.
#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include <opencv2/imgcodecs.hpp>

#include "output/figure.hpp"
#include "output/print_figure.hpp"
#include "output/render.hpp"

namespace xai {
namespace {

cv::Vec3b opencv_colour(int level, int colormap) {
  cv::Mat one(1, 1, CV_8UC1, cv::Scalar(level)), out;
  cv::applyColorMap(one, out, colormap);
  return out.at<cv::Vec3b>(0, 0);
}

// A screen figure (png without a dpi), decoded, and its parts' whole-pixel rectangles.
struct ScreenFigure {
  cv::Mat image;
  PrintLayout layout;
  cv::Rect rect(const cv::Rect2d& r) const {
    return cv::Rect(static_cast<int>(std::lround(r.x)), static_cast<int>(std::lround(r.y)),
                    static_cast<int>(std::lround(r.width)), static_cast<int>(std::lround(r.height)));
  }
  cv::Vec3b bar_top() const { return image.at<cv::Vec3b>(rect(layout.bar).y, rect(layout.bar).x + 5); }
  cv::Vec3b bar_bottom() const { return image.at<cv::Vec3b>(rect(layout.bar).br().y - 1, rect(layout.bar).x + 5); }
};

ScreenFigure screen_figure(const std::vector<cv::Mat>& panels, const std::vector<std::string>& titles,
                           const std::vector<std::string>& header, const ColourScale& scale) {
  ScreenFigure f;
  const std::string png = print_figure(panels, titles, header, &scale, 0, FigureFormat::png, 0, &f.layout);
  f.image = cv::imdecode(std::vector<uchar>(png.begin(), png.end()), cv::IMREAD_COLOR);
  return f;
}

TEST(Figure, PanelsSitWhereTheLayoutSaysAndTheBarRunsFromHighToLow) {
  cv::Mat a(80, 100, CV_8UC3), b(80, 100, CV_8UC3);
  cv::randu(a, 0, 256), cv::randu(b, 0, 256);
  ColourScale scale;
  scale.colormap = Colormap::viridis;
  scale.units = "relative";
  const ScreenFigure f = screen_figure({a, b}, {"original", "gradcam"}, {"model: m", "predicted: x"}, scale);
  ASSERT_EQ(f.layout.panels.size(), 2u);
  EXPECT_EQ(f.layout.units, "px");
  // Each panel pixel for pixel: a screen figure shows the data as it is.
  ASSERT_EQ(f.rect(f.layout.panels[0]).size(), a.size());
  EXPECT_EQ(cv::norm(f.image(f.rect(f.layout.panels[0])), a, cv::NORM_INF), 0);
  EXPECT_EQ(cv::norm(f.image(f.rect(f.layout.panels[1])), b, cv::NORM_INF), 0);
  EXPECT_GT(f.layout.panels[1].x, f.layout.panels[0].br().x);  // side by side
  EXPECT_GT(f.layout.panels[0].y, 30);                         // under the two header lines
  EXPECT_EQ(f.rect(f.layout.bar).height, 80);
  EXPECT_GT(f.layout.bar.x, f.layout.panels[1].br().x);
  EXPECT_LE(f.layout.bar.br().x, f.image.cols);
  EXPECT_EQ(f.bar_top(), opencv_colour(255, cv::COLORMAP_VIRIDIS));
  EXPECT_EQ(f.bar_bottom(), opencv_colour(0, cv::COLORMAP_VIRIDIS));
}

TEST(Figure, SignedBarIsSymmetricPositiveOverNegative) {
  ColourScale scale;
  scale.kind = ColourScale::Kind::signed_;
  scale.signed_colormap = SignedColormap::red_green;
  scale.low = -0.02;
  scale.high = 0.02;
  const cv::Mat panel(60, 60, CV_8UC3, cv::Scalar(128, 128, 128));
  const ScreenFigure f = screen_figure({panel}, {"lime"}, {}, scale);
  const cv::Rect bar = f.rect(f.layout.bar);
  const cv::Vec3b middle = f.image.at<cv::Vec3b>(bar.y + bar.height / 2, bar.x + 5);
  // The largest magnitude is drawn at 60 % over the image: 0.4 * 128 + 0.6 * (0, 200, 0) for +, (0, 0, 220) for -.
  EXPECT_EQ(f.bar_top(), cv::Vec3b(51, 171, 51));
  EXPECT_EQ(f.bar_bottom(), cv::Vec3b(51, 51, 183));
  EXPECT_NEAR(middle[0], 128, 3);  // near 0: the image itself
  EXPECT_NEAR(middle[1], 128, 3);
  // The default colours: orange #e66101 over blue #2166ac, each at 60 % over mid gray.
  scale.signed_colormap = SignedColormap::orange_blue;
  const ScreenFigure safe = screen_figure({panel}, {"lime"}, {}, scale);
  EXPECT_EQ(safe.bar_top(), cv::Vec3b(52, 109, 189));
  EXPECT_EQ(safe.bar_bottom(), cv::Vec3b(154, 112, 71));
}

TEST(Figure, ShortNumbersKeepThreeDigits) {
  EXPECT_EQ(short_number(0), "0");
  EXPECT_EQ(short_number(1), "1");
  EXPECT_EQ(short_number(0.000302415), "0.000302");
  EXPECT_EQ(short_number(-12.54), "-12.5");
}

TEST(Render, SmallImagesAreEnlargedByWholeFactors) {
  EXPECT_EQ(enlargement_factor({96, 96}, 384), 4);
  EXPECT_EQ(enlargement_factor({100, 100}, 384), 4);  // 3.84 rounds up: at least 384
  EXPECT_EQ(enlargement_factor({400, 300}, 384), 2);
  EXPECT_EQ(enlargement_factor({384, 500}, 384), 1);
  EXPECT_EQ(enlargement_factor({10, 10}, 0), 1);
  EXPECT_EQ(enlargement_factor({2000, 1}, 384), 1);  // not 384 (768000x384 px)
  EXPECT_EQ(enlargement_factor({1, 300}, 384), 5);   // 1536 / 300: the longer side at most 4 x 384
  EXPECT_EQ(enlargement_factor({96, 16}, 384), 16);
  cv::Mat tiny(2, 2, CV_8UC3);
  cv::randu(tiny, 0, 255);
  const cv::Mat big = enlarge(tiny, 3);
  ASSERT_EQ(big.size(), cv::Size(6, 6));
  for (int y = 0; y < 6; ++y)
    for (int x = 0; x < 6; ++x) EXPECT_EQ(big.at<cv::Vec3b>(y, x), tiny.at<cv::Vec3b>(y / 3, x / 3));  // blocks, no smoothing
}

TEST(Render, GrayBackgroundIsTheLumaInEveryChannel) {
  cv::Mat colour(1, 1, CV_8UC3, cv::Scalar(20, 200, 90));  // B, G, R
  const cv::Mat gray = overlay_background(colour, Background::gray);
  const cv::Vec3b p = gray.at<cv::Vec3b>(0, 0);
  EXPECT_EQ(p[0], p[1]);
  EXPECT_EQ(p[1], p[2]);
  EXPECT_NEAR(p[0], 0.299 * 90 + 0.587 * 200 + 0.114 * 20, 1);
  EXPECT_EQ(overlay_background(colour, Background::image).at<cv::Vec3b>(0, 0), colour.at<cv::Vec3b>(0, 0));
  EXPECT_THROW(parse_background("sepia"), std::exception);
}

}  // namespace
}  // namespace xai
