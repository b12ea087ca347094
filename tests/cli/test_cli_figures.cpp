// Figures as a reader gets them: STEM.METHOD.figure.png beside every overlay (explain; batch with
// --figures), small inputs enlarged by whole factors, --background gray, and colour bars whose ends
// are the colours the map's extremes are drawn in.
#include "cli_fixture.hpp"

#include <opencv2/imgproc.hpp>
#include <set>

#include "output/figure.hpp"

namespace {

using namespace xai::e2e;
namespace fs = std::filesystem;
using nlohmann::json;

using CliFigures = CliTest;
using Args = std::vector<std::string>;

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
  EXPECT_GT(top[2], top[0] + 60);        // orange: evidence for the class
  EXPECT_GT(bottom[0], bottom[2] + 60);  // blue: against
  // Red-green on request; a colour map of a kind no chosen method draws is refused.
  ASSERT_EQ(explain(model("tiny-scripted.pt"), image,
                    {"--method", "lime", "--samples", "60", "--segments", "12", "--colormap", "red-green"}).code, 0);
  EXPECT_EQ(read_json(out_dir() / "patch.json").at("rendering").at("signed_colormap"), "red-green");
  const cv::Mat red_green = cv::imread((out_dir() / "patch.lime.figure.png").string());
  EXPECT_GT(red_green.at<cv::Vec3b>(bar.at("y").get<int>(), bar.at("x").get<int>() + 4)[1], top[1] + 30);  // green
  fs::remove_all(out_dir());  // a refused run writes nothing: checked on an empty folder
  expect_error(explain(model("tiny-scripted.pt"), image, {"--method", "lime", "--colormap", "viridis"}), 2,
               {"--colormap viridis", "unsigned"});
  expect_error(explain(model("tiny-scripted.pt"), image, {"--colormap", "red-blue"}), 2, {"--colormap red-blue", "signed"});
  expect_error(explain(model("tiny-scripted.pt"), image, {"--method", "gradcam,lime", "--colormap", "jet,turbo"}), 2,
               {"one colour map of each kind"});
  const RunResult both = explain(model("tiny-scripted.pt"), image,
                                 {"--method", "gradcam,lime", "--samples", "60", "--colormap", "inferno,red-blue"});
  ASSERT_EQ(both.code, 0) << both;
  const json rendering = read_json(out_dir() / "patch.json").at("rendering");
  EXPECT_EQ(rendering.at("colormap"), "inferno");
  EXPECT_EQ(rendering.at("signed_colormap"), "red-blue");
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
  // --panel alone: the panels (in the journal format asked for), no per-map figures; a rerun with it
  // redraws results that lack it (part of the rendering's identity), and the gallery shows it.
  RunResult panel = xai({"batch", "-m", model("tiny-scripted.pt"), "--panel", "--figure-format", "svg", in("set").string(),
                         "-o", out.string()});
  ASSERT_EQ(panel.code, 0) << panel;
  EXPECT_TRUE(fs::exists(out / "a.panel.svg"));
  EXPECT_TRUE(fs::exists(out / "b.panel.svg"));
  EXPECT_FALSE(fs::exists(out / "a.gradcam.figure.png"));
  EXPECT_NE(read_bytes(out / "index.html").find("a.panel.svg"), std::string::npos);
  // Discovery never takes a panel for an input.
  panel = xai({"batch", "-m", model("tiny-scripted.pt"), "--panel", "--figure-format", "svg", out.string(), "-o",
               (root_ / "again").string()});
  EXPECT_EQ(panel.code, 0) << panel;
  EXPECT_NE(panel.err.find("no images found"), std::string::npos) << panel;  // every file there is an output
}

