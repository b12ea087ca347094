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

// A panel figure: each map with its own horizontal bar, `low` at the left and `high` at the right, in
// the scale's own colours (SVG gradient stops, PNG pixels); the units under it are real text.
struct PanelExample {
  std::vector<FigurePanel> panels;
  ColourScale cam, lime;
  PanelExample() {
    cv::Mat a(300, 400, CV_8UC3), b(300, 400, CV_8UC3), c(300, 400, CV_8UC3);
    cv::randu(a, 0, 256), cv::randu(b, 0, 256), cv::randu(c, 0, 256);
    cam.units = "relative (0 = map minimum, 1 = maximum)";
    lime.kind = ColourScale::Kind::signed_;
    lime.low = -0.125, lime.high = 0.125;
    lime.units = "attribution (+ for the class, - against)";
    panels = {{a, "original", std::nullopt}, {b, "gradcam\n7x7 map, upsampled", cam}, {c, "lime\n48 regions", lime}};
  }
};

TEST(PrintFigure, PanelsCarryTheirOwnBarsLowAtTheLeft) {
  const PanelExample e;
  PrintLayout layout;
  const std::string svg = print_panels(e.panels, {"model: demo"}, nullptr, 3, FigureFormat::svg, 0, &layout);
  ASSERT_EQ(layout.panel_bars.size(), 3u);
  EXPECT_TRUE(layout.panel_bars[0].empty());
  EXPECT_TRUE(layout.bar.empty());  // no figure-wide bar
  for (size_t i : {1u, 2u}) {
    EXPECT_GT(layout.panel_bars[i].width, 4 * layout.panel_bars[i].height) << "horizontal";
    EXPECT_GE(layout.panel_bars[i].y, layout.panels[i].br().y) << "under its panel";
  }
  pugi::xml_document document;
  ASSERT_TRUE(document.load_string(svg.c_str()));
  const pugi::xml_node root = document.child("svg");
  std::vector<pugi::xml_node> gradients;
  for (const auto& defs : root.children("defs")) gradients.push_back(defs.child("linearGradient"));
  ASSERT_EQ(gradients.size(), 2u);
  const ColourScale* scales[] = {&e.cam, &e.lime};
  for (size_t g = 0; g < 2; ++g) {
    EXPECT_STREQ(gradients[g].attribute("x2").value(), "1");
    std::vector<pugi::xml_node> stops(gradients[g].children("stop").begin(), gradients[g].children("stop").end());
    ASSERT_GE(stops.size(), 2u);
    EXPECT_EQ(std::string(stops.front().attribute("stop-color").value()), hex(scale_colour(*scales[g], scales[g]->low)));
    EXPECT_EQ(std::string(stops.back().attribute("stop-color").value()), hex(scale_colour(*scales[g], scales[g]->high)));
  }
  std::string all_text;
  for (const auto& t : root.children("text")) all_text += std::string(t.child_value()) + "\n";
  for (const std::string& piece : {"gradcam", "7x7 map, upsampled", "48 regions", "-0.125", "0.125", "attribution"})
    EXPECT_NE(all_text.find(piece), std::string::npos) << piece << " in\n" << all_text;
}

TEST(PrintFigure, ScreenPngShowsPanelsPixelForPixelAndBarEndsAreTheScalesEnds) {
  const PanelExample e;
  PrintLayout layout;
  const std::string png = print_panels(e.panels, {"model: demo"}, nullptr, 3, FigureFormat::png, 0, &layout);
  EXPECT_NEAR(layout.panels[1].width, 400, 1e-6);  // the resolution chosen so that panels keep their pixels
  EXPECT_EQ(layout.dpi, 150);
  const cv::Mat image = cv::imdecode(std::vector<uchar>(png.begin(), png.end()), cv::IMREAD_COLOR);
  ASSERT_FALSE(image.empty());
  for (size_t i : {1u, 2u}) {
    const ColourScale& scale = i == 1 ? e.cam : e.lime;
    const cv::Rect2d& bar = layout.panel_bars[i];
    const int y = static_cast<int>(bar.y + bar.height / 2);
    EXPECT_EQ(bar.x, std::round(bar.x)) << "on whole pixels";
    EXPECT_EQ(image.at<cv::Vec3b>(y, static_cast<int>(bar.x)), scale_colour(scale, scale.low)) << i;
    EXPECT_EQ(image.at<cv::Vec3b>(y, static_cast<int>(bar.br().x) - 1), scale_colour(scale, scale.high)) << i;
  }
}

TEST(PrintFigure, UnknownFormatsAreRefused) {
  EXPECT_EQ(parse_figure_format("svg"), FigureFormat::svg);
  EXPECT_THROW(parse_figure_format("eps"), Error);
}

}  // namespace
}  // namespace xai
