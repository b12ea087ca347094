#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>

#include <cmath>

#include "xai/error.hpp"
#include "xai/explain_options.hpp"
#include "output/render.hpp"

namespace xai {
namespace {

TEST(Render, OverlayBlendsImageAndColourMap) {
  cv::Mat image(3, 5, CV_8UC3, cv::Scalar(100, 50, 200));
  cv::Mat map(3, 5, CV_32FC1, cv::Scalar(1.0));
  const cv::Mat colours = colorize(map, Colormap::jet);
  const cv::Mat out = overlay(image, map, Colormap::jet, 0.25);
  ASSERT_EQ(out.size(), image.size());
  for (int c = 0; c < 3; ++c)
    EXPECT_NEAR(out.at<cv::Vec3b>(1, 1)[c], 0.75 * image.at<cv::Vec3b>(1, 1)[c] + 0.25 * colours.at<cv::Vec3b>(1, 1)[c],
                1.0);
  // Jet at 1.0 is dark red (BGR: blue 0), at 0.0 dark blue.
  EXPECT_EQ(colours.at<cv::Vec3b>(0, 0)[0], 0);
  EXPECT_GT(colorize(cv::Mat(1, 1, CV_32FC1, cv::Scalar(0.0)), Colormap::jet).at<cv::Vec3b>(0, 0)[0], 100);
}

TEST(Render, ColormapNamesRoundTrip) {
  for (const auto& name : colormap_names()) EXPECT_EQ(to_string(parse_colormap(name)), name);
  EXPECT_THROW(parse_colormap("rainbow"), Error);
}

TEST(Render, SignedColormapNamesRoundTrip) {
  for (const auto& name : signed_colormap_names()) EXPECT_EQ(to_string(parse_signed_colormap(name)), name);
  EXPECT_THROW(parse_signed_colormap("viridis"), Error);
  EXPECT_EQ(ExplainOptions{}.signed_colormap, SignedColormap::orange_blue) << "colour-blind safe by default";
}

// A signed value is its sign's colour over the image at 0.6 * |value| / scale (capped), zero the image.
TEST(Render, SignedMapsBlendEachSignsColour) {
  const cv::Mat image(1, 4, CV_8UC3, cv::Scalar(100, 50, 200));
  cv::Mat values = (cv::Mat_<float>(1, 4) << 2.0f, -2.0f, 0.5f, 0.0f);
  for (const SignedColormap colormap : {SignedColormap::orange_blue, SignedColormap::red_blue, SignedColormap::red_green}) {
    const cv::Mat out = render_signed_map(image, values, 1.0, colormap);
    const cv::Vec3b pixel = image.at<cv::Vec3b>(0, 0);
    for (int c = 0; c < 3; ++c) {
      EXPECT_NEAR(out.at<cv::Vec3b>(0, 0)[c], 0.4 * pixel[c] + 0.6 * positive_colour(colormap)[c], 0.5) << to_string(colormap);
      EXPECT_NEAR(out.at<cv::Vec3b>(0, 1)[c], 0.4 * pixel[c] + 0.6 * negative_colour(colormap)[c], 0.5) << to_string(colormap);
      EXPECT_NEAR(out.at<cv::Vec3b>(0, 2)[c], 0.7 * pixel[c] + 0.3 * positive_colour(colormap)[c], 0.5) << to_string(colormap);
      EXPECT_EQ(out.at<cv::Vec3b>(0, 3)[c], pixel[c]);
    }
  }
  // Red-green is what xai drew before: green (0, 200, 0) for +, red (220, 0, 0) for - (RGB).
  EXPECT_EQ(positive_colour(SignedColormap::red_green), cv::Vec3b(0, 200, 0));
  EXPECT_EQ(negative_colour(SignedColormap::red_green), cv::Vec3b(0, 0, 220));
}

// Colour-blind safety, by simulation: a dichromat (protanope, deuteranope) sees colours along one
// yellow-blue axis (Viénot, Brettel & Mollon 1999, "Digital video colourmaps for checking the legibility
// of displays by dichromats", their linear-RGB projections). The two signs must fall on opposite sides
// of that axis (one yellowish, one bluish) to stay two hues; red-green's both turn yellow.
double yellow_blue_side(const cv::Vec3b& bgr, const double (&m)[3][3]) {
  auto linear = [](double v) {
    v /= 255.0;
    return v <= 0.04045 ? v / 12.92 : std::pow((v + 0.055) / 1.055, 2.4);
  };
  const double rgb[3] = {linear(bgr[2]), linear(bgr[1]), linear(bgr[0])};
  double seen[3];
  for (int r = 0; r < 3; ++r) seen[r] = m[r][0] * rgb[0] + m[r][1] * rgb[1] + m[r][2] * rgb[2];
  return seen[2] - (seen[0] + seen[1]) / 2;  // blue minus yellow
}

TEST(Render, SignedColoursStayTwoHuesForRedGreenColourBlindness) {
  const double protan[3][3] = {{0.11238, 0.88762, 0}, {0.11238, 0.88762, 0}, {0.00401, -0.00401, 1}};
  const double deutan[3][3] = {{0.29275, 0.70725, 0}, {0.29275, 0.70725, 0}, {-0.02234, 0.02234, 1}};
  for (const auto* m : {&protan, &deutan}) {
    for (const SignedColormap colormap : {SignedColormap::orange_blue, SignedColormap::red_blue})
      EXPECT_LT(yellow_blue_side(positive_colour(colormap), *m) * yellow_blue_side(negative_colour(colormap), *m), 0)
          << to_string(colormap);
    EXPECT_GT(yellow_blue_side(positive_colour(SignedColormap::red_green), *m) *
                  yellow_blue_side(negative_colour(SignedColormap::red_green), *m),
              0)
        << "the test can fail: red-green's signs are one hue to a dichromat";
  }
}

TEST(Render, PngBytesDecode) {
  cv::Mat image(4, 7, CV_8UC3, cv::Scalar(1, 2, 3));
  const std::string bytes = encode_png(image, "x");
  const cv::Mat decoded = cv::imdecode(std::vector<uchar>(bytes.begin(), bytes.end()), cv::IMREAD_COLOR);
  EXPECT_EQ(cv::norm(decoded, image, cv::NORM_INF), 0.0);
}

}  // namespace
}  // namespace xai
