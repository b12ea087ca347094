// Journal figures (print_figure.hpp): the PDF's text is real text (poppler's pdftotext reads it back) on a
// page one journal column wide; the SVG parses as XML with <text> elements, its colour bar's gradient
// ends in the scale's end colours and its images are the panels at full resolution, pixel for pixel;
// the print PNG records its dpi and its bar's end rows are the scale's end colours.
#include <gtest/gtest.h>

#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <pugixml.hpp>

#include "core/text.hpp"
#include "output/print_figure.hpp"
#include "test_helpers.hpp"
#include "xai/error.hpp"

namespace xai {
namespace {

struct Example {
  std::vector<cv::Mat> panels;
  std::vector<std::string> titles = {"original", "gradcam (layer4)"};
  std::vector<std::string> header = {"model: histo-resnet50", "predicted: malignant (p=0.973)"};
  ColourScale scale;
  Example() {
    cv::Mat a(60, 80, CV_8UC3), b(60, 80, CV_8UC3);
    cv::randu(a, 0, 256);
    cv::randu(b, 0, 256);
    panels = {a, b};
    scale.colormap = Colormap::viridis;
    scale.units = "relative (0 = map minimum, 1 = maximum)";
  }
};

std::string hex(const cv::Vec3b& bgr) {
  char text[8];
  std::snprintf(text, sizeof text, "#%02x%02x%02x", bgr[2], bgr[1], bgr[0]);
  return text;
}

TEST(PrintFigure, PdfHasSelectableTextOnAOneColumnPage) {
  const Example e;
  PrintLayout layout;
  const std::string pdf = print_figure(e.panels, e.titles, e.header, &e.scale, 0, FigureFormat::pdf, 0, &layout);
  ASSERT_EQ(pdf.compare(0, 5, "%PDF-"), 0);
  EXPECT_EQ(layout.units, "pt");
  EXPECT_NEAR(layout.width, 85 * 72 / 25.4, 1e-6);
  test::TempDir dir;
  std::ofstream(dir.file("figure.pdf"), std::ios::binary) << pdf;
  int status = 0;
  const std::string text = test::run_command("pdftotext " + dir.file("figure.pdf") + " - 2>&1", &status);
  ASSERT_EQ(status, 0) << "pdftotext (Debian's poppler-utils) is needed: " << text;
  for (const std::string& line : {"model: histo-resnet50", "predicted: malignant (p=0.973)", "gradcam (layer4)", "original",
                                  "relative (0 = map minimum, 1 = maximum)"})
    EXPECT_NE(text.find(line), std::string::npos) << line << " not found in:\n" << text;
  const std::string info = test::run_command("pdfinfo " + dir.file("figure.pdf") + " 2>&1", &status);
  EXPECT_NE(info.find("240.94"), std::string::npos) << info;  // 85 mm wide
}

TEST(PrintFigure, SvgHasTextElementsTheBarsEndColoursAndThePanelsAtFullResolution) {
  Example e;
  e.scale.kind = ColourScale::Kind::signed_;
  e.scale.low = -0.25, e.scale.high = 0.25;
  PrintLayout layout;
  const std::string svg = print_figure(e.panels, e.titles, e.header, &e.scale, 0, FigureFormat::svg, 0, &layout);
  pugi::xml_document document;
  ASSERT_TRUE(document.load_string(svg.c_str())) << svg.substr(0, 400);
  const pugi::xml_node root = document.child("svg");
  ASSERT_TRUE(root);
  EXPECT_EQ(std::string(root.attribute("width").value()), "85.00mm");
  std::vector<std::string> texts;
  for (const auto& t : root.children("text")) texts.push_back(t.child_value());
  for (const std::string& line : {"model: histo-resnet50", "original", "gradcam (layer4)", "0.25", "-0.25"})
    EXPECT_NE(std::find(texts.begin(), texts.end(), line), texts.end()) << line;
  // The gradient runs from the top (high) to the bottom (low) in the scale's own colours.
  const pugi::xml_node gradient = root.child("defs").child("linearGradient");
  ASSERT_TRUE(gradient);
  std::vector<pugi::xml_node> stops(gradient.children("stop").begin(), gradient.children("stop").end());
  ASSERT_GE(stops.size(), 2u);
  EXPECT_EQ(std::string(stops.front().attribute("stop-color").value()), hex(scale_colour(e.scale, 0.25)));
  EXPECT_EQ(std::string(stops.back().attribute("stop-color").value()), hex(scale_colour(e.scale, -0.25)));
  EXPECT_DOUBLE_EQ(stops.back().attribute("offset").as_double(), 1.0);
  // Each panel embedded as a PNG of all its pixels.
  size_t index = 0;
  for (const auto& image : root.children("image")) {
    std::string href = image.attribute("xlink:href").value();
    const std::string prefix = "data:image/png;base64,";
    ASSERT_EQ(href.compare(0, prefix.size(), prefix), 0);
    const std::string png = base64_decode(href.substr(prefix.size()));
    const cv::Mat decoded = cv::imdecode(std::vector<uchar>(png.begin(), png.end()), cv::IMREAD_COLOR);
    ASSERT_LT(index, e.panels.size());
    EXPECT_EQ(cv::norm(decoded, e.panels[index], cv::NORM_INF), 0) << "panel " << index;
    ++index;
  }
  EXPECT_EQ(index, e.panels.size());
}

TEST(PrintFigure, PngAtADpiRecordsItAndItsBarEndsAreTheScalesEnds) {
  const Example e;
  PrintLayout layout;
  const std::string png = print_figure(e.panels, e.titles, e.header, &e.scale, 0, FigureFormat::png, 300, &layout);
  EXPECT_EQ(layout.units, "px");
  // pHYs after IHDR: 11811 pixels per metre (300 dpi), unit 1.
  ASSERT_GT(png.size(), 50u);
  EXPECT_EQ(png.substr(37, 4), "pHYs");
  const auto byte = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(png[i])); };
  EXPECT_EQ(byte(41) << 24 | byte(42) << 16 | byte(43) << 8 | byte(44), 11811u);
  EXPECT_EQ(byte(49), 1u);
  const cv::Mat image = cv::imdecode(std::vector<uchar>(png.begin(), png.end()), cv::IMREAD_COLOR);
  ASSERT_FALSE(image.empty()) << "a PNG with the pHYs chunk still decodes";
  EXPECT_EQ(image.cols, static_cast<int>(std::ceil(85 / 25.4 * 300)));
  // The bar's first and last whole pixel rows (its outline lies outside them): `high`'s and `low`'s colours.
  const int x = static_cast<int>(layout.bar.x + layout.bar.width / 2);
  const int top = static_cast<int>(std::ceil(layout.bar.y));
  const int bottom = static_cast<int>(std::floor(layout.bar.y + layout.bar.height)) - 1;
  EXPECT_EQ(image.at<cv::Vec3b>(top, x), scale_colour(e.scale, 1.0));
  EXPECT_EQ(image.at<cv::Vec3b>(bottom, x), scale_colour(e.scale, 0.0));
}

TEST(PrintFigure, UnknownFormatsAreRefused) {
  EXPECT_EQ(parse_figure_format("svg"), FigureFormat::svg);
  EXPECT_THROW(parse_figure_format("eps"), Error);
}

}  // namespace
}  // namespace xai
