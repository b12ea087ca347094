// End-to-end tests of the real `xai` binary: each test runs the executable (fork/exec, stdout and
// stderr captured to files) in a fresh temporary directory, on images the test writes itself with
// OpenCV and on the tiny models committed under models/. They check what a user sees: exit codes,
// one-line error messages, the exact set of output files, and the contents of the maps, overlays
// and JSON reports.
#include "cli_fixture.hpp"

namespace {

using namespace xai::e2e;
namespace fs = std::filesystem;
using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Happy paths
// ---------------------------------------------------------------------------------------------

using CliExplain = CliTest;

TEST_F(CliExplain, WritesOverlayMapAndReportAtTheOriginalSize) {
  const cv::Mat original = test_image(150, 97);
  const fs::path image = write_image("patch.png", original);
  const std::string model_file = model("tiny-scripted.pt");
  const RunResult r = explain(model_file, image);
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_TRUE(r.err.empty()) << "no warnings expected for a clean run\n" << r;
  EXPECT_NE(r.out.find("patch.png"), std::string::npos) << r;

  // Exactly the four outputs: no temporary files left behind.
  EXPECT_EQ(entries(out_dir()), (std::set<std::string>{"patch.gradcam.png", "patch.gradcam.npy", "patch.gradcam.figure.png", "patch.json"}))
      << join(entries(out_dir()));
  EXPECT_EQ(entries(in("")), std::set<std::string>{"patch.png"}) << "nothing written beside the image";

  const cv::Mat overlay = cv::imread((out_dir() / "patch.gradcam.png").string(), cv::IMREAD_UNCHANGED);
  ASSERT_FALSE(overlay.empty());
  // Enlarged by 4 (the shorter side 97 reaches the default --figure-size 384), pixels as blocks; the
  // stored map keeps the image's size.
  EXPECT_EQ(overlay.cols, 600);
  EXPECT_EQ(overlay.rows, 388);
  EXPECT_EQ(overlay.type(), CV_8UC3);

  const Map map = read_map(out_dir() / "patch.gradcam.npy");
  EXPECT_EQ(map.descr, "<f4");
  ASSERT_EQ(map.shape, (std::vector<size_t>{97, 150}));
  ASSERT_EQ(map.data.size(), 97u * 150u);
  const auto [lo, hi] = std::minmax_element(map.data.begin(), map.data.end());
  EXPECT_GE(*lo, 0.0f);
  EXPECT_LE(*hi, 1.0f);
  for (float v : map.data) ASSERT_TRUE(std::isfinite(v));

  const json report = read_json(out_dir() / "patch.json");
  ASSERT_TRUE(report.is_object());
  EXPECT_EQ(report.at("schema_version"), 1);
  EXPECT_TRUE(report.at("xai_version").is_string());
  const json& input = report.at("input");
  EXPECT_EQ(input.at("sha256").get<std::string>(), xai::sha256_hex(read_bytes(image)));
  EXPECT_EQ(input.at("sha256").get<std::string>().size(), 64u);
  EXPECT_EQ(input.at("width"), 150);
  EXPECT_EQ(input.at("height"), 97);
  EXPECT_EQ(input.at("channels"), 3);
  EXPECT_EQ(input.at("bit_depth"), 8);
  EXPECT_EQ(input.at("bytes").get<size_t>(), fs::file_size(image));
  EXPECT_EQ(report.at("model").at("sha256").get<std::string>(), xai::sha256_file_hex(model_file));
  EXPECT_EQ(report.at("model").at("labels"), (json{"benign", "malignant", "other"}));

  const json& prediction = report.at("prediction");
  double total = 0, best = -1;
  int best_index = -1;
  ASSERT_EQ(prediction.at("classes").size(), 3u);
  for (const auto& c : prediction.at("classes")) {
    const double p = c.at("probability").get<double>();
    EXPECT_GE(p, 0.0);
    EXPECT_LE(p, 1.0);
    total += p;
    if (p > best) best = p, best_index = c.at("index").get<int>();
  }
  EXPECT_NEAR(total, 1.0, 1e-5);
  EXPECT_EQ(prediction.at("index").get<int>(), best_index);
  EXPECT_NEAR(prediction.at("probability").get<double>(), best, 1e-7);
  EXPECT_EQ(prediction.at("logits").size(), 3u);

  EXPECT_EQ(report.at("method"), "gradcam");
  EXPECT_EQ(report.at("layers"), json{"layer2"});  // the card's target_layer
  ASSERT_EQ(report.at("explanations").size(), 1u);
  const json& explanation = report.at("explanations").at(0);
  EXPECT_EQ(explanation.at("method"), "gradcam");
  EXPECT_EQ(explanation.at("layer"), "layer2");
  EXPECT_EQ(explanation.at("target").at("index"), prediction.at("index"));  // default: the predicted class
  EXPECT_EQ(explanation.at("target").at("label"), prediction.at("label"));
  EXPECT_EQ(explanation.at("files").at("overlay"), "patch.gradcam.png");
  EXPECT_EQ(explanation.at("files").at("map"), "patch.gradcam.npy");
  const json& peak = explanation.at("stats").at("peak");
  const int px = peak.at("x").get<int>(), py = peak.at("y").get<int>();
  EXPECT_GE(px, 0);
  EXPECT_LT(px, 150);
  EXPECT_GE(py, 0);
  EXPECT_LT(py, 97);
  // The peak is the map's maximum, where the report says it is.
  EXPECT_FLOAT_EQ(map.data[static_cast<size_t>(py) * 150 + px], *hi);
  EXPECT_NEAR(peak.at("value").get<double>(), *hi, 1e-6);
  // Min-max normalised at the layer's 16x16 grid, then one bilinear resize: the maximum is near 1,
  // but not exactly 1 (pixel centres of the image do not fall on the grid's cell centres).
  EXPECT_EQ(explanation.at("map_resolution"), (json{16, 16}));
  if (!explanation.at("constant").get<bool>()) EXPECT_GT(*hi, 0.5f);

  const json& timings = report.at("timings_ms");
  for (const char* key : {"load_image", "preprocess", "gradcam", "write", "total"}) {
    ASSERT_TRUE(timings.contains(key)) << key << " in " << timings.dump();
    EXPECT_GE(timings.at(key).get<double>(), 0.0) << key;
  }
  EXPECT_GT(timings.at("total").get<double>(), 0.0);
  EXPECT_TRUE(report.at("warnings").empty()) << report.at("warnings").dump();
}

TEST_F(CliExplain, JsonDashPrintsOnlyTheReportOnStdout) {
  const fs::path image = write_image("patch.png", test_image(150, 97));
  const RunResult r = explain(model("tiny-scripted.pt"), image, {"--json", "-"});
  ASSERT_EQ(r.code, 0) << r;
  json printed;
  ASSERT_NO_THROW(printed = json::parse(r.out)) << "stdout must be exactly one JSON document\n" << r;
  EXPECT_EQ(printed, read_json(out_dir() / "patch.json")) << "the printed report is the written report";
  EXPECT_NE(r.err.find("patch.png"), std::string::npos) << "the human summary moves to stderr\n" << r;
}

TEST_F(CliExplain, DefaultOutputDirectoryIsBesideTheImage) {
  const fs::path image = write_image("patch.png", test_image(150, 97));
  // Absolute image path, from an unrelated working directory.
  RunResult r = xai({"explain", "--model", model("tiny-scripted.pt"), image.string()}, root_ / "io");
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(entries(in("xai-out")), (std::set<std::string>{"patch.gradcam.png", "patch.gradcam.npy", "patch.gradcam.figure.png", "patch.json"}));
  EXPECT_FALSE(fs::exists(root_ / "io" / "xai-out"));
  fs::remove_all(in("xai-out"));

  // Relative image path: xai-out beside it, relative to the working directory.
  r = xai({"explain", "--model", model("tiny-scripted.pt"), "in/patch.png"}, root_);
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(entries(in("xai-out")), (std::set<std::string>{"patch.gradcam.png", "patch.gradcam.npy", "patch.gradcam.figure.png", "patch.json"}));
  EXPECT_FALSE(fs::exists(root_ / "xai-out"));
}

TEST_F(CliExplain, JpegInput) {
  const fs::path image = write_image("photo.jpg", test_image(150, 97), {cv::IMWRITE_JPEG_QUALITY, 95});
  const RunResult r = explain(model("tiny-scripted.pt"), image);
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(entries(out_dir()), (std::set<std::string>{"photo.gradcam.png", "photo.gradcam.npy", "photo.gradcam.figure.png", "photo.json"}));
  EXPECT_EQ(read_map(out_dir() / "photo.gradcam.npy").shape, (std::vector<size_t>{97, 150}));
}

TEST_F(CliExplain, GrayImageWithRgbModelEqualsTheSameImageAsRgb) {
  cv::Mat gray;
  cv::cvtColor(test_image(150, 97), gray, cv::COLOR_BGR2GRAY);
  cv::Mat bgr;
  cv::cvtColor(gray, bgr, cv::COLOR_GRAY2BGR);
  const fs::path gray_path = write_image("gray.png", gray);
  const fs::path bgr_path = write_image("grayrgb.png", bgr);
  const RunResult r = xai({"explain", "--model", model("tiny-scripted.pt"), gray_path.string(), bgr_path.string(),
                           "-o", out_dir().string(), "--figure-size", "0"});
  ASSERT_EQ(r.code, 0) << r;
  const json report = read_json(out_dir() / "gray.json");
  EXPECT_EQ(report.at("input").at("channels"), 1);
  const Map a = read_map(out_dir() / "gray.gradcam.npy"), b = read_map(out_dir() / "grayrgb.gradcam.npy");
  EXPECT_EQ(a.shape, (std::vector<size_t>{97, 150}));
  EXPECT_LT(max_abs_diff(a, b), 1e-6) << "gray -> RGB repeats the channel";
  const cv::Mat overlay = cv::imread((out_dir() / "gray.gradcam.png").string(), cv::IMREAD_UNCHANGED);
  EXPECT_EQ(overlay.size(), cv::Size(150, 97));
  EXPECT_EQ(overlay.type(), CV_8UC3);
}

TEST_F(CliExplain, RgbImageWithGrayBinaryModel) {
  const fs::path image = write_image("patch.png", test_image(150, 97));
  for (const std::string name : {"tiny-binary-scripted.pt", "tiny-binary-traced.pt"}) {
    fs::remove_all(out_dir());
    const RunResult r = explain(model(name), image);
    ASSERT_EQ(r.code, 0) << name << "\n" << r;
    EXPECT_EQ(entries(out_dir()), (std::set<std::string>{"patch.gradcam.png", "patch.gradcam.npy", "patch.gradcam.figure.png", "patch.json"}));
    const json report = read_json(out_dir() / "patch.json");
    const json& classes = report.at("prediction").at("classes");
    ASSERT_EQ(classes.size(), 2u);
    EXPECT_NEAR(classes[0].at("probability").get<double>() + classes[1].at("probability").get<double>(), 1.0, 1e-6);
    EXPECT_EQ(report.at("prediction").at("logits").size(), 1u) << "single-logit sigmoid model";
    EXPECT_EQ(report.at("preprocessing").at("channels"), "gray");
    const Map map = read_map(out_dir() / "patch.gradcam.npy");
    EXPECT_EQ(map.shape, (std::vector<size_t>{97, 150}));
    for (float v : map.data) ASSERT_TRUE(v >= 0.0f && v <= 1.0f) << v;
  }
}

TEST_F(CliExplain, SixteenBitPngUsesTheFullRange) {
  cv::Mat gray8;
  cv::cvtColor(test_image(150, 97), gray8, cv::COLOR_BGR2GRAY);
  cv::Mat gray16;
  gray8.convertTo(gray16, CV_16U, 257.0);  // v * 257 / 65535 == v / 255
  ASSERT_EQ(gray16.at<uint16_t>(0, 0), gray8.at<uint8_t>(0, 0) * 257);
  const fs::path p8 = write_image("eight.png", gray8);
  const fs::path p16 = write_image("sixteen.png", gray16);
  const RunResult r = xai({"explain", "--model", model("tiny-scripted.pt"), p8.string(), p16.string(), "-o",
                           out_dir().string(), "--alpha", "0", "--figure-size", "0"});
  ASSERT_EQ(r.code, 0) << r;
  const json report = read_json(out_dir() / "sixteen.json");
  EXPECT_EQ(report.at("input").at("bit_depth"), 16);
  EXPECT_TRUE(report.at("warnings").empty()) << report.at("warnings").dump();
  EXPECT_NEAR(report.at("prediction").at("probability").get<double>(),
              read_json(out_dir() / "eight.json").at("prediction").at("probability").get<double>(), 1e-6);
  EXPECT_LT(max_abs_diff(read_map(out_dir() / "eight.gradcam.npy"), read_map(out_dir() / "sixteen.gradcam.npy")),
            1e-5);
  // With --alpha 0 the overlay is the image itself, brought to 8 bits by its full range.
  cv::Mat expected;
  cv::cvtColor(gray8, expected, cv::COLOR_GRAY2BGR);
  const cv::Mat overlay = cv::imread((out_dir() / "sixteen.gradcam.png").string(), cv::IMREAD_UNCHANGED);
  EXPECT_EQ(overlay.depth(), CV_8U);
  EXPECT_LE(max_pixel_diff(overlay, expected), 1.0);
}

TEST_F(CliExplain, AlphaChannelIsDroppedWithAWarning) {
  const cv::Mat bgr = test_image(150, 97);
  cv::Mat alpha(97, 150, CV_8UC1);
  cv::RNG(3).fill(alpha, cv::RNG::UNIFORM, 0, 256);
  cv::Mat bgra;
  cv::merge(std::vector<cv::Mat>{bgr, alpha}, bgra);
  const fs::path with_alpha = write_image("alpha.png", bgra);
  const fs::path without = write_image("plain.png", bgr);
  const RunResult r = xai({"explain", "--model", model("tiny-scripted.pt"), with_alpha.string(), without.string(),
                           "-o", out_dir().string(), "--figure-size", "0"});
  ASSERT_EQ(r.code, 0) << r;
  const json report = read_json(out_dir() / "alpha.json");
  EXPECT_EQ(report.at("input").at("channels"), 4);
  ASSERT_EQ(report.at("warnings").size(), 1u) << report.at("warnings").dump();
  EXPECT_NE(report.at("warnings")[0].get<std::string>().find("alpha"), std::string::npos);
  EXPECT_TRUE(read_json(out_dir() / "plain.json").at("warnings").empty());
  EXPECT_LT(max_abs_diff(read_map(out_dir() / "alpha.gradcam.npy"), read_map(out_dir() / "plain.gradcam.npy")), 1e-6)
      << "alpha is dropped, not blended";
  // The warning is also shown, as one line naming the image.
  EXPECT_EQ(count_lines(r.err), 1u) << r;
  EXPECT_EQ(r.err.rfind("xai: warning: ", 0), 0u) << r;
  EXPECT_NE(r.err.find("alpha.png"), std::string::npos) << r;
  const cv::Mat overlay = cv::imread((out_dir() / "alpha.gradcam.png").string(), cv::IMREAD_UNCHANGED);
  EXPECT_EQ(overlay.size(), cv::Size(150, 97));
  EXPECT_EQ(overlay.channels(), 3);
}

TEST_F(CliExplain, OnePixelImage) {
  const fs::path image = write_image("dot.png", cv::Mat(1, 1, CV_8UC3, cv::Scalar(10, 200, 90)));
  const RunResult r = explain(model("tiny-scripted.pt"), image);
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(entries(out_dir()), (std::set<std::string>{"dot.gradcam.png", "dot.gradcam.npy", "dot.gradcam.figure.png", "dot.json"}));
  const Map map = read_map(out_dir() / "dot.gradcam.npy");
  ASSERT_EQ(map.shape, (std::vector<size_t>{1, 1}));
  EXPECT_TRUE(std::isfinite(map.data[0]) && map.data[0] >= 0.0f && map.data[0] <= 1.0f) << map.data[0];
  const cv::Mat overlay = cv::imread((out_dir() / "dot.gradcam.png").string(), cv::IMREAD_UNCHANGED);
  EXPECT_EQ(overlay.size(), cv::Size(384, 384));  // enlarged to --figure-size: one block
  const json report = read_json(out_dir() / "dot.json");
  const json& peak = report.at("explanations").at(0).at("stats").at("peak");
  EXPECT_EQ(peak.at("x"), 0);
  EXPECT_EQ(peak.at("y"), 0);
}

TEST_F(CliExplain, TopKWritesOneOverlayPerClassNamedByLabel) {
  const fs::path image = write_image("patch.png", test_image(150, 97));
  const RunResult r = explain(model("tiny-scripted.pt"), image, {"--top-k", "2", "--figure-size", "0"});
  ASSERT_EQ(r.code, 0) << r;
  const json report = read_json(out_dir() / "patch.json");
  // The two most probable labels, in order.
  std::vector<std::pair<double, std::string>> ranked;
  for (const auto& c : report.at("prediction").at("classes"))
    ranked.emplace_back(c.at("probability").get<double>(), c.at("label").get<std::string>());
  std::sort(ranked.rbegin(), ranked.rend());
  const std::string first = ranked[0].second, second = ranked[1].second;
  EXPECT_EQ(entries(out_dir()),
            (std::set<std::string>{"patch.gradcam." + first + ".png", "patch.gradcam." + first + ".npy",
                                   "patch.gradcam." + first + ".figure.png", "patch.gradcam." + second + ".png",
                                   "patch.gradcam." + second + ".npy", "patch.gradcam." + second + ".figure.png",
                                   "patch.json"}))
      << join(entries(out_dir()));
  ASSERT_EQ(report.at("explanations").size(), 2u);
  EXPECT_EQ(report.at("explanations")[0].at("target").at("label"), first);
  EXPECT_EQ(report.at("explanations")[1].at("target").at("label"), second);
  EXPECT_EQ(report.at("explanations")[1].at("files").at("overlay"), "patch.gradcam." + second + ".png");
  for (const auto& label : {first, second}) {
    const cv::Mat overlay = cv::imread((out_dir() / ("patch.gradcam." + label + ".png")).string());
    EXPECT_EQ(overlay.size(), cv::Size(150, 97));
    EXPECT_EQ(read_map(out_dir() / ("patch.gradcam." + label + ".npy")).shape, (std::vector<size_t>{97, 150}));
  }
}

TEST_F(CliExplain, TargetClassByLabelOrIndexGivesTheSameMap) {
  const fs::path image = write_image("patch.png", test_image(150, 97));
  RunResult r = explain(model("tiny-scripted.pt"), image, {"--target-class", "malignant"});
  ASSERT_EQ(r.code, 0) << r;
  const Map by_label = read_map(out_dir() / "patch.gradcam.npy");
  const json report = read_json(out_dir() / "patch.json");
  EXPECT_EQ(report.at("explanations")[0].at("target").at("index"), 1);
  EXPECT_EQ(report.at("explanations")[0].at("target").at("label"), "malignant");
  fs::remove_all(out_dir());

  r = explain(model("tiny-scripted.pt"), image, {"--target-class", "1"});
  ASSERT_EQ(r.code, 0) << r;
  const Map by_index = read_map(out_dir() / "patch.gradcam.npy");
  ASSERT_EQ(by_index.shape, by_label.shape);
  EXPECT_EQ(max_abs_diff(by_label, by_index), 0.0f);
  fs::remove_all(out_dir());

  // A different class gives a different map (the flag is not ignored).
  r = explain(model("tiny-scripted.pt"), image, {"-t", "other"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_GT(max_abs_diff(by_label, read_map(out_dir() / "patch.gradcam.npy")), 1e-3);
}

TEST_F(CliExplain, UnknownTargetClassIsAUsageError) {
  const fs::path image = write_image("patch.png", test_image(150, 97));
  expect_error(explain(model("tiny-scripted.pt"), image, {"--target-class", "nope"}), 2,
               {"--target-class", "nope", "malignant"});
  expect_error(explain(model("tiny-scripted.pt"), image, {"--target-class", "3"}), 2, {"--target-class", "3"});
}

TEST_F(CliExplain, TracedAndScriptedModelsGiveTheSameMap) {
  const fs::path image = write_image("patch.png", test_image(150, 97));
  for (const std::string family : {"tiny", "tiny-binary"}) {
    std::map<std::string, Map> maps;
    std::map<std::string, json> reports;
    for (const std::string mode : {"scripted", "traced"}) {
      fs::remove_all(out_dir());
      const RunResult r = explain(model(family + "-" + mode + ".pt"), image);
      ASSERT_EQ(r.code, 0) << family << "-" << mode << "\n" << r;
      maps[mode] = read_map(out_dir() / "patch.gradcam.npy");
      reports[mode] = read_json(out_dir() / "patch.json");
    }
    ASSERT_EQ(maps["scripted"].shape, (std::vector<size_t>{97, 150}));
    EXPECT_LT(max_abs_diff(maps["scripted"], maps["traced"]), 1e-5) << family;
    EXPECT_EQ(reports["scripted"].at("prediction").at("index"), reports["traced"].at("prediction").at("index"));
    EXPECT_NE(reports["scripted"].at("model").at("sha256"), reports["traced"].at("model").at("sha256"));
  }
}

TEST_F(CliExplain, ColormapsAndAlpha) {
  const cv::Mat original = test_image(150, 97);
  const fs::path image = write_image("patch.png", original);
  std::map<std::string, cv::Mat> overlays;
  Map map;
  for (const std::string colormap : {"jet", "turbo", "viridis", "inferno"}) {
    fs::remove_all(out_dir());
    const RunResult r = explain(model("tiny-scripted.pt"), image, {"--colormap", colormap, "--alpha", "1", "--figure-size", "0"});
    ASSERT_EQ(r.code, 0) << colormap << "\n" << r;
    map = read_map(out_dir() / "patch.gradcam.npy");
    overlays[colormap] = cv::imread((out_dir() / "patch.gradcam.png").string(), cv::IMREAD_UNCHANGED);
    ASSERT_EQ(overlays[colormap].size(), cv::Size(150, 97)) << colormap;
    // --alpha 1: the overlay is the colour-mapped map alone.
    const cv::Mat expected = xai::colorize(map_mat(map), xai::parse_colormap(colormap));
    EXPECT_LE(max_pixel_diff(overlays[colormap], expected), 1.0) << colormap;
  }
  EXPECT_GT(max_pixel_diff(overlays["jet"], overlays["turbo"]), 10.0);
  EXPECT_GT(max_pixel_diff(overlays["viridis"], overlays["inferno"]), 10.0);

  // --alpha 0: the overlay is the original image.
  fs::remove_all(out_dir());
  RunResult r = explain(model("tiny-scripted.pt"), image, {"--alpha", "0", "--figure-size", "0"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(max_pixel_diff(cv::imread((out_dir() / "patch.gradcam.png").string(), cv::IMREAD_UNCHANGED), original),
            0.0);

  // Default: viridis at 0.5, halfway between the two.
  fs::remove_all(out_dir());
  r = explain(model("tiny-scripted.pt"), image, {"--figure-size", "0"});
  ASSERT_EQ(r.code, 0) << r;
  cv::Mat expected;
  cv::addWeighted(original, 0.5, xai::colorize(map_mat(map), xai::Colormap::viridis), 0.5, 0.0, expected);
  EXPECT_LE(max_pixel_diff(cv::imread((out_dir() / "patch.gradcam.png").string(), cv::IMREAD_UNCHANGED), expected),
            1.0);

  fs::remove_all(out_dir());
  expect_error(explain(model("tiny-scripted.pt"), image, {"--colormap", "rainbow"}), 2, {"--colormap", "rainbow"});
}

// ---------------------------------------------------------------------------------------------
// Bad input: documented exit code, one line naming the culprit, no outputs
// ---------------------------------------------------------------------------------------------

using CliBadInput = CliTest;

TEST_F(CliBadInput, MissingImage) {
  const fs::path image = in("missing.png");
  expect_error(explain(model("tiny-scripted.pt"), image), 3, {image.string()});
}

TEST_F(CliBadInput, EmptyImage) {
  const fs::path image = in("empty.png");
  write_bytes(image, "");
  expect_error(explain(model("tiny-scripted.pt"), image), 3, {image.string(), "empty"});
}

TEST_F(CliBadInput, TextFileNamedPng) {
  const fs::path image = in("notes.png");
  write_bytes(image, "these are not the pixels you are looking for\nsecond line\n");
  expect_error(explain(model("tiny-scripted.pt"), image), 3, {image.string()});
}

// A damaged byte inside IDAT with the file's end intact: libpng used to print its own
// "libpng error: IDAT: CRC error" line before xai's, so the error was two lines.
TEST_F(CliBadInput, CorruptPngWithIntactEnd) {
  const fs::path full = write_image("full.png", test_image(150, 97));
  std::string bytes = read_bytes(full);
  const size_t idat = bytes.find("IDAT");
  ASSERT_NE(idat, std::string::npos);
  ASSERT_GT(bytes.size(), idat + 200);
  for (size_t i = idat + 40; i < idat + 60; ++i) bytes[i] = static_cast<char>(bytes[i] ^ 0x5a);
  const fs::path image = in("damaged.png");
  write_bytes(image, bytes);
  expect_error(explain(model("tiny-scripted.pt"), image), 3, {image.string(), "corrupt PNG", "IDAT"});
}

// An IHDR claiming 0xFFFFFFFF x 0xFFFFFFFF: the pixel count overflowed a signed 64-bit product and
// slipped past the size check (libpng then printed its own line). It must be refused by size.
TEST_F(CliBadInput, PngHeaderWithAbsurdDimensions) {
  std::string bytes = read_bytes(write_image("full.png", test_image(150, 97)));
  for (size_t i = 16; i < 24; ++i) bytes[i] = '\xff';
  const fs::path image = in("absurd.png");
  write_bytes(image, bytes);
  expect_error(explain(model("tiny-scripted.pt"), image), 3, {image.string(), "over the limit"});
}

// libjpeg only *warns* about damaged entropy-coded data ("Corrupt JPEG data: premature end of data
// segment") and fills the rest with grey; OpenCV passed such a JPEG on with exit 0. xai decodes JPEGs
// with a libjpeg error manager that turns warnings into errors.
TEST_F(CliBadInput, CorruptJpegWithIntactEnd) {
  std::string bytes = read_bytes(write_image("full.jpg", test_image(150, 97)));
  for (size_t i = bytes.size() / 2; i < bytes.size() / 2 + 300; ++i) bytes[i] = static_cast<char>(i * 37);
  const fs::path image = in("damaged.jpg");
  write_bytes(image, bytes);
  expect_error(explain(model("tiny-scripted.pt"), image), 3, {image.string(), "corrupt JPEG"});
}

// A file cut in half. PNG and JPEG are checked for their end markers and say "truncated"; for
// BMP/PNM/PFM/HDR/JPEG 2000 OpenCV 4.6's imdecode writes its own lines ("imdecode_(''): can't read
// data: OpenCV(4.6.0) ..." and an empty line, or "[ERROR:0@...]" log lines) to stderr, which the CLI
// filters so the error stays one line.
struct TruncatedCase {
  std::string extension;
  std::string fragment;  // besides the file name
};

class CliTruncated : public CliTest, public ::testing::WithParamInterface<TruncatedCase> {};

TEST_P(CliTruncated, IsOneLine) {
  const std::string extension = GetParam().extension;
  const std::string bytes = read_bytes(write_image("full" + extension, test_image(150, 97)));
  ASSERT_GT(bytes.size(), 100u);
  const fs::path image = in("cut" + extension);
  write_bytes(image, bytes.substr(0, bytes.size() / 2));
  std::vector<std::string> fragments = {image.string()};
  if (!GetParam().fragment.empty()) fragments.push_back(GetParam().fragment);
  expect_error(explain(model("tiny-scripted.pt"), image), 3, fragments);
}

INSTANTIATE_TEST_SUITE_P(Formats, CliTruncated,
                         ::testing::Values(TruncatedCase{".png", "truncated"}, TruncatedCase{".jpg", "truncated"},
                                           TruncatedCase{".bmp", ""}, TruncatedCase{".ppm", ""},
                                           TruncatedCase{".pfm", ""}, TruncatedCase{".hdr", ""},
                                           TruncatedCase{".jp2", ""}),
                         [](const auto& info) { return info.param.extension.substr(1); });

TEST_F(CliBadInput, UnknownFlag) {
  const fs::path image = write_image("patch.png", test_image(150, 97));
  expect_error(explain(model("tiny-scripted.pt"), image, {"--bogus-flag"}), 2, {"--bogus-flag"});
}

TEST_F(CliBadInput, UnknownMethod) {
  const fs::path image = write_image("patch.png", test_image(150, 97));
  expect_error(explain(model("tiny-scripted.pt"), image, {"--method", "shap"}), 2, {"--method", "shap", "gradcam"});
}

// CLI11's PositiveNumber printed a 309-digit upper bound; the message must say what is expected.
TEST_F(CliBadInput, IntegerRangeMessagesAreShort) {
  const fs::path image = write_image("patch.png", test_image(150, 97));
  for (const auto& [flag, value] : std::vector<std::pair<std::string, std::string>>{
           {"--top-k", "0"}, {"--probe-batch", "-3"}, {"--compactness", "0"}}) {
    const RunResult r = explain(model("tiny-scripted.pt"), image, {flag, value});
    expect_error(r, 2, {flag, "'" + value + "'"});
    EXPECT_LT(r.err.size(), 120u) << r;
  }
}

TEST_F(CliBadInput, AlphaOutOfRange) {
  const fs::path image = write_image("patch.png", test_image(150, 97));
  expect_error(explain(model("tiny-scripted.pt"), image, {"--alpha", "3"}), 2, {"--alpha"});
  expect_error(explain(model("tiny-scripted.pt"), image, {"--alpha", "-0.1"}), 2, {"--alpha"});
}

TEST_F(CliBadInput, CudaDeviceWithoutCuda) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "a CUDA device is visible: nothing to refuse";
  const fs::path image = write_image("patch.png", test_image(150, 97));
  expect_error(explain(model("tiny-scripted.pt"), image, {"--device", "cuda"}), 7, {"--device", "CUDA"});
  expect_error(explain(model("tiny-scripted.pt"), image, {"--device", "cuda:1"}), 7, {"CUDA"});
  expect_error(explain(model("tiny-scripted.pt"), image, {"--device", "tpu"}), 2, {"--device", "tpu"});
}

// --precision applies to forward-only passes; with only gradient methods it would change nothing.
TEST_F(CliBadInput, PrecisionWithoutAForwardOnlyPassIsRefused) {
  const fs::path image = write_image("patch.png", test_image(150, 97));
  expect_error(explain(model("tiny-scripted.pt"), image, {"--precision", "bf16"}), 2, {"--precision bf16", "gradcam", "lime"});
  expect_error(explain(model("tiny-scripted.pt"), image, {"--precision", "fp8"}), 2, {"--precision"});
  const RunResult r = explain(model("tiny-scripted.pt"), image, {"--precision", "bf16", "--method", "gradcam,rise", "--rise-masks", "40"});
  ASSERT_EQ(r.code, 0) << r;
  const auto report = read_json(out_dir() / "patch.json");
  EXPECT_EQ(report["model"]["precision"]["requested"], "bf16") << report["model"];
  EXPECT_EQ(report["model"]["precision"]["used"], "bf16") << report["model"];
}

// --staged-capture applies to the methods that capture a layer; each CAM map's entry says where it was captured.
TEST_F(CliBadInput, StagedCaptureWithoutACamIsRefused) {
  const fs::path image = write_image("patch.png", test_image(150, 97));
  expect_error(explain(model("tiny-scripted.pt"), image, {"--staged-capture", "--method", "lime"}), 2,
               {"--staged-capture", "lime", "CAM"});
  const RunResult plain = explain(model("tiny-scripted.pt"), image, {"--method", "gradcam,lime", "--samples", "30"});
  ASSERT_EQ(plain.code, 0) << plain;
  const auto before = read_json(out_dir() / "patch.json");
  const RunResult staged =
      explain(model("tiny-scripted.pt"), image, {"--staged-capture", "--method", "gradcam,lime", "--samples", "30"});
  ASSERT_EQ(staged.code, 0) << staged;
  const auto after = read_json(out_dir() / "patch.json");
  for (const auto& [report, capture] : {std::pair{before, "module as loaded"}, std::pair{after, "staged"}})
    for (const auto& entry : report["explanations"]) {
      if (entry["method"] == "gradcam") EXPECT_EQ(entry["capture"], capture) << entry;
      if (entry["method"] == "lime") EXPECT_FALSE(entry.contains("capture")) << entry;
    }
}

TEST_F(CliBadInput, OutputDirectoryCannotBeCreated) {
  const fs::path image = write_image("patch.png", test_image(150, 97));
  const fs::path blocker = root_ / "blocker";
  write_bytes(blocker, "a regular file");
  const fs::path target = blocker / "out";
  const RunResult r = xai({"explain", "--model", model("tiny-scripted.pt"), image.string(), "-o", target.string()});
  expect_error(r, 6, {target.string()});
  EXPECT_TRUE(fs::is_regular_file(blocker));
  EXPECT_EQ(read_bytes(blocker), "a regular file");
  EXPECT_EQ(entries(root_), (std::set<std::string>{"in", "io", "blocker"}));

  // -o naming an existing regular file.
  const RunResult r2 = xai({"explain", "--model", model("tiny-scripted.pt"), image.string(), "-o", blocker.string()});
  expect_error(r2, 6, {blocker.string()});
  EXPECT_EQ(read_bytes(blocker), "a regular file");
}

// `--json FILE` used to be accepted and ignored: no file, no message.
TEST_F(CliBadInput, JsonToAFileIsRefused) {
  const fs::path image = write_image("patch.png", test_image(150, 97));
  const fs::path report = root_ / "report.json";
  expect_error(explain(model("tiny-scripted.pt"), image, {"--json", report.string()}), 2, {"--json", report.string()});
  EXPECT_FALSE(fs::exists(report));
}

TEST_F(CliBadInput, TwoInputsWithTheSameStem) {
  fs::create_directories(in("a"));
  fs::create_directories(in("b"));
  const fs::path first = write_image("a/x.png", test_image(150, 97));
  const fs::path second = write_image("b/x.jpg", test_image(150, 97, 11));
  expect_error(xai({"explain", "--model", model("tiny-scripted.pt"), first.string(), second.string(), "-o",
                    out_dir().string()}),
               2, {"x.jpg", "same name stem"});
  EXPECT_FALSE(fs::exists(in("a/xai-out")));
  EXPECT_FALSE(fs::exists(in("b/xai-out")));
  // Without -o each goes beside its own image: no clash.
  const RunResult r = xai({"explain", "--model", model("tiny-scripted.pt"), first.string(), second.string()});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_TRUE(fs::exists(in("a/xai-out/x.json")));
  EXPECT_TRUE(fs::exists(in("b/xai-out/x.json")));
}

TEST_F(CliBadInput, AFailedImageDoesNotStopTheOthers) {
  // Like batch: a bad image among several is reported in one line, the others are explained, and
  // the exit code is 8 (some failed). A single bad image keeps its own code.
  const fs::path good = write_image("good.png", test_image(150, 97));
  const fs::path after = write_image("after.png", test_image(120, 90, 3));
  const fs::path bad = in("bad.png");
  write_bytes(bad, "");
  const RunResult r = xai({"explain", "--model", model("tiny-scripted.pt"), good.string(), bad.string(),
                           after.string(), "-o", out_dir().string()});
  EXPECT_EQ(r.code, 8) << r;
  EXPECT_EQ(count_lines(r.err), 2u) << r;  // the error, and the count
  EXPECT_NE(r.err.find("xai: error: " + bad.string()), std::string::npos) << r;
  EXPECT_NE(r.err.find("2 explained, 1 failed"), std::string::npos) << r;
  EXPECT_EQ(entries(out_dir()), (std::set<std::string>{"good.gradcam.png", "good.gradcam.npy", "good.gradcam.figure.png",
                                                       "good.json", "after.gradcam.png", "after.gradcam.npy",
                                                       "after.gradcam.figure.png", "after.json"}));
  const RunResult alone = xai({"explain", "--model", model("tiny-scripted.pt"), bad.string(), "-o", out_dir().string()});
  EXPECT_EQ(alone.code, 3) << alone;
  EXPECT_EQ(count_lines(alone.err), 1u) << alone;
}

TEST_F(CliBadInput, NoSubcommand) {
  const RunResult r = xai({});
  EXPECT_EQ(r.code, 2) << r;
  EXPECT_EQ(r.err.rfind("xai: error: ", 0), 0u) << r;
  EXPECT_EQ(count_lines(r.err), 1u) << r;
}

// ---------------------------------------------------------------------------------------------
// xai layers
// ---------------------------------------------------------------------------------------------

using CliLayers = CliTest;

TEST_F(CliLayers, TableListsCallsAndMarksTheDefault) {
  for (const std::string name : {"tiny-scripted.pt", "tiny-traced.pt"}) {
    const RunResult r = xai({"layers", model(name)});
    ASSERT_EQ(r.code, 0) << name << "\n" << r;
    EXPECT_TRUE(r.err.empty()) << r;
    std::istringstream lines(r.out);
    std::string line;
    bool relu = false;
    int defaults = 0;
    while (std::getline(lines, line)) {
      std::istringstream fields(line);
      std::string path, type, shape, map, calls;
      fields >> path >> type >> shape >> map >> calls;
      if (path == "layer1.0.relu") {
        relu = true;
        EXPECT_EQ(type, "ReLU") << line;
        EXPECT_EQ(shape, "1x16x32x32") << line;
        EXPECT_EQ(map, "16x32x32") << line;  // the feature map a CAM method weighs
        EXPECT_EQ(calls, "2") << line;
      }
      if (line.find("<- default") != std::string::npos) {
        ++defaults;
        EXPECT_EQ(path, "layer2") << line;
      }
    }
    EXPECT_TRUE(relu) << r.out;
    EXPECT_EQ(defaults, 1) << r.out;
  }
}

TEST_F(CliLayers, JsonParses) {
  for (const std::string name : {"tiny-scripted.pt", "tiny-traced.pt", "tiny-binary-traced.pt"}) {
    const RunResult r = xai({"layers", "--json", model(name)});
    ASSERT_EQ(r.code, 0) << name << "\n" << r;
    json out;
    ASSERT_NO_THROW(out = json::parse(r.out)) << r;
    EXPECT_EQ(out.at("default_layer"), "layer2");
    int defaults = 0;
    bool relu = false;
    for (const auto& layer : out.at("layers")) {
      if (layer.at("default").get<bool>()) {
        ++defaults;
        EXPECT_EQ(layer.at("path"), "layer2");
      }
      if (layer.at("path") == "layer1.0.relu") {
        relu = true;
        EXPECT_EQ(layer.at("calls"), 2);
        EXPECT_EQ(layer.at("type"), "ReLU");
        EXPECT_TRUE(layer.at("spatial").get<bool>());
      }
      // No layer of the tiny models is a pass-through (Dropout in eval is still a real call).
      EXPECT_EQ(layer.at("note"), "") << layer.dump();
    }
    EXPECT_EQ(defaults, 1);
    EXPECT_TRUE(relu) << r.out;
  }
}

TEST_F(CliLayers, NonModelIsAModelError) {
  const fs::path image = write_image("patch.png", test_image(150, 97));
  expect_error(xai({"layers", image.string()}), 4, {image.string()});
  const fs::path text = root_ / "text.pt";
  write_bytes(text, "hello\n");
  expect_error(xai({"layers", text.string()}), 4, {text.string()});
  const std::string missing = (root_ / "missing.pt").string();
  expect_error(xai({"layers", missing}), 4, {missing});
  // What the file is, where xai can tell (tests/model/test_model_file.cpp has every kind).
  const fs::path onnx = root_ / "model.onnx";
  write_bytes(onnx, std::string("\x08\x08\x12\x07pytorch", 11));
  expect_error(xai({"explain", "-m", onnx.string(), image.string()}), 4, {onnx.string(), "an ONNX model", "torch.jit.script"});
}

// ---------------------------------------------------------------------------------------------
// xai bench
// ---------------------------------------------------------------------------------------------

using CliBench = CliTest;

TEST_F(CliBench, JsonReportsTimesAndRatio) {
  const RunResult r =
      xai({"bench", "--model", model("tiny-scripted.pt"), "--runs", "3", "--warmup", "1", "--json"});
  ASSERT_EQ(r.code, 0) << r;
  json out;
  ASSERT_NO_THROW(out = json::parse(r.out)) << r;
  EXPECT_EQ(out.at("method"), "gradcam");
  EXPECT_EQ(out.at("layers"), json::array({"layer2"}));
  EXPECT_EQ(out.at("runs"), 3);
  for (const char* key : {"forward_ms", "explain_ms", "ratio"}) {
    ASSERT_TRUE(out.contains(key)) << key << "\n" << r.out;
    EXPECT_TRUE(out.at(key).is_number()) << key;
    EXPECT_GT(out.at(key).get<double>(), 0.0) << key;
    EXPECT_TRUE(std::isfinite(out.at(key).get<double>())) << key;
  }
  EXPECT_NEAR(out.at("ratio").get<double>(), out.at("explain_ms").get<double>() / out.at("forward_ms").get<double>(),
              1e-6 * out.at("ratio").get<double>() + 1e-9);
}

// A perturbation method reports the images per pass the tuner chose on this device, and what it measured: the
// chosen size is a candidate and has the smallest time per image.
TEST_F(CliBench, JsonReportsTheTunersChoice) {
  const RunResult r = xai({"bench", "--model", model("tiny-scripted.pt"), "--method", "lime", "--samples", "400",
                           "--runs", "1", "--warmup", "0", "--json"});
  ASSERT_EQ(r.code, 0) << r;
  const json out = json::parse(r.out);
  ASSERT_TRUE(out.contains("probe_batch")) << r.out;
  const int chosen = out.at("probe_batch").at("chosen").get<int>();
  const json& per_image = out.at("probe_batch").at("per_image_ms");
  ASSERT_TRUE(per_image.contains(std::to_string(chosen))) << r.out;
  for (const auto& [size, ms] : per_image.items())
    EXPECT_LE(per_image.at(std::to_string(chosen)).get<double>(), ms.get<double>()) << size;
  // The host's share is a part of the explanation's time, and per image it divides by the images that went
  // through the model (400 samples).
  const double outside = out.at("outside_model_ms").get<double>();
  EXPECT_GT(outside, 0.0);
  EXPECT_LT(outside, out.at("explain_ms").get<double>());
  EXPECT_DOUBLE_EQ(out.at("outside_model_ms_per_model_image").get<double>(), outside / 400);
  const RunResult cam = xai({"bench", "--model", model("tiny-scripted.pt"), "--runs", "1", "--json"});
  ASSERT_EQ(cam.code, 0) << cam;
  EXPECT_FALSE(json::parse(cam.out).contains("probe_batch")) << "Grad-CAM runs no perturbed images";
  // A gradient method measures its own forward + backward passes (64 path points: every candidate twice).
  const RunResult ig = xai({"bench", "--model", model("tiny-scripted.pt"), "--method", "intgrad", "--runs", "1",
                            "--warmup", "0", "--json"});
  ASSERT_EQ(ig.code, 0) << ig;
  const json tuned = json::parse(ig.out);
  ASSERT_TRUE(tuned.contains("gradient_probe_batch")) << ig.out;
  EXPECT_FALSE(tuned.contains("probe_batch")) << ig.out;
  const json& backward = tuned.at("gradient_probe_batch").at("per_image_ms");
  const std::string best = std::to_string(tuned.at("gradient_probe_batch").at("chosen").get<int>());
  ASSERT_TRUE(backward.contains(best)) << ig.out;
  for (const auto& [size, ms] : backward.items()) EXPECT_LE(backward.at(best).get<double>(), ms.get<double>()) << size;
  EXPECT_EQ(tuned.at("parameters").at("probe_batch"), "measured") << ig.out;
}

TEST_F(CliBench, BadFlagsAndModels) {
  expect_error(xai({"bench", "--model", model("tiny-scripted.pt"), "--runs", "0"}), 2, {"--runs"});
  expect_error(xai({"bench", "--model", model("tiny-scripted.pt"), "--method", "shap"}), 2, {"shap"});
  expect_error(xai({"bench", "--model", model("tiny-scripted.pt"), "--layer", "layer9", "--runs", "1"}), 5,
               {"layer9"});
  const std::string missing = (root_ / "missing.pt").string();
  expect_error(xai({"bench", "--model", missing}), 4, {missing});
}

}  // namespace