TEST_F(CliFigures, LimeAllClassesPanelSharesOneScaleAndShowsTheMostNegativeRegions) {
  const fs::path image = write_image("patch.png", test_image(96, 96));
  ASSERT_EQ(explain(model("tiny-scripted.pt"), image,
                    {"--method", "lime", "--samples", "80", "--segments", "12", "--all-classes", "--num-features", "3"})
                .code,
            0);
  const json report = read_json(out_dir() / "patch.json");
  ASSERT_EQ(report.at("explanations").size(), 3u);
  double largest = 0;
  for (const auto& entry : report.at("explanations")) {
    for (const auto& w : entry.at("weights")) largest = std::max(largest, std::abs(w.get<double>()));
    EXPECT_EQ(entry.at("files").at("classes"), "patch.lime-classes.png");
  }
  // The panel: the original and one panel per class; the bar's ends are the largest weight of any
  // class: a class whose weights are all smaller is drawn paler than in its own overlay.
  const cv::Mat panel = cv::imread((out_dir() / "patch.lime-classes.png").string());
  ASSERT_FALSE(panel.empty());
  EXPECT_GE(panel.cols, 4 * 384);
  // The K most positive and the K most negative regions: 3 each shown, the rest dimmed.
  for (const auto& entry : report.at("explanations")) {
    const std::string label = entry.at("target").at("label");
    std::vector<double> weights;
    for (const auto& w : entry.at("weights")) weights.push_back(w.get<double>());
    const cv::Mat segments = cv::imread((out_dir() / "patch.lime-segments.png").string(), cv::IMREAD_UNCHANGED);
    ASSERT_EQ(segments.type(), CV_16UC1);
    for (const bool negative : {false, true}) {
      SCOPED_TRACE(label + (negative ? " bottom" : " top"));
      const cv::Mat view = cv::imread((out_dir() / ("patch.lime-" + std::string(negative ? "bottom." : "top.") + label + ".png")).string());
      ASSERT_EQ(view.size(), cv::Size(384, 384));
      std::vector<size_t> order(weights.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return negative ? weights[a] < weights[b] : weights[a] > weights[b]; });
      std::set<int> shown;
      for (size_t i = 0; i < 3 && i < order.size() && (negative ? weights[order[i]] < 0 : weights[order[i]] > 0); ++i)
        shown.insert(static_cast<int>(order[i]));
      // A region's centre pixel (96 px, enlarged 4x) is the image itself when shown, a quarter of it when not.
      const cv::Mat original = test_image(96, 96);
      int checked = 0;
      for (int y = 2; y < 96; y += 7)
        for (int x = 2; x < 96; x += 7) {
          const int region = segments.at<uint16_t>(y, x);
          // Inside a region (not on a boundary): its 3x3 neighbourhood is the same region.
          bool interior = y > 0 && x > 0 && y < 95 && x < 95;
          for (int dy = -1; dy <= 1 && interior; ++dy)
            for (int dx = -1; dx <= 1 && interior; ++dx) interior = segments.at<uint16_t>(y + dy, x + dx) == region;
          if (!interior) continue;
          const cv::Vec3b at = view.at<cv::Vec3b>(4 * y + 2, 4 * x + 2), pixel = original.at<cv::Vec3b>(y, x);
          for (int c = 0; c < 3; ++c)
            EXPECT_NEAR(at[c], shown.count(region) ? pixel[c] : pixel[c] * 0.25, 1.0) << region << " at " << x << "," << y;
          ++checked;
        }
      EXPECT_GT(checked, 50);
    }
  }
}

TEST_F(CliFigures, EvalSavesOverlaysWithTheMasksOutline) {
  const std::string examples = xai::test::example_patches();
  const fs::path overlays = root_ / "overlays";
  const RunResult r = xai({"eval", examples, "--save-overlays", overlays.string(), "--json", "-"});
  ASSERT_EQ(r.code, 0) << r;
  const json report = json::parse(r.out);
  int with_outline = 0;
  for (const auto& image : report.at("per_image")) {
    ASSERT_EQ(image.at("overlays").size(), 1u) << image.dump();
    const cv::Mat overlay = cv::imread(image.at("overlays")[0].get<std::string>());
    ASSERT_EQ(overlay.size(), cv::Size(384, 384));  // 96 px patches, enlarged
    cv::Mat white;
    // The line is antialiased; no blend of the image with the colour map is this light in all three channels.
    cv::inRange(overlay, cv::Scalar(200, 200, 200), cv::Scalar(255, 255, 255), white);
    if (image.at("mask").is_null()) {
      EXPECT_EQ(cv::countNonZero(white), 0) << image.at("path");
      continue;
    }
    // The outline runs along the mask's boundary: every white pixel is within a few pixels of it.
    cv::Mat mask = cv::imread(image.at("mask").get<std::string>(), cv::IMREAD_GRAYSCALE) > 0, big, edge;
    cv::resize(mask, big, {384, 384}, 0, 0, cv::INTER_NEAREST);
    // (With zeros outside the image: a mask cut by the image's edge is outlined along it too.)
    cv::Mat padded;
    cv::copyMakeBorder(big, padded, 4, 4, 4, 4, cv::BORDER_CONSTANT, cv::Scalar(0));
    cv::morphologyEx(padded, edge, cv::MORPH_GRADIENT, cv::getStructuringElement(cv::MORPH_RECT, {7, 7}));
    edge = edge(cv::Rect(4, 4, 384, 384)).clone();
    EXPECT_GT(cv::countNonZero(white), 100) << image.at("path");
    EXPECT_EQ(cv::countNonZero(white & ~edge), 0) << image.at("path");
    ++with_outline;
  }
  EXPECT_EQ(with_outline, 3);
  // Without --save-overlays eval draws nothing, so the look of overlays is refused.
  const RunResult refused = xai({"eval", examples, "--colormap", "jet"});
  EXPECT_EQ(refused.code, 2) << refused;
  EXPECT_NE(refused.err.find("--save-overlays"), std::string::npos) << refused;
}

