// xai slide through the real binary: a run killed mid-way resumes with every tile exactly once, Ctrl-C
// stops cleanly, shards merge with `xai merge`, and bad requests fail with one line and exit 2 or 3.
#include <signal.h>
#include <sys/wait.h>

#include <set>
#include <thread>

#include "cli_fixture.hpp"
#include "npy_reader.hpp"
#include "output/results_log.hpp"

namespace {

using namespace xai::e2e;
namespace fs = std::filesystem;
using nlohmann::json;
using Args = std::vector<std::string>;

class CliSlide : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    slide_ = in("slide.tif");
    fs::create_directories(slide_.parent_path());
    int status = 0;
    const std::string out = xai::test::run_command(XAI_PYTHON " " + std::string(XAI_SOURCE_DIR) +
                                                       "/scripts/make_test_slide.py " + slide_.string() + " 2>&1",
                                                   &status);
    ASSERT_EQ(status, 0) << out;
  }

  Args slide_args(const fs::path& out, Args extra = {}) {
    Args args = {"slide", slide_.string(), "-m", std::string(XAI_SOURCE_DIR) + "/models/demo-histo.pt", "-o", out.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  static std::vector<std::string> keys(const fs::path& journal) {
    std::vector<std::string> out;
    for (const auto& r : xai::read_results(journal.string())) out.push_back(r["key"].get<std::string>());
    return out;
  }

  fs::path slide_;
};

TEST_F(CliSlide, AKilledRunResumesWithEveryTileExactlyOnce) {
  const fs::path whole = root_ / "whole", resumed = root_ / "resumed";
  const RunResult reference = xai(slide_args(whole, {"--no-viewer"}));
  ASSERT_EQ(reference.code, 0) << reference;
  const json report = read_json(whole / "slide.json");
  const size_t tiles = report["counts"]["tissue_tiles"].get<size_t>();
  ASSERT_GT(tiles, 100u);

  const Args args = slide_args(resumed, {"--no-viewer", "--batch-size", "1", "--workers", "1"});
  const RunResult killed = xai(args, {}, [&](pid_t pid) {
    for (int wait = 0; wait < 3000 && keys(resumed / "tiles.jsonl").size() < 10; ++wait) ::usleep(2000);
    ::kill(pid, SIGKILL);
  });
  ASSERT_EQ(killed.code, 128 + SIGKILL) << "the run finished before it could be killed\n" << killed;
  const size_t before = keys(resumed / "tiles.jsonl").size();
  EXPECT_GE(before, 10u);
  EXPECT_LT(before, tiles);

  const RunResult again = xai(args);
  ASSERT_EQ(again.code, 0) << again;
  EXPECT_NE(again.err.find(std::to_string(tiles - before) + " explained, " + std::to_string(before) + " already done"),
            std::string::npos)
      << again;
  const std::vector<std::string> all = keys(resumed / "tiles.jsonl");
  EXPECT_EQ(all.size(), tiles);
  EXPECT_EQ(std::set<std::string>(all.begin(), all.end()).size(), tiles) << "a tile was journaled twice";
  EXPECT_EQ(count_lines(read_bytes(resumed / "tiles.csv")), tiles + 1);
  // The same maps as the uninterrupted run (batches of another size: float rounding only).
  for (const char* name : {"probability-malignant.npy", "map-gradcam.npy"}) {
    const auto a = xai::test::read_npy((whole / name).string()), b = xai::test::read_npy((resumed / name).string());
    ASSERT_EQ(a.shape, b.shape) << name;
    for (size_t i = 0; i < a.data.size(); ++i) {
      ASSERT_EQ(std::isnan(a.data[i]), std::isnan(b.data[i])) << name << " at " << i;
      if (!std::isnan(a.data[i])) ASSERT_NEAR(a.data[i], b.data[i], 1e-4) << name << " at " << i;
    }
  }
  for (const auto& entry : fs::recursive_directory_iterator(resumed))
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << "left behind: " << entry.path();

  // Other settings: nothing is taken from the journal, every tile is redone, one line per tile stays.
  Args other = args;
  other.insert(other.end(), {"--map-size", "512"});
  const RunResult redone = xai(other);
  ASSERT_EQ(redone.code, 0) << redone;
  EXPECT_NE(redone.err.find(std::to_string(tiles) + " explained, 0 already done"), std::string::npos) << redone;
  EXPECT_EQ(keys(resumed / "tiles.jsonl").size(), tiles);
}

TEST_F(CliSlide, CtrlCStopsWithTheMapsSoFarAndTheSameCommandFinishes) {
  const Args args = slide_args(out_dir(), {"--no-viewer", "--batch-size", "1", "--workers", "1"});
  const RunResult stopped = xai(args, {}, [&](pid_t pid) {
    for (int wait = 0; wait < 3000 && keys(out_dir() / "tiles.jsonl").size() < 5; ++wait) ::usleep(2000);
    ::kill(pid, SIGINT);
  });
  ASSERT_EQ(stopped.code, 128 + SIGINT) << stopped;
  EXPECT_NE(stopped.err.find("stopped by SIGINT"), std::string::npos) << stopped;
  const json partial = read_json(out_dir() / "slide.json");
  EXPECT_FALSE(partial["complete"].get<bool>());
  EXPECT_EQ(partial["counts"]["done"].get<size_t>(), keys(out_dir() / "tiles.jsonl").size());
  const RunResult finished = xai(args);
  ASSERT_EQ(finished.code, 0) << finished;
  EXPECT_TRUE(read_json(out_dir() / "slide.json")["complete"].get<bool>());
}

// The cluster recipe without a cluster: three shards (as a Slurm array's tasks would run them), then
// `xai merge`, equal to one run.
TEST_F(CliSlide, ShardsMergeWithXaiMerge) {
  const fs::path whole = root_ / "whole";
  ASSERT_EQ(xai(slide_args(whole, {"--no-viewer"})).code, 0);
  Args parts;
  for (int i = 0; i < 3; ++i) {
    const fs::path part = root_ / ("part" + std::to_string(i));
    const RunResult r = xai(slide_args(part, {"--shard", std::to_string(i) + "/3"}));
    ASSERT_EQ(r.code, 0) << r;
    parts.push_back(part.string());
  }
  Args merge = {"merge", "-o", out_dir().string()};
  merge.insert(merge.end(), parts.begin(), parts.end());
  const RunResult merged = xai(merge);
  ASSERT_EQ(merged.code, 0) << merged;
  const size_t tiles = read_json(whole / "slide.json")["counts"]["tissue_tiles"].get<size_t>();
  EXPECT_NE(merged.err.find(std::to_string(tiles) + " tiles"), std::string::npos) << merged;
  EXPECT_EQ(read_bytes(out_dir() / "tiles.csv").size() > 0, true);
  EXPECT_EQ(count_lines(read_bytes(out_dir() / "tiles.csv")), tiles + 1);
  const auto a = xai::test::read_npy((whole / "probability-malignant.npy").string());
  const auto b = xai::test::read_npy((out_dir() / "probability-malignant.npy").string());
  ASSERT_EQ(a.shape, b.shape);
  for (size_t i = 0; i < a.data.size(); ++i)
    if (!std::isnan(a.data[i])) EXPECT_NEAR(a.data[i], b.data[i], 1e-5) << i;
  EXPECT_TRUE(fs::exists(out_dir() / "index.html"));
  // Scored once merged: the same tiles' numbers as the whole run scored.
  const std::string truth = fs::path(slide_).replace_extension(".geojson").string();
  Args scored_merge = merge;
  scored_merge.insert(scored_merge.end(), {"--annotations", truth});
  ASSERT_EQ(xai(scored_merge).code, 0);
  ASSERT_EQ(xai(slide_args(whole, {"--no-viewer", "--annotations", truth})).code, 0);
  EXPECT_EQ(read_json(out_dir() / "annotations.json")["tiles"]["positive"],
            read_json(whole / "annotations.json")["tiles"]["positive"]);
  EXPECT_NEAR(read_json(out_dir() / "annotations.json")["tiles"]["roc_auc"].get<double>(),
              read_json(whole / "annotations.json")["tiles"]["roc_auc"].get<double>(), 1e-6);
  // A batch folder and a slide folder do not merge together.
  ASSERT_EQ(xai({"batch", "-m", model("tiny-scripted.pt"), xai::test::example_patches(), "-o",
                 (root_ / "batch").string()})
                .code,
            0);
  const RunResult mixed = xai({"merge", "-o", (root_ / "mixed").string(), parts[0], (root_ / "batch").string()});
  EXPECT_EQ(mixed.code, 2) << mixed;
}

TEST_F(CliSlide, RequestsTheSlideCannotHonourFailWithOneLine) {
  expect_error(xai(slide_args(out_dir(), {"--mpp", "0.25"})), 2, {"0.25", "does not invent resolution"});
  expect_error(xai(slide_args(out_dir(), {"--level", "9"})), 2, {"--level 9", "levels 0..4"});
  expect_error(xai(slide_args(out_dir(), {"--level", "1", "--mpp", "1"})), 2, {"--level", "--mpp"});
  expect_error(xai(slide_args(out_dir(), {"--tile-stride", "200"})), 2, {"--tile-stride 200", "larger than the tile"});
  expect_error(xai(slide_args(out_dir(), {"--figure-size", "512"})), 2, {"--figure-size", "--top-tiles"});
  expect_error(xai(slide_args(out_dir(), {"--top-k", "2"})), 2, {"--top-k"});
  // A three-class model: which class the stitched map explains must be said.
  expect_error(xai({"slide", slide_.string(), "-m", model("tiny-scripted.pt"), "-o", out_dir().string()}), 2,
               {"3 classes", "--target-class"});
  // Not a slide.
  write_bytes(in("notes.tif"), "not a slide at all");
  expect_error(xai({"slide", in("notes.tif").string(), "-m", std::string(XAI_SOURCE_DIR) + "/models/demo-histo.pt", "-o",
                    out_dir().string()}),
               3, {"notes.tif"});
  expect_error(xai(slide_args(out_dir(), {"--tissue-threshold", "30", "--tissue-mask", in("m.png").string()})), 2,
               {"--tissue-threshold", "--tissue-mask"});
  expect_error(xai(slide_args(out_dir(), {"--tissue-threshold", "300"})), 2, {"--tissue-threshold"});
  expect_error(xai(slide_args(out_dir(), {"--tissue-mask", in("missing.geojson").string()})), 3, {"missing.geojson"});
}

// --annotations scores the run against the generator's lesion outlines (ASAP XML here) and gates it;
// everything that goes with it is refused without it; the file is checked before any tile is read.
TEST_F(CliSlide, AnnotationsScoreTheRunAndGateIt) {
  const std::string xml = fs::path(slide_).replace_extension(".xml").string();
  expect_error(xai(slide_args(out_dir(), {"--annotation-cover", "0.5"})), 2, {"--annotation-cover", "--annotations"});
  expect_error(xai(slide_args(out_dir(), {"--fail-if", "tile_auc<1"})), 2, {"--fail-if", "--annotations"});
  expect_error(xai(slide_args(out_dir(), {"--annotations", xml, "--shard", "0/2"})), 2, {"--annotations", "xai merge"});
  expect_error(xai(slide_args(out_dir(), {"--annotations", xml, "--fail-if", "accuracy<1"})), 2, {"accuracy"});
  expect_error(xai(slide_args(out_dir(), {"--annotations", xml, "--annotation-classes", "Tumor"})), 2,
               {"--annotation-classes Tumor", "'_0'"});
  expect_error(xai(slide_args(out_dir(), {"--annotations", in("missing.geojson").string()})), 3, {"missing.geojson"});

  const fs::path out = root_ / "scored", junit = root_ / "gate.xml";
  const RunResult scored = xai(slide_args(out, {"--no-viewer", "--contours", "0.5", "--annotations", xml, "--fail-if",
                                                "tile_auc<0.9", "--junit", junit.string()}));
  ASSERT_EQ(scored.code, 0) << scored;
  EXPECT_NE(scored.err.find("xai: annotations: 3 of"), std::string::npos) << scored;
  EXPECT_NE(scored.err.find("gradcam: pointing"), std::string::npos) << scored;
  const json report = read_json(out / "annotations.json");
  EXPECT_EQ(report["annotations"]["format"], "asap-xml");
  EXPECT_GE(report["tiles"]["roc_auc"].get<double>(), 0.9);
  EXPECT_NE(read_bytes(junit).find("<testcase"), std::string::npos);
  // The contours of the stitched map are annotation polygons in tiles.geojson.
  const json geojson = read_json(out / "tiles.geojson");
  size_t contours = 0;
  for (const auto& f : geojson["features"]) contours += f["geometry"]["type"] == "MultiPolygon";
  EXPECT_EQ(contours, 1u);

  // The finished run again (nothing to compute): a failing gate is exit 9 with its line.
  const RunResult gated = xai(slide_args(out, {"--no-viewer", "--annotations", xml, "--fail-if", "tile_auc>0.5"}));
  EXPECT_EQ(gated.code, 9) << gated;
  EXPECT_NE(gated.err.find("gate failed: tiles: tile_auc"), std::string::npos) << gated;
}

// Issue 29, item 4: a pyramidal TIFF written without a resolution (libvips' default 72 dpi: "353 µm per
// pixel") was refused; the demo card's mpp is now matched only against a resolution a microscope gives.
TEST_F(CliSlide, AWritersDefaultResolutionIsReadAtLevelZeroWithWarnings) {
  const std::string patch = xai::test::example_patches() + "/malignant-1.png";
  const std::string png = in("plain.png").string(), tif = in("plain.tif").string();
  int status = 0;
  std::string out = xai::test::run_command("vips arrayjoin '" + patch + " " + patch + " " + patch + " " + patch + "' " + png +
                                               " --across 2 2>&1 && vips tiffsave " + png + " " + tif +
                                               " --tile --pyramid --tile-width 64 --tile-height 64 2>&1",
                                           &status);
  ASSERT_EQ(status, 0) << out;
  const RunResult plain = xai({"slide", tif, "-m", std::string(XAI_SOURCE_DIR) + "/models/demo-histo.pt", "-o",
                               (root_ / "plain").string(), "--no-viewer", "--min-tissue", "0"});
  ASSERT_EQ(plain.code, 0) << plain;
  EXPECT_NE(plain.err.find("no microscope scans at"), std::string::npos) << plain;
  EXPECT_NE(plain.err.find("cannot be matched: tiles are read at level 0"), std::string::npos) << plain;
  const json report = read_json(root_ / "plain" / "slide.json");
  EXPECT_EQ(report["layout"]["level"], 0);
  EXPECT_EQ(report["counts"]["tissue_tiles"], 4) << report["counts"].dump();
  EXPECT_TRUE(report["slide"]["mpp"].is_null());
}

}  // namespace
