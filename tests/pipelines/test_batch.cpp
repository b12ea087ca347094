// Batch runs end to end: input discovery, shards, per-file errors, resume after kill -9, merge,
// and a gallery that references only files that exist.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <sstream>
#include <set>
#include <thread>

#include "test_helpers.hpp"
#include "xai/batch.hpp"
#include "output/results_log.hpp"

namespace xai {
namespace {

namespace fs = std::filesystem;

// nested/ and flat/ folders with duplicate base names, plus broken inputs of every kind.
struct Corpus {
  test::TempDir dir;
  int good = 0;
  explicit Corpus(int images_per_folder = 4) {
    cv::RNG rng(1);
    for (const char* folder : {"slide1", "slide2/deep"}) {
      fs::create_directories(dir.path / folder);
      for (int i = 0; i < images_per_folder; ++i) {
        cv::Mat image(48 + 8 * i, 64, CV_8UC3);
        rng.fill(image, cv::RNG::UNIFORM, 0, 255);
        cv::imwrite((dir.path / folder / ("patch" + std::to_string(i) + ".png")).string(), image);
        ++good;
      }
    }
    fs::create_directories(dir.path / "broken");
    std::ofstream(dir.file("broken/zero.png"));                           // zero bytes
    std::ofstream(dir.file("broken/text.png")) << "this is not an image";  // a non-image
    std::vector<uchar> png;
    cv::imencode(".png", cv::Mat(32, 32, CV_8UC3, cv::Scalar(1, 2, 3)), png);
    std::ofstream(dir.file("broken/cut.png"), std::ios::binary).write(reinterpret_cast<char*>(png.data()), png.size() / 2);
    fs::create_symlink(dir.file("nowhere.png"), dir.path / "broken/unreadable.png");  // cannot be opened
    cv::imwrite(dir.file("slide1/patch0.mask.png"), cv::Mat(48, 64, CV_8UC1, cv::Scalar(0)));  // not an input
  }
  static constexpr int kBroken = 4;
};

BatchOptions options_for(const std::string& out, const std::vector<std::string>& methods = {"gradcam"}) {
  BatchOptions o;
  o.output_dir = out;
  o.explain.methods = methods;
  o.explain.lime.samples = 40;
  o.batch_size = 3;
  return o;
}

TEST(Inputs, DiscoveryMirrorsTheTreeAndFilters) {
  Corpus corpus;
  const auto all = discover_inputs({corpus.dir.path.string()});
  EXPECT_EQ(static_cast<int>(all.size()), corpus.good + Corpus::kBroken);  // the mask is not an input
  std::set<std::string> relative;
  for (const auto& f : all) relative.insert(f.relative);
  EXPECT_TRUE(relative.count("slide1/patch0.png"));
  EXPECT_TRUE(relative.count("slide2/deep/patch0.png"));
  InputSelection only_slide2{{"slide2/*"}, {"*patch3*"}};
  EXPECT_EQ(discover_inputs({corpus.dir.path.string()}, only_slide2).size(), 3u);

  std::ofstream(corpus.dir.file("list.txt")) << "# two files\nslide1/patch1.png\nslide2/deep/patch2.png\n";
  EXPECT_EQ(discover_inputs({"@" + corpus.dir.file("list.txt")}).size(), 2u);
  EXPECT_THROW(discover_inputs({corpus.dir.file("missing-folder")}), Error);
}

TEST(Inputs, OutputsAreNeverInputs) {
  Corpus corpus;
  const size_t inputs = discover_inputs({corpus.dir.path.string()}).size();
  // Outputs of earlier runs: an xai-out folder, a named output folder, files named like outputs.
  for (const char* folder : {"slide1/xai-out", "results"}) {
    fs::create_directories(corpus.dir.path / folder);
    cv::imwrite((corpus.dir.path / folder / "patch0.gradcam.png").string(), cv::Mat(8, 8, CV_8UC3, cv::Scalar(1)));
    cv::imwrite((corpus.dir.path / folder / "other.png").string(), cv::Mat(8, 8, CV_8UC3, cv::Scalar(1)));
  }
  cv::imwrite(corpus.dir.file("slide1/patch1.lime-top.png"), cv::Mat(8, 8, CV_8UC3, cv::Scalar(1)));
  cv::imwrite(corpus.dir.file("slide1/patch1.thumb.png"), cv::Mat(8, 8, CV_8UC3, cv::Scalar(1)));
  InputSelection selection;
  selection.output_dirs = {corpus.dir.file("results")};
  DiscoveryCounts counts;
  EXPECT_EQ(discover_inputs({corpus.dir.path.string()}, selection, &counts).size(), inputs);
  EXPECT_EQ(counts.skipped_outputs, 6u);
  // Without naming `results` as this run's output, only its output-named file is skipped.
  EXPECT_EQ(discover_inputs({corpus.dir.path.string()}, {}, &counts).size(), inputs + 1);
  EXPECT_EQ(counts.skipped_outputs, 5u);
}

TEST(Inputs, ShardsAreDisjointAndExhaustive) {
  Corpus corpus(10);
  const auto all = discover_inputs({corpus.dir.path.string()});
  for (int n : {1, 2, 3, 7}) {
    std::map<std::string, int> owners;
    for (int i = 0; i < n; ++i)
      for (const auto& f : all)
        if (in_shard(f, {i, n})) owners[f.relative] += 1;
    EXPECT_EQ(owners.size(), all.size()) << n << " shards";
    for (const auto& [name, count] : owners) EXPECT_EQ(count, 1) << name;
  }
  EXPECT_THROW(parse_shard("3/3"), Error);
  EXPECT_THROW(parse_shard("1"), Error);
  EXPECT_EQ(parse_shard("2/5").index, 2);
}

TEST(Batch, RecordsEveryInputAndGoesOnAfterFailures) {
  Corpus corpus;
  Model model = Model::load(test::model_path("tiny-scripted.pt"));
  test::TempDir out;
  const BatchSummary summary =
      run_batch(model, {corpus.dir.path.string()}, options_for(out.path.string(), {"gradcam", "lime"}));
  EXPECT_EQ(summary.code, ExitCode::partial);
  EXPECT_EQ(static_cast<int>(summary.explained), corpus.good);
  EXPECT_EQ(static_cast<int>(summary.progress.failed), Corpus::kBroken);

  const auto records = read_results(out.file("results.jsonl"));
  EXPECT_EQ(static_cast<int>(records.size()), 2 * (corpus.good + Corpus::kBroken));
  std::set<std::string> keys;
  int ok = 0;
  for (const auto& r : records) {
    EXPECT_TRUE(keys.insert(r["key"].get<std::string>()).second) << "duplicate result";
    if (r["status"] == "ok") {
      ++ok;
      for (const auto& [name, file] : r["files"].items())
        EXPECT_TRUE(fs::exists(out.path / file.get<std::string>())) << file;
    } else {
      EXPECT_EQ(r["exit_code"], static_cast<int>(ExitCode::input)) << r.dump();
      EXPECT_FALSE(r["error"].get<std::string>().empty());
    }
  }
  EXPECT_EQ(ok, 2 * corpus.good);
  // Duplicate base names stay apart because outputs mirror the input tree.
  EXPECT_TRUE(fs::exists(out.path / "slide1/patch0.gradcam.png"));
  EXPECT_TRUE(fs::exists(out.path / "slide2/deep/patch0.gradcam.png"));
  EXPECT_TRUE(fs::exists(out.path / "summary.csv"));
}

// A Grad-CAM-only run plans no forward-only pass, so its model's batch check first runs at the first
// batch's gradient pass: each report and run.json give the measured number, not the plan's "not run".
TEST(Batch, ReportsGiveTheModelChecksAsTheyStoodAfterTheImagesPasses) {
  Corpus corpus;
  Model model = Model::load(test::model_path("tiny-scripted.pt"));
  test::TempDir out;
  const BatchSummary summary = run_batch(model, {(corpus.dir.path / "slide1").string()}, options_for(out.path.string()));
  ASSERT_EQ(summary.code, ExitCode::ok);
  int reports = 0;
  for (const auto& entry : fs::recursive_directory_iterator(out.path)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("patch", 0) != 0 || entry.path().extension() != ".json") continue;
    ++reports;
    const auto report = nlohmann::json::parse(std::ifstream(entry.path()));
    const auto& checks = report["model"]["checks"];
    ASSERT_TRUE(checks["batch_independence"].is_object()) << name << ": " << checks.dump();
    EXPECT_LE(checks["batch_independence"]["probability_difference"].get<double>(),
              checks["batch_independence"]["tolerance"].get<double>());
  }
  EXPECT_EQ(reports, 4);
  const auto settings = nlohmann::json::parse(std::ifstream(out.file("run.json")));
  EXPECT_TRUE(settings["model"]["checks"]["batch_independence"].is_object()) << settings["model"].dump();
}

TEST(Batch, GalleryReferencesOnlyFilesThatExist) {
  Corpus corpus;
  Model model = Model::load(test::model_path("tiny-scripted.pt"));
  test::TempDir out;
  run_batch(model, {corpus.dir.path.string()}, options_for(out.path.string()));
  std::ifstream in(out.file("index.html"));
  const std::string html((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("</html>"), std::string::npos);
  const std::string open_tag = "<script type=\"application/json\" id=\"data\">";
  const size_t start = html.find(open_tag) + open_tag.size(), end = html.find("</script>", start);
  const auto items = nlohmann::json::parse(html.substr(start, end - start));
  EXPECT_EQ(static_cast<int>(items.size()), corpus.good + Corpus::kBroken);
  int files = 0;
  for (const auto& item : items) {
    std::vector<std::string> referenced;
    for (const char* key : {"thumbnail", "report"})
      if (!item[key].is_null()) referenced.push_back(item[key].get<std::string>());
    for (const auto& overlay : item["overlays"]) referenced.push_back(overlay["file"].get<std::string>());
    for (const auto& file : referenced) {
      EXPECT_TRUE(fs::exists(out.path / file)) << file;
      ++files;
    }
  }
  EXPECT_EQ(files, 3 * corpus.good);
  EXPECT_EQ(html.find("http://"), std::string::npos) << "the gallery must open offline";
  EXPECT_EQ(html.find("https://"), std::string::npos);
}

// The page as a browser leaves it: headless Chromium runs the gallery's script and waits for the
// images, then prints the DOM.
std::string rendered_gallery(const fs::path& html) {
  const std::string command = "timeout 120 '" + std::string(XAI_CHROMIUM) +
                              "' --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --window-size=2000,8000"
                              " --virtual-time-budget=10000 --dump-dom 'file://" + html.string() + "' 2>/dev/null";
  return test::run_command(command);
}

int occurrences(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

TEST(Batch, GalleryLoadsInHeadlessChromium) {
  if (std::string(XAI_CHROMIUM).empty()) GTEST_SKIP() << "chromium is not installed";
  Corpus corpus;
  Model model = Model::load(test::model_path("tiny-scripted.pt"));
  test::TempDir out;
  run_batch(model, {corpus.dir.path.string()}, options_for(out.path.string(), {"gradcam", "lime"}));

  std::string dom = rendered_gallery(out.path / "index.html");
  ASSERT_NE(dom.find("id=\"grid\""), std::string::npos) << "no page came back:\n" << dom;
  // Every input has a card (the script ran), failed inputs are marked, every image loaded.
  EXPECT_EQ(occurrences(dom, "class=\"card\""), corpus.good) << dom;
  EXPECT_EQ(occurrences(dom, "class=\"card failed\""), Corpus::kBroken);
  EXPECT_EQ(occurrences(dom, "<img "), 3 * corpus.good);  // thumbnail, Grad-CAM and LIME overlays
  EXPECT_EQ(occurrences(dom, "class=\"missing\""), 0) << dom;
  EXPECT_NE(dom.find(std::to_string(corpus.good + Corpus::kBroken) + " images, " + std::to_string(Corpus::kBroken) +
                     " failed"),
            std::string::npos);

  // The check can fail: an overlay that went missing after the run is flagged in the page.
  const auto records = read_results(out.file("results.jsonl"));
  const auto ok = std::find_if(records.begin(), records.end(), [](const Record& r) { return r["status"] == "ok"; });
  ASSERT_NE(ok, records.end());
  fs::remove(out.path / (*ok)["files"]["overlay"].get<std::string>());
  dom = rendered_gallery(out.path / "index.html");
  EXPECT_EQ(occurrences(dom, "class=\"missing\""), 1) << dom;
}

// The gallery as a reader at a 1400-px screen sees it: a screenshot is kept (build/test-artifacts/), and
// the page measures itself (#check): cards at least 200 px wide (failed ones too), every image loaded.
// True labels come from class-named folders and --labels-csv; several layers bring the layer grid.
TEST(Batch, GalleryAt1400PixelsWithTrueLabelsAndLayerGrids) {
  if (std::string(XAI_CHROMIUM).empty()) GTEST_SKIP() << "chromium is not installed";
  test::TempDir in, out;
  cv::RNG rng(4);
  for (const char* folder : {"benign", "malignant", "unsorted"}) {
    fs::create_directories(in.path / folder);
    for (int i = 0; i < 3; ++i) {
      cv::Mat image(56, 72, CV_8UC3);
      rng.fill(image, cv::RNG::UNIFORM, 0, 255);
      cv::imwrite((in.path / folder / (std::string(folder) + std::to_string(i) + ".png")).string(), image);
    }
  }
  std::ofstream(in.file("unsorted/broken.png")) << "not an image, and its error is long enough to need a few lines";
  std::ofstream(in.file("truth.csv")) << "name,label\nunsorted0.png,other\nunsorted1.png,1\n";
  Model model = Model::load(test::model_path("tiny-scripted.pt"));
  BatchOptions options = options_for(out.path.string(), {"gradcam", "lime"});
  options.explain.cam.layers = {"layer1", "layer2"};
  options.labels_csv = in.file("truth.csv");
  run_batch(model, {in.path.string()}, options);

  // Truth: the two CSV rows (one by index), the six files in class-named folders; not unsorted2.
  size_t with_truth = 0;
  const std::string csv = [&] {
    std::ifstream f(out.file("summary.csv"));
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  }();
  for (const char* expected : {"unsorted/unsorted0.png,gradcam", "unsorted/unsorted1.png,gradcam"})
    EXPECT_NE(csv.find(expected), std::string::npos) << csv;
  std::istringstream rows(csv);
  for (std::string row; std::getline(rows, row);)
    if (row.rfind("unsorted/unsorted0.png,", 0) == 0) EXPECT_EQ(row.substr(row.rfind(',') + 1), "other") << row;
    else if (row.rfind("unsorted/unsorted1.png,", 0) == 0) EXPECT_EQ(row.substr(row.rfind(',') + 1), "malignant") << row;
    else if (row.rfind("unsorted/unsorted2.png,", 0) == 0) EXPECT_EQ(row.back(), ',') << row;
    else if (row.rfind("benign/", 0) == 0) {
      EXPECT_EQ(row.substr(row.rfind(',') + 1), "benign") << row;
      ++with_truth;
    }
  EXPECT_EQ(with_truth, 3u * 3u);  // three images x (gradcam's two layers + lime) rows

  const fs::path artifacts = fs::path(XAI_BUILD_DIR) / "test-artifacts";
  fs::create_directories(artifacts);
  const fs::path shot = artifacts / "gallery-1400.png";
  fs::remove(shot);
  const std::string chromium = "timeout 120 '" + std::string(XAI_CHROMIUM) +
                               "' --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --hide-scrollbars"
                               " --window-size=1400,1200 --virtual-time-budget=10000 ";
  test::run_command(chromium + "--screenshot=" + shot.string() + " 'file://" + out.file("index.html") + "' 2>/dev/null");
  const cv::Mat screenshot = cv::imread(shot.string());
  ASSERT_FALSE(screenshot.empty()) << "no screenshot";
  EXPECT_EQ(screenshot.cols, 1400);

  const std::string dom =
      test::run_command(chromium + "--dump-dom 'file://" + out.file("index.html") + "#check' 2>/dev/null");
  const std::string open = "<pre id=\"layout-check\">";
  const size_t at = dom.find(open);
  ASSERT_NE(at, std::string::npos) << "the page did not measure itself:\n" << dom;
  const auto check = nlohmann::json::parse(dom.substr(at + open.size(), dom.find("</pre>", at) - at - open.size()));
  EXPECT_EQ(check.at("width"), 1400);
  ASSERT_EQ(check.at("cards").size(), 10u);  // nine images and the broken file
  for (const auto& width : check.at("cards")) EXPECT_GE(width.get<int>(), 200) << check.dump();
  // Per image: thumbnail, two Grad-CAM layers, LIME, and the layer grid.
  EXPECT_EQ(check.at("images"), 9 * 5);
  EXPECT_TRUE(check.at("broken").empty()) << check.dump();
  EXPECT_NE(dom.find("<figcaption title=\"gradcam layer1"), std::string::npos) << "columns are named";
  EXPECT_NE(dom.find("gradcam layers"), std::string::npos) << "the layer grid is shown";
  EXPECT_NE(dom.find("true: benign"), std::string::npos);
  EXPECT_NE(dom.find("with a true label misclassified"), std::string::npos);
}

TEST(Batch, ShardsMergeToTheSameResultsAsOneRun) {
  Corpus corpus(5);
  Model model = Model::load(test::model_path("tiny-scripted.pt"));
  test::TempDir whole, merged;
  run_batch(model, {corpus.dir.path.string()}, options_for(whole.path.string()));
  std::vector<std::unique_ptr<test::TempDir>> parts;
  std::vector<std::string> part_dirs;
  for (int i = 0; i < 3; ++i) {
    parts.push_back(std::make_unique<test::TempDir>());
    BatchOptions o = options_for(parts.back()->path.string());
    o.shard = Shard{i, 3};
    run_batch(model, {corpus.dir.path.string()}, o);
    part_dirs.push_back(parts.back()->path.string());
  }
  merge_batch_outputs(part_dirs, merged.path.string());
  auto by_key = [](const std::vector<Record>& records) {
    std::map<std::string, Record> m;
    for (const auto& r : records) m[r["key"].get<std::string>()] = r;
    return m;
  };
  const auto a = by_key(read_results(whole.file("results.jsonl")));
  const auto b = by_key(read_results(merged.file("results.jsonl")));
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [key, record] : a) {
    ASSERT_TRUE(b.count(key)) << record["input"];
    EXPECT_EQ(record["status"], b.at(key)["status"]);
    if (record["status"] == "ok") {
      EXPECT_NEAR(record["probability"].get<double>(), b.at(key)["probability"].get<double>(), 1e-6);
      EXPECT_TRUE(fs::exists(merged.path / b.at(key)["files"]["overlay"].get<std::string>()));
    }
  }
}

TEST(Batch, ResumeAfterKillLeavesEveryResultExactlyOnce) {
  Corpus corpus(12);
  test::TempDir out;
  const std::string journal = out.file("results.jsonl");
  auto run_cli = [&]() {
    const pid_t pid = fork();
    if (pid == 0) {
      const int devnull = ::open("/dev/null", O_WRONLY);
      dup2(devnull, STDERR_FILENO);
      execl(XAI_BINARY, XAI_BINARY, "--threads", "1", "batch", "--quiet", "--model",
            test::model_path("tiny-scripted.pt").c_str(), "--method", "gradcam,lime", "--samples", "300",
            "--batch-size", "2", "-o", out.path.c_str(), corpus.dir.path.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    return pid;
  };
  // Kill the first run as soon as a few results are on disk.
  const pid_t first = run_cli();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (read_results(journal).size() >= 6) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(first, SIGKILL);
  int status = 0;
  waitpid(first, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the first run finished before it could be killed";
  const size_t before = read_results(journal).size();
  EXPECT_LT(before, static_cast<size_t>(2 * (corpus.good + Corpus::kBroken)));

  const pid_t second = run_cli();
  waitpid(second, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), static_cast<int>(ExitCode::partial));

  const auto records = read_results(journal);
  std::map<std::string, int> seen;
  int ok = 0;
  for (const auto& r : records) {
    seen[r["input"].get<std::string>() + " " + r["method"].get<std::string>()] += 1;
    ok += r["status"] == "ok";
  }
  EXPECT_EQ(static_cast<int>(seen.size()), 2 * (corpus.good + Corpus::kBroken));
  for (const auto& [what, count] : seen) EXPECT_EQ(count, 1) << what;
  EXPECT_EQ(ok, 2 * corpus.good);
  for (const auto& entry : fs::recursive_directory_iterator(out.path))
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << "left behind: " << entry.path();
}

TEST(Batch, FailFastStopsAtTheFirstError) {
  Corpus corpus;
  Model model = Model::load(test::model_path("tiny-scripted.pt"));
  test::TempDir out;
  BatchOptions o = options_for(out.path.string());
  o.fail_fast = true;
  const BatchSummary summary = run_batch(model, {corpus.dir.path.string()}, o);
  EXPECT_EQ(summary.code, ExitCode::input);  // broken/ sorts first
  EXPECT_EQ(summary.progress.failed, 1u);
}

}  // namespace
}  // namespace xai