// Journal figures end to end: --figure-format svg/pdf writes STEM.METHOD.figure.svg/.pdf (pdftotext
// reads the header back), --dpi a print PNG; the report names the file, format and dpi; where no
// figure is written, or a dpi would be ignored, the options are refused.
TEST_F(CliFigures, FigureFormatsAndDpiForJournals) {
  const fs::path image = write_image("patch.png", test_image(96, 96));
  ASSERT_EQ(explain(model("tiny-scripted.pt"), image, {"--figure-format", "pdf"}).code, 0);
  EXPECT_TRUE(fs::exists(out_dir() / "patch.gradcam.figure.pdf"));
  EXPECT_FALSE(fs::exists(out_dir() / "patch.gradcam.figure.png"));
  const json pdf_entry = read_json(out_dir() / "patch.json").at("explanations").at(0);
  EXPECT_EQ(pdf_entry.at("files").at("figure"), "patch.gradcam.figure.pdf");
  EXPECT_EQ(pdf_entry.at("figure").at("format"), "pdf");
  EXPECT_EQ(pdf_entry.at("figure").at("colour_bar").at("units"), "pt");
  int status = 0;
  const std::string text = xai::test::run_command("pdftotext " + (out_dir() / "patch.gradcam.figure.pdf").string() + " -", &status);
  ASSERT_EQ(status, 0);
  EXPECT_NE(text.find("method: gradcam"), std::string::npos) << text;

  ASSERT_EQ(explain(model("tiny-scripted.pt"), image, {"--figure-format", "svg", "--method", "lime", "--samples", "40"}).code, 0);
  const std::string svg = read_bytes(out_dir() / "patch.lime.figure.svg");
  EXPECT_NE(svg.find("<text"), std::string::npos);
  EXPECT_NE(svg.find("method: lime"), std::string::npos);

  ASSERT_EQ(explain(model("tiny-scripted.pt"), image, {"--dpi", "600"}).code, 0);
  const json png_entry = read_json(out_dir() / "patch.json").at("explanations").at(0);
  EXPECT_EQ(png_entry.at("figure").at("dpi"), 600.0);
  EXPECT_EQ(cv::imread((out_dir() / "patch.gradcam.figure.png").string()).cols, static_cast<int>(std::ceil(85 / 25.4 * 600)));

  fs::remove_all(out_dir());
  expect_error(explain(model("tiny-scripted.pt"), image, {"--figure-format", "svg", "--dpi", "300"}), 2, {"--dpi", "svg"});
  expect_error(explain(model("tiny-scripted.pt"), image, {"--figure-format", "pdf", "--no-figure"}), 2,
               {"--figure-format", "--no-figure"});
  expect_error(explain(model("tiny-scripted.pt"), image, {"--figure-format", "eps"}), 2, {"--figure-format"});
  expect_error(xai({"batch", "-m", model("tiny-scripted.pt"), image.string(), "-o", out_dir().string(), "--dpi", "300"}), 2,
               {"--dpi", "--figures"});
}

// The grids take the same formats: explain's layer grid, compare's and sanity's grids.
TEST_F(CliFigures, GridsInJournalFormats) {
  const fs::path image = write_image("patch.png", test_image(96, 96));
  ASSERT_EQ(explain(model("tiny-scripted.pt"), image, {"--layers", "auto-all", "--figure-format", "pdf"}).code, 0);
  int status = 0;
  const std::string layers = xai::test::run_command("pdftotext " + (out_dir() / "patch.gradcam-layers.pdf").string() + " -", &status);
  ASSERT_EQ(status, 0);
  EXPECT_NE(layers.find("each layer's map on its own 0..1 scale"), std::string::npos) << layers;

  const fs::path compared = root_ / "compared";
  ASSERT_EQ(xai({"compare", "-m", model("tiny-scripted.pt"), "-m", model("tiny-traced.pt"), image.string(), "-o",
                 compared.string(), "--figure-format", "svg"}).code, 0);
  const std::string svg = read_bytes(compared / "patch.compare.svg");
  EXPECT_NE(svg.find("<text"), std::string::npos);
  EXPECT_NE(svg.find("compare: patch.png"), std::string::npos);
  EXPECT_EQ(read_json(compared / "patch.compare.json").at("grid"), "patch.compare.svg");

  const fs::path sane = root_ / "sanity";
  const RunResult sanity = xai({"sanity", "-m", model("tiny-scripted.pt"), image.string(), "-o", sane.string(),
                                "--figure-format", "pdf"});
  ASSERT_EQ(sanity.code, 0) << sanity;
  EXPECT_TRUE(fs::exists(sane / "patch.sanity.pdf")) << sanity;
  const fs::path drift = root_ / "drift";
  const RunResult diff = xai({"diff", "-m", model("tiny-scripted.pt"), "-m", model("tiny-traced.pt"), image.string(), "-o",
                              drift.string(), "--figure-format", "pdf"});
  ASSERT_EQ(diff.code, 0) << diff;
  ASSERT_TRUE(fs::exists(drift / "patch.diff.pdf")) << diff;
  EXPECT_NE(read_bytes(drift / "index.html").find("<a href=\"patch.diff.pdf\""), std::string::npos);  // a link, not an <img>
  fs::remove_all(out_dir());  // the refusal must write nothing
  expect_error(xai({"sanity", "-m", model("tiny-scripted.pt"), image.string(), "-o", out_dir().string(),
                    "--no-grids", "--figure-format", "pdf"}),
               2, {"--figure-format", "--no-grids"});
}

// One figure per question, "what does each method see?": --panel writes STEM.panel.EXT with the
// original and one column per method, each map with its own colour bar and units; the report names it.
TEST_F(CliFigures, PanelShowsEveryMethodWithItsOwnColourBar) {
  const fs::path image = write_image("patch.png", test_image(96, 96));
  const Args methods = {"--method", "gradcam,lime,occlusion", "--samples", "40", "--segments", "8", "--panel", "--no-figure"};
  Args pdf = methods;
  pdf.insert(pdf.end(), {"--figure-format", "pdf"});
  const RunResult r = explain(model("tiny-scripted.pt"), image, pdf);
  ASSERT_EQ(r.code, 0) << r;
  ASSERT_TRUE(fs::exists(out_dir() / "patch.panel.pdf"));
  EXPECT_FALSE(fs::exists(out_dir() / "patch.gradcam.figure.pdf"));  // --no-figure: only the panel
  for (const auto& entry : read_json(out_dir() / "patch.json").at("explanations"))
    EXPECT_EQ(entry.at("files").at("panel"), "patch.panel.pdf");
  int status = 0;
  const std::string text = xai::test::run_command("pdftotext " + (out_dir() / "patch.panel.pdf").string() + " -", &status);
  ASSERT_EQ(status, 0);
  for (const std::string& piece : {"gradcam (", "lime", "occlusion", "regions", "map, upsampled", "relative (0 = map",
                                   "attribution (+ for the class", "methods: gradcam", "input 96x96 px"})
    EXPECT_NE(text.find(piece), std::string::npos) << piece << " not in:\n" << text;
  keep_artifact(out_dir() / "patch.panel.pdf");

  fs::remove_all(out_dir());
  ASSERT_EQ(explain(model("tiny-scripted.pt"), image, methods).code, 0);
  const cv::Mat png = cv::imread((out_dir() / "patch.panel.png").string());
  ASSERT_FALSE(png.empty());
  EXPECT_GE(png.cols, 4 * 384);  // four panels, each at its drawn size (96 px enlarged to 384)
  keep_artifact(out_dir() / "patch.panel.png");
}

// A multi-label model's findings: --targets above:P explains every class that reaches P (one panel
// row each); when none does, the most probable, and a warning says so. The flag is refused where it
// cannot apply.
TEST_F(CliFigures, TargetsAboveAThresholdExplainEveryFinding) {
  const fs::path image = write_image("patch.png", test_image(40, 40));
  const std::string multilabel = kTestData + "/head-multilabel.pt";
  const Args occlusion = {"--method", "occlusion", "--window", "8", "--panel"};
  auto with = [&](Args extra) {
    extra.insert(extra.begin(), occlusion.begin(), occlusion.end());
    return extra;
  };
  ASSERT_EQ(explain(multilabel, image, with({"--targets", "above:0.000001"})).code, 0);
  const json every = read_json(out_dir() / "patch.json");
  ASSERT_EQ(every.at("explanations").size(), 2u);
  EXPECT_EQ(every.at("explanations").at(0).at("parameters").at("target").at("kind"), "above");
  const auto& classes = every.at("prediction").at("classes");
  const double p0 = classes.at(0).at("probability"), p1 = classes.at(1).at("probability");
  EXPECT_EQ(every.at("explanations").at(0).at("target").at("label"), p0 >= p1 ? "effusion" : "nodule");
  keep_artifact(out_dir() / "patch.panel.png");

  fs::remove_all(out_dir());
  const RunResult none = explain(multilabel, image, with({"--targets", "above:1"}));
  ASSERT_EQ(none.code, 0) << none;
  EXPECT_NE(none.err.find("no class reaches probability 1"), std::string::npos) << none;
  const json one = read_json(out_dir() / "patch.json");
  EXPECT_EQ(one.at("explanations").size(), 1u);
  EXPECT_NE(one.at("warnings").dump().find("no class reaches probability 1"), std::string::npos);

  fs::remove_all(out_dir());
  for (const std::string& bad : {"above:0", "above:1.5", "above:", "top:3", "above:0.5x"})
    expect_error(explain(multilabel, image, with({"--targets", bad})), 2, {"--targets " + bad, "above:P"});
  expect_error(explain(multilabel, image, with({"--targets", "above:0.5", "--all-classes"})), 2, {"--all-classes"});
  expect_error(explain(multilabel, image, with({"--targets", "above:0.5", "-k", "2"})), 2, {"--targets"});
}
// A saturated probability (the demo model says malignant with p = 1 in float32 on this patch) moves under
// no perturbation: LIME's weights are all 0. The map is blank, and the warning and its title say why.
TEST_F(CliFigures, AConstantMapSaysSo) {
  const fs::path image = fs::path(xai::test::example_patches()) / "malignant-1.png";
  const RunResult r = explain(model("demo-histo.pt"), image, {"--method", "lime", "--samples", "40", "--panel", "--figure-format", "svg"});
  ASSERT_EQ(r.code, 0) << r;
  const json report = read_json(out_dir() / "malignant-1.json");
  ASSERT_EQ(report.at("prediction").at("classes").at(1).at("probability").get<double>(), 1.0)
      << "the patch must saturate the demo model for this test to mean anything";
  EXPECT_NE(r.err.find("lime: the map of malignant is constant (every value 0)"), std::string::npos) << r;
  EXPECT_NE(report.at("warnings").dump().find("is saturated"), std::string::npos);
  EXPECT_NE(read_bytes(out_dir() / "malignant-1.panel.svg").find("regions, all 0"), std::string::npos);
}

// --faithfulness draws its curves: STEM.faithfulness.EXT with each map's deletion and insertion curves
// beside the random order's, the areas in the legend equal to the report's.
TEST_F(CliFigures, FaithfulnessDrawsItsCurves) {
  const fs::path image = write_image("patch.png", test_image(96, 96));
  const Args args = {"--method", "gradcam,occlusion", "--window", "24", "--faithfulness", "--faithfulness-steps", "4",
                     "--figure-format", "pdf"};
  const RunResult r = explain(model("tiny-scripted.pt"), image, args);
  ASSERT_EQ(r.code, 0) << r;
  const json report = read_json(out_dir() / "patch.json");
  for (const auto& entry : report.at("explanations"))
    EXPECT_EQ(entry.at("files").at("faithfulness_curves"), "patch.faithfulness.pdf");
  int status = 0;
  const std::string text = xai::test::run_command("pdftotext " + (out_dir() / "patch.faithfulness.pdf").string() + " -", &status);
  ASSERT_EQ(status, 0);
  const double deletion = report.at("explanations").at(0).at("faithfulness").at("deletion_auc");
  for (const std::string& piece : std::vector<std::string>{"deletion (lower area", "insertion (higher area", "random order", "gradcam (layer2)",
                                   "occlusion", "deletion area " + xai::short_number(deletion)})
    EXPECT_NE(text.find(piece), std::string::npos) << piece << " not in:\n" << text;
  keep_artifact(out_dir() / "patch.faithfulness.pdf");
  // Without figures (--no-figure) no curves either; nothing else changes.
  fs::remove_all(out_dir());
  Args without = args;
  without.push_back("--no-figure");
  without.erase(without.end() - 3, without.end() - 1);  // drop --figure-format pdf: refused with --no-figure
  ASSERT_EQ(explain(model("tiny-scripted.pt"), image, without).code, 0);
  EXPECT_FALSE(fs::exists(out_dir() / "patch.faithfulness.png"));
}
}  // namespace
