// Hostile input, generated here (no file CI does not install): every case ends in the documented exit
// code with one line naming the file and what is wrong, or in a result with the right warning — never
// an abort, a hang, a silent NaN or a write outside the output folder.
#include <sys/file.h>
#include <sys/stat.h>

#include "cli_fixture.hpp"

namespace {

using namespace xai::e2e;
namespace fs = std::filesystem;
using nlohmann::json;
using Args = std::vector<std::string>;
using xai::test::png_chunk;

std::string encoded(const cv::Mat& image, const std::string& ext) {
  std::vector<uchar> bytes;
  EXPECT_TRUE(cv::imencode(ext, image, bytes)) << ext;
  return std::string(bytes.begin(), bytes.end());
}

// A valid small PNG whose IHDR (CRC fixed) declares width x height: a "decompression bomb" header.
std::string png_declaring(uint32_t width, uint32_t height) {
  std::string png = encoded(cv::Mat(4, 4, CV_8UC3, cv::Scalar(0)), ".png");
  std::string ihdr = png.substr(16, 13);
  for (int i = 0; i < 4; ++i) ihdr[i] = static_cast<char>(width >> (24 - 8 * i)), ihdr[4 + i] = static_cast<char>(height >> (24 - 8 * i));
  return png.substr(0, 8) + png_chunk("IHDR", ihdr) + png.substr(33);
}

// 128-byte preamble, "DICM", then a few group-2 elements: what the first bytes of a scanner file hold.
std::string dicom_bytes(const std::string& preamble = std::string(128, '\0')) {
  std::string bytes = preamble.substr(0, 128);
  bytes.resize(128, '\0');
  bytes += "DICM";
  bytes += std::string("\x02\x00\x10\x00UI\x14\x00", 8) + "1.2.840.10008.1.2.1\0";
  return bytes + std::string(256, '\x5a');
}

struct RefusedFile {
  std::string name;   // file name, extension chosen to mislead
  std::string bytes;
  std::string says;   // fragment of the one-line error
};

using CliHostile = CliTest;

TEST_F(CliHostile, FilesThatAreNotSupportedImagesAreRefusedInOneLine) {
  const std::string tiff = encoded(cv::Mat(8, 8, CV_8UC1, cv::Scalar(3)), ".tiff");
  cv::Mat nan_pixels(12, 12, CV_32FC1, cv::Scalar(0.5));
  nan_pixels.at<float>(5, 6) = std::numeric_limits<float>::quiet_NaN();
  const std::vector<RefusedFile> cases = {
      {"scan.png", dicom_bytes(), "not a readable DICOM file"},
      {"scan-with-tiff-preamble.tif", dicom_bytes(tiff), "not a readable DICOM file"},
      {"noextension", dicom_bytes(), "DICOM"},
      {"anim.gif", "GIF89a\x10\x00\x10\x00\x80\x00\x00" + std::string(64, '\0'), "GIF is not supported"},
      {"photo.jpg", std::string("\0\0\0\x0cjP  \r\n\x87\n", 12) + std::string(100, 'j'), "JPEG 2000"},
      {"bomb.png", png_declaring(16000, 16000), "--max-image-memory"},
      {"absurd.png", png_declaring(0xFFFFFFFFu, 0xFFFFFFFFu), "over the limit"},
      {"nan.tiff", encoded(nan_pixels, ".tiff"), "NaN or infinite pixel"},
      {"double.tiff", encoded(cv::Mat(8, 8, CV_64FC1, cv::Scalar(0.25)), ".tiff"), "64-bit float"},
      {"pdf.png", "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "PDF"},
      {"notes.png", "just some text\n", "unknown format"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    write_bytes(in(c.name), c.bytes);
    expect_error(explain(model("tiny-scripted.pt"), in(c.name)), 3, {in(c.name).string(), c.says});
  }
}

// Only regular files are read: a FIFO (as the image, as --regions, or behind a link in a batch folder)
// used to block forever, and /dev/zero was read until memory ran out.
TEST_F(CliHostile, FifosAndDevicesAreRefusedWithoutHanging) {
  const fs::path fifo = in("fifo.png");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  expect_error(explain(model("tiny-scripted.pt"), fifo), 3, {fifo.string(), "FIFO"});
  expect_error(explain(model("tiny-scripted.pt"), "/dev/zero"), 3, {"/dev/zero", "not a regular file"});
  const fs::path image = write_image("patch.png", test_image(40, 30));
  expect_error(explain(model("tiny-scripted.pt"), image, {"--method", "lime", "--regions", fifo.string()}), 3,
               {fifo.string(), "FIFO"});
  fs::create_directories(in("folder"));
  cv::imwrite(in("folder/good.png").string(), test_image(40, 30));
  fs::create_symlink(fifo, in("folder/trap.png"));
  const RunResult batch = xai({"batch", "-m", model("tiny-scripted.pt"), in("folder").string(), "-o", out_dir().string()});
  EXPECT_EQ(batch.code, 8) << batch;  // partial: the good image is written, the trap is a failed input
  EXPECT_NE(batch.err.find("FIFO"), std::string::npos) << batch;
  EXPECT_TRUE(fs::exists(out_dir() / "good.gradcam.png"));
}

// Successful runs say nothing but xai's own lines: no libpng/libtiff chatter, and what a user must
// know arrives as one warning (EXIF orientation, extra pages, 12-bit data in 16-bit files).
TEST_F(CliHostile, LibraryChatterIsSilencedAndFactsBecomeWarnings) {
  const std::string png = encoded(test_image(40, 30), ".png");
  write_bytes(in("icc.png"), png.substr(0, 33) + png_chunk("iCCP", std::string("bad\0\0short", 10)) + png.substr(33));
  const RunResult icc = explain(model("tiny-scripted.pt"), in("icc.png"), {"-q"});
  EXPECT_EQ(icc.code, 0) << icc;
  EXPECT_EQ(icc.err, "") << icc;

  write_bytes(in("turned.jpg"), with_exif_orientation(encoded(test_image(40, 30), ".jpg"), 6));
  const RunResult turned = explain(model("tiny-scripted.pt"), in("turned.jpg"));
  EXPECT_EQ(turned.code, 0) << turned;
  EXPECT_NE(turned.err.find("EXIF orientation 6 not applied"), std::string::npos) << turned;
  EXPECT_EQ(count_lines(turned.err), 1u) << turned;
  const RunResult upright = explain(model("tiny-scripted.pt"), in("turned.jpg"), {"--apply-exif-orientation"});
  EXPECT_EQ(upright.code, 0) << upright;
  EXPECT_EQ(read_json(out_dir() / "turned.json").at("input").at("width"), 30);

  ASSERT_TRUE(cv::imwritemulti(in("pages.tiff").string(), std::vector<cv::Mat>{test_image(40, 30), test_image(40, 30, 9)}));
  const RunResult pages = explain(model("tiny-scripted.pt"), in("pages.tiff"));
  EXPECT_EQ(pages.code, 0) << pages;
  EXPECT_NE(pages.err.find("only the first page"), std::string::npos) << pages;

  write_image("twelve.png", cv::Mat(30, 40, CV_16UC1, cv::Scalar(3000)));
  const RunResult twelve = explain(model("tiny-scripted.pt"), in("twelve.png"));
  EXPECT_EQ(twelve.code, 0) << twelve;
  EXPECT_NE(twelve.err.find("12-bit"), std::string::npos) << twelve;

  // A motion photo: a JPEG with a video after its end marker is explained, not called truncated.
  write_bytes(in("motion.jpg"), encoded(test_image(40, 30), ".jpg") + std::string("\0\0\0\x18" "ftypmp42", 12) + std::string(300, 'v'));
  const RunResult motion = explain(model("tiny-scripted.pt"), in("motion.jpg"), {"-q"});
  EXPECT_EQ(motion.code, 0) << motion;
  EXPECT_EQ(motion.err, "") << motion;
}

// Model outputs xai cannot explain are exit-4 errors naming the model, for every method family; they
// used to be "internal error" (exit 1) or, for NaN, a silent "benign (nan)".
TEST_F(CliHostile, ModelOutputsThatCannotBeExplainedAreModelErrors) {
  const fs::path image = write_image("patch.png", test_image(40, 30));
  const std::string data = kTestData + "/";
  struct Case {
    std::string head, says;
  };
  for (const Case& c : {Case{"int64", "returns Long values"}, Case{"bool", "returns Bool values"},
                        Case{"half", "add .float()"}, Case{"nan", "NaN or infinite values"}})
    for (const Args& method : {Args{"--method", "gradcam"}, Args{"--method", "lime", "--samples", "30", "--segments", "6"}}) {
      SCOPED_TRACE(c.head + " " + method[1]);
      expect_error(explain(data + "head-" + c.head + ".pt", image, method), 4, {"head-" + c.head + ".pt", c.says});
    }
  // No gradient: gradient methods are refused with the way out; perturbation methods run.
  expect_error(explain(data + "head-detached.pt", image, {"--method", "gradcam"}), 4, {"carries no gradient", "lime"});
  expect_error(explain(data + "head-detached.pt", image, {"--method", "intgrad", "--steps", "4"}), 4, {"carries no gradient"});
  const RunResult lime = explain(data + "head-detached.pt", image, {"--method", "lime", "--samples", "30", "--segments", "6"});
  EXPECT_EQ(lime.code, 0) << lime;
  // Outputs that are already probabilities: explained, with the warning that softmax flattens them.
  const RunResult twice = explain(data + "head-softmax.pt", image);
  EXPECT_EQ(twice.code, 0) << twice;
  EXPECT_NE(twice.err.find("already probabilities"), std::string::npos) << twice;
  EXPECT_EQ(explain(model("tiny-scripted.pt"), image).err.find("already probabilities"), std::string::npos);
  // A two-output multi-label sigmoid model: each output its own sigmoid.
  const RunResult multilabel = explain(data + "head-multilabel.pt", image, {"-k", "2"});
  ASSERT_EQ(multilabel.code, 0) << multilabel;
  const json report = read_json(out_dir() / "patch.json");
  const auto& classes = report.at("prediction").at("classes");
  ASSERT_EQ(classes.size(), 2u);
  const auto& logits = report.at("prediction").at("logits");
  for (size_t i = 0; i < 2; ++i)
    EXPECT_NEAR(classes[i].at("probability").get<double>(), 1.0 / (1.0 + std::exp(-logits[i].get<double>())), 1e-6);
}

// Numbers that are not numbers, and values out of range, are usage errors naming the flag.
TEST_F(CliHostile, NonFiniteAndOutOfRangeFlagsAreRefused) {
  const fs::path image = write_image("patch.png", test_image(40, 30));
  const Args lime = {"--method", "lime", "--samples", "30", "--segments", "6"};
  auto with_lime = [&](Args extra) {
    extra.insert(extra.begin(), lime.begin(), lime.end());
    return extra;
  };
  struct Case {
    Args args;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"--alpha", "nan"}, "--alpha"},
      {{"--mean", "nan,0.4,0.4"}, "mean values must be finite"},
      {{"--std", "inf,0.2,0.2"}, "std values must be positive finite"},
      {with_lime({"--hide", "constant", "--hide-color", "nan"}), "--hide-color"},
      {with_lime({"--kernel-width", "1e-300"}), "--kernel-width"},
      {with_lime({"--kernel-width", "inf"}), "--kernel-width"},
      {with_lime({"--seed", "-1"}), "--seed"},
      {with_lime({"--seed", "18446744073709551616"}), "--seed"},
      {{"--method", "rise", "--keep", "nan"}, "--keep"},
      {{"--method", "smoothgrad", "--noise", "inf"}, "--noise"},
      {{"--threads", "100000"}, "--threads"},
      {{"--input-size", "8192"}, "input_size"},
      {{"--labels", "tumör,tumär"}, "both become the file name part"},
      {{"--labels", "a b,a/b,c"}, "both become the file name part"},
      {{"--labels", "x,x,y"}, "are the same"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.args.front() + " " + c.args.back());
    expect_error(explain(model("tiny-scripted.pt"), image, c.args), 2, {c.says});
  }
  // The largest seed is a seed.
  EXPECT_EQ(explain(model("tiny-scripted.pt"), image, with_lime({"--seed", "18446744073709551615"})).code, 0);
}

// Card values are checked as written: truncated, wrapped or huge sizes and colliding labels are exit 4.
TEST_F(CliHostile, CardValuesAreNotTruncatedOrWrapped) {
  const fs::path image = write_image("patch.png", test_image(40, 30));
  const json base = json::parse(read_bytes(fs::path(model("tiny-scripted.json"))));
  const std::vector<std::pair<std::string, json>> cases = {
      {"input_size", json::array({96.7, 96})},     {"input_size", json::array({4294967392ull, 96})},
      {"input_size", json::array({8192, 8192})},   {"labels", json::array({"tumör", "tumär", "c"})},
      {"labels", json::array({"a", "", "c"})},
  };
  for (const auto& [key, value] : cases) {
    SCOPED_TRACE(value.dump());
    json card = base;
    card[key] = value;
    write_bytes(in("card.json"), card.dump());
    expect_error(explain(model("tiny-scripted.pt"), image, {"--card", in("card.json").string()}), 4, {"card.json", key});
  }
}

// Names that are markup, URL syntax, formulas or not UTF-8: the batch finishes, every journal line
// parses, the gallery shows every card with its images, and no summary cell runs as a formula.
TEST_F(CliHostile, HostileFileNamesInABatch) {
  fs::create_directories(in("names"));
  const std::vector<std::string> names = {"<!--<script>.png", "a#b?c:d.png", "line\nbreak.png", "bad\xffname.png",
                                          "=HYPERLINK(\"http:x\").png", "100%.png"};
  for (const auto& name : names) cv::imwrite((in("names") / name).string(), test_image(32, 24));
  const RunResult run = xai({"batch", "-q", "-m", model("tiny-scripted.pt"), in("names").string(), "-o", out_dir().string()});
  ASSERT_EQ(run.code, 0) << run;
  EXPECT_EQ(run.err, "") << run;
  std::istringstream journal(read_bytes(out_dir() / "results.jsonl"));
  size_t lines = 0;
  for (std::string line; std::getline(journal, line); ++lines) {
    const json record = json::parse(line);  // throws (fails the test) on a broken line
    for (const char* role : {"overlay", "report", "thumbnail"})
      EXPECT_TRUE(fs::exists(out_dir() / record.at("files").at(role).get<std::string>())) << line;
  }
  EXPECT_EQ(lines, names.size());
  const std::string csv = read_bytes(out_dir() / "summary.csv");
  EXPECT_EQ(csv.find("\n=HYPERLINK"), std::string::npos) << csv;
  EXPECT_NE(csv.find("'=HYPERLINK"), std::string::npos) << csv;
  EXPECT_NE(csv.find("bad%FFname.png"), std::string::npos) << csv;  // not UTF-8: percent-escaped
  const std::string html = read_bytes(out_dir() / "index.html");
  EXPECT_EQ(html.find("<!--<script"), std::string::npos);
  // A rerun resumes every name: nothing is explained twice.
  const RunResult again = xai({"batch", "-m", model("tiny-scripted.pt"), in("names").string(), "-o", out_dir().string()});
  EXPECT_EQ(again.code, 0) << again;
  EXPECT_NE(again.err.find(std::to_string(names.size()) + " already done"), std::string::npos) << again;
  if (std::string(XAI_CHROMIUM).empty()) return;
  const std::string dom = xai::test::run_command(
      "timeout 120 '" + std::string(XAI_CHROMIUM) + "' --headless --no-sandbox --disable-gpu --disable-dev-shm-usage"
      " --window-size=2000,4000 --virtual-time-budget=10000 --dump-dom 'file://" + (out_dir() / "index.html").string() +
      "' 2>/dev/null");
  size_t cards = 0, missing = 0;
  for (size_t at = dom.find("class=\"card\""); at != std::string::npos; at = dom.find("class=\"card\"", at + 1)) ++cards;
  for (size_t at = dom.find("class=\"missing\""); at != std::string::npos; at = dom.find("class=\"missing\"", at + 1)) ++missing;
  EXPECT_EQ(cards, names.size()) << dom;
  EXPECT_EQ(missing, 0u) << dom;
}

// A journal is input to merge: its paths must stay inside their shard, and a merge is all or nothing.
TEST_F(CliHostile, MergeRefusesJournalsThatPointOutsideOrMissFiles) {
  fs::create_directories(in("images"));
  for (int i = 0; i < 3; ++i) cv::imwrite((in("images") / ("p" + std::to_string(i) + ".png")).string(), test_image(32, 24, i));
  const fs::path shard = root_ / "shard";
  ASSERT_EQ(xai({"batch", "-q", "-m", model("tiny-scripted.pt"), in("images").string(), "-o", shard.string()}).code, 0);
  const std::string journal = read_bytes(shard / "results.jsonl");
  const fs::path victim = root_ / "victim.txt";
  write_bytes(victim, "precious");
  const std::string first_overlay = json::parse(journal.substr(0, journal.find('\n'))).at("files").at("overlay");
  for (const std::string& hostile : {std::string("../victim.txt"), std::string("../../victim.txt"), victim.string(),
                                     std::string("./") + first_overlay}) {
    SCOPED_TRACE(hostile);
    std::string edited = journal;
    const size_t at = edited.find("\"overlay\":\"" + first_overlay + "\"");
    ASSERT_NE(at, std::string::npos);
    edited.replace(at, first_overlay.size() + 12, "\"overlay\":" + json(hostile).dump());
    write_bytes(shard / "results.jsonl", edited);
    const RunResult merge = xai({"merge", shard.string(), "-o", out_dir().string()});
    expect_error(merge, 3, {"outside its folder"});
    EXPECT_EQ(read_bytes(victim), "precious");
  }
  write_bytes(shard / "results.jsonl", journal);
  fs::remove(shard / first_overlay);
  expect_error(xai({"merge", shard.string(), "-o", out_dir().string()}), 3, {"missing", first_overlay});
}

// One result per input and method: a rerun with another target, or conflicting shards, supersede.
TEST_F(CliHostile, TheLatestResultPerInputAndMethodWins) {
  fs::create_directories(in("images"));
  for (int i = 0; i < 2; ++i) cv::imwrite((in("images") / ("p" + std::to_string(i) + ".png")).string(), test_image(32, 24, i));
  const Args base = {"batch", "-q", "-m", model("tiny-scripted.pt"), in("images").string()};
  auto batch_into = [&](const fs::path& out, Args extra) {
    Args args = base;
    args.push_back("-o"), args.push_back(out.string());
    args.insert(args.end(), extra.begin(), extra.end());
    return xai(args);
  };
  ASSERT_EQ(batch_into(out_dir(), {}).code, 0);
  ASSERT_EQ(batch_into(out_dir(), {"-t", "1"}).code, 0);
  const std::string journal = read_bytes(out_dir() / "results.jsonl");
  EXPECT_EQ(count_lines(journal), 2u) << journal;
  std::istringstream lines(journal);
  for (std::string line; std::getline(lines, line);) EXPECT_EQ(json::parse(line).at("target").at("index"), 1) << line;
  EXPECT_EQ(count_lines(read_bytes(out_dir() / "summary.csv")), 3u);  // header + one row per input
  // Two shards that both explained every input, with different targets: merged, one row each.
  ASSERT_EQ(batch_into(root_ / "s0", {"-t", "0"}).code, 0);
  ASSERT_EQ(batch_into(root_ / "s1", {"-t", "2"}).code, 0);
  ASSERT_EQ(xai({"merge", (root_ / "s0").string(), (root_ / "s1").string(), "-o", (root_ / "m").string()}).code, 0);
  const std::string merged = read_bytes(root_ / "m" / "results.jsonl");
  EXPECT_EQ(count_lines(merged), 2u) << merged;
  std::istringstream merged_lines(merged);
  for (std::string line; std::getline(merged_lines, line);) EXPECT_EQ(json::parse(line).at("target").at("index"), 2);
}

// Two runs into one folder: the second refuses at once instead of losing the first one's journal.
TEST_F(CliHostile, ASecondRunIntoTheSameFolderIsRefused) {
  fs::create_directories(in("images"));
  cv::imwrite((in("images") / "p.png").string(), test_image(32, 24));
  fs::create_directories(out_dir());
  const int fd = ::open((out_dir() / ".xai.lock").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);  // as a running batch holds it
  const RunResult second = xai({"batch", "-m", model("tiny-scripted.pt"), in("images").string(), "-o", out_dir().string()});
  EXPECT_EQ(second.code, 6) << second;
  EXPECT_EQ(count_lines(second.err), 1u) << second;
  EXPECT_NE(second.err.find("another xai run is writing into this folder"), std::string::npos) << second;
  EXPECT_FALSE(fs::exists(out_dir() / "results.jsonl"));
  ::close(fd);
  EXPECT_EQ(xai({"batch", "-q", "-m", model("tiny-scripted.pt"), in("images").string(), "-o", out_dir().string()}).code, 0);
}

// Layout, resume keys and shards are relative to the INPUT argument: a file added in a new subfolder
// changes nothing for the files already there.
TEST_F(CliHostile, OutputsAreRelativeToTheInputArgument) {
  fs::create_directories(in("IN/2024/slides"));
  cv::imwrite(in("IN/2024/slides/a.png").string(), test_image(32, 24));
  const Args batch = {"batch", "-q", "-m", model("tiny-scripted.pt"), in("IN").string(), "-o", out_dir().string()};
  ASSERT_EQ(xai(batch).code, 0);
  EXPECT_TRUE(fs::exists(out_dir() / "2024/slides/a.gradcam.png"));
  const std::string first = read_bytes(out_dir() / "results.jsonl");
  fs::create_directories(in("IN/2025"));
  cv::imwrite(in("IN/2025/new.png").string(), test_image(32, 24, 5));
  const RunResult again = xai({"batch", "-m", model("tiny-scripted.pt"), in("IN").string(), "-o", out_dir().string()});
  ASSERT_EQ(again.code, 0) << again;
  EXPECT_NE(again.err.find("1 explained, 1 already done"), std::string::npos) << again;
  EXPECT_TRUE(fs::exists(out_dir() / "2025/new.gradcam.png"));
  EXPECT_NE(read_bytes(out_dir() / "results.jsonl").find(first.substr(0, first.find('\n'))), std::string::npos);
}

// SIGINT or SIGTERM: the batch in flight is written, then the journal, summary and gallery; exit 130
// or 143; the same command resumes without redoing what was written.
TEST_F(CliHostile, InterruptedBatchesWriteTheirSummaryAndResume) {
  fs::create_directories(in("many"));
  for (int i = 0; i < 12; ++i) cv::imwrite((in("many") / ("p" + std::to_string(i) + ".png")).string(), test_image(64, 48, i));
  const Args batch = {"batch", "-m", model("tiny-scripted.pt"), in("many").string(), "-o", out_dir().string(),
                      "--method", "lime", "--samples", "1500", "--segments", "20", "--batch-size", "1", "--workers", "1"};
  for (const int signal : {SIGINT, SIGTERM}) {
    SCOPED_TRACE(signal);
    fs::remove_all(out_dir());
    const RunResult stopped = xai(batch, {}, [&](pid_t pid) {
      // As soon as the first result is journaled, as a user's Ctrl-C would come mid-run.
      for (int wait = 0; wait < 600 && read_bytes(out_dir() / "results.jsonl").empty(); ++wait) ::usleep(50000);
      ::kill(pid, signal);
    });
    EXPECT_EQ(stopped.code, 128 + signal) << stopped;
    EXPECT_NE(stopped.err.find(signal == SIGINT ? "stopped by SIGINT" : "stopped by SIGTERM"), std::string::npos) << stopped;
    const size_t done = count_lines(read_bytes(out_dir() / "results.jsonl"));
    EXPECT_GE(done, 1u);
    EXPECT_LT(done, 12u) << "the run was not stopped early";
    EXPECT_TRUE(fs::exists(out_dir() / "summary.csv"));
    EXPECT_TRUE(fs::exists(out_dir() / "index.html"));
    EXPECT_EQ(count_lines(read_bytes(out_dir() / "summary.csv")), done + 1);
  }
  const RunResult resumed = xai(batch);
  EXPECT_EQ(resumed.code, 0) << resumed;
  EXPECT_EQ(count_lines(read_bytes(out_dir() / "results.jsonl")), 12u);
}

// Temporary files of a killed run are removed by the next run into the same folder; a live
// process's are not.
TEST_F(CliHostile, TemporaryFilesOfKilledRunsAreRemoved) {
  fs::create_directories(in("images"));
  cv::imwrite((in("images") / "p.png").string(), test_image(32, 24));
  fs::create_directories(out_dir() / "sub");
  // pid 0 never names a process that can be asked; pid_max is above any live pid.
  const std::string dead = ".p.gradcam.png.tmp-2147483646-0123456789abcdef";
  const std::string live = ".p.json.tmp-" + std::to_string(::getpid()) + "-fedcba9876543210";
  write_bytes(out_dir() / dead, "half");
  write_bytes(out_dir() / "sub" / dead, "half");
  write_bytes(out_dir() / live, "being written");
  write_bytes(out_dir() / ".notes.tmp-12-xyz", "not ours");
  ASSERT_EQ(xai({"batch", "-q", "-m", model("tiny-scripted.pt"), in("images").string(), "-o", out_dir().string()}).code, 0);
  EXPECT_FALSE(fs::exists(out_dir() / dead));
  EXPECT_FALSE(fs::exists(out_dir() / "sub" / dead));
  EXPECT_TRUE(fs::exists(out_dir() / live));
  EXPECT_TRUE(fs::exists(out_dir() / ".notes.tmp-12-xyz"));
}

// Stored maps are at most --map-size on their longer side (a 16000-pixel image wrote 1 GB per map);
// the overlay keeps the image's size.
TEST_F(CliHostile, StoredMapsAreCappedByMapSize) {
  const fs::path image = write_image("wide.png", test_image(300, 120));
  for (const Args& method : {Args{"--method", "gradcam"}, Args{"--method", "lime", "--samples", "30", "--segments", "6"}}) {
    SCOPED_TRACE(method[1]);
    ASSERT_EQ(explain(model("tiny-scripted.pt"), image, {method[0], method[1], "--map-size", "100", "--figure-size", "0"}).code, 0);
    const Map stored = read_map(out_dir() / ("wide." + method[1] + ".npy"));
    EXPECT_EQ(stored.shape, (std::vector<size_t>{40, 100}));
    EXPECT_EQ(cv::imread((out_dir() / ("wide." + method[1] + ".png")).string()).size(), cv::Size(300, 120));
    EXPECT_EQ(read_json(out_dir() / "wide.json").at("explanations")[0].at("map_shape"), json::array({40, 100}));
    // Under the cap the map is the image's size, as before.
    ASSERT_EQ(explain(model("tiny-scripted.pt"), image, method).code, 0);
    EXPECT_EQ(read_map(out_dir() / ("wide." + method[1] + ".npy")).shape, (std::vector<size_t>{120, 300}));
  }
}

// One image's outputs appear together or not at all: a stem so long that its longest output name
// exceeds the file-name limit leaves none of its files behind.
TEST_F(CliHostile, AFailedWriteLeavesNoOrphanFiles) {
  // LIME writes STEM.lime.png, .npy, -top.png (253 bytes: fit) and STEM.lime-segments.png (258: does not).
  const std::string stem(240, 's');
  const fs::path image = write_image(stem + ".png", test_image(32, 24));
  const RunResult r = explain(model("tiny-scripted.pt"), image, {"--method", "lime", "--samples", "30", "--segments", "6"});
  EXPECT_EQ(r.code, 6) << r;
  EXPECT_EQ(count_lines(r.err), 1u) << r;
  EXPECT_TRUE(!fs::exists(out_dir()) || entries(out_dir()).empty()) << join(entries(out_dir()));
}

// Messages that blamed the wrong thing: a CSV label is not a --target-class, a layer given twice did
// not "fail to run".
TEST_F(CliHostile, ErrorsNameWhatIsWrong) {
  fs::create_directories(in("eval"));
  cv::imwrite((in("eval") / "p.png").string(), test_image(32, 24));
  write_bytes(in("truth.csv"), "name,label\np,tumour\n");
  const RunResult csv = xai({"eval", "-m", model("tiny-scripted.pt"), in("eval").string(), "--labels-csv",
                             in("truth.csv").string(), "--positive-class", "1"});
  expect_error(csv, 2, {"truth.csv", "tumour", "not one of the model's classes"});
  EXPECT_EQ(csv.err.find("--target-class"), std::string::npos) << csv;
  const fs::path image = write_image("patch.png", test_image(40, 30));
  expect_error(explain(model("tiny-scripted.pt"), image, {"-l", "layer1", "-l", "layer1"}), 2, {"layer1", "given twice"});
}

// Decoded images in flight are bounded by twice --max-image-memory: with room for two images at a time
// and batches of 8, the model runs what it holds instead of waiting for a full batch (no deadlock),
// and the results equal an unconstrained run's.
TEST_F(CliHostile, BatchMemoryInFlightIsBounded) {
  fs::create_directories(in("big"));
  for (int i = 0; i < 10; ++i) cv::imwrite((in("big") / ("p" + std::to_string(i) + ".png")).string(), test_image(270, 250, i));
  // 270 x 250 x (3 + 12) bytes = 1.01 MB per image: within 1 MiB, and 2 x 1 MiB holds two of them.
  const RunResult tight = xai({"batch", "-q", "-m", model("tiny-scripted.pt"), in("big").string(), "-o",
                               out_dir().string(), "--max-image-memory", "1", "--batch-size", "8", "--workers", "2"});
  ASSERT_EQ(tight.code, 0) << tight;
  const RunResult roomy = xai({"batch", "-q", "-m", model("tiny-scripted.pt"), in("big").string(), "-o",
                               (root_ / "roomy").string(), "--batch-size", "8", "--workers", "2"});
  ASSERT_EQ(roomy.code, 0) << roomy;
  for (int i = 0; i < 10; ++i) {
    const std::string name = "p" + std::to_string(i) + ".gradcam.npy";
    EXPECT_LT(max_abs_diff(read_map(out_dir() / name), read_map(root_ / "roomy" / name)), 1e-5) << name;
  }
}

// More images per pass than the device holds is a memory error that names the batch and what to lower
// (exit 7), whether the copy, the composition, the forward or the backward is what fails, and never a model
// error or an internal one. The address space is capped at 8 GB (xai reserves ~3.3 GB of it to start), as
// a GPU's memory caps it there; the batches asked for need more than that.
TEST_F(CliHostile, BatchesLargerThanTheMemoryAreMemoryErrors) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer reserves terabytes of address space";
#endif
  const fs::path image = write_image("patch.png", test_image(96, 96, 3));
  address_space_limit_ = rlim_t{8} << 30;
  for (const Args& method : {Args{"--method", "intgrad", "--probe-batch", "16384", "--steps", "16384"},
                             Args{"--method", "lime", "--probe-batch", "40000", "--samples", "40000"}}) {
    SCOPED_TRACE(method[1]);
    expect_error(explain(model("demo-histo.pt"), image, method), 7,
                 {"demo-histo.pt: out of memory on cpu running", "image(s) of 96x96 at once: lower --probe-batch"});
  }
  // A batch whose buffers the host cannot even hold says so, before any pass.
  expect_error(explain(model("demo-histo.pt"), image, {"--method", "lime", "--probe-batch", "300000", "--samples", "300000"}),
               7, {"out of memory holding 300000 image(s) of 96x96 for one pass on the host: lower --probe-batch"});
  // The same limit leaves room for an ordinary run.
  const RunResult ordinary = explain(model("demo-histo.pt"), image, {"--method", "intgrad", "-q"});
  EXPECT_EQ(ordinary.code, 0) << ordinary;
}

// Extreme aspect ratios: every reduced view (layer grids, compare's agreement, thumbnails, stored maps)
// keeps at least one pixel a side; cv::resize used to assert ("internal error").
TEST_F(CliHostile, ExtremeAspectRatiosAreExplained) {
  for (const cv::Size size : {cv::Size(2000, 1), cv::Size(1, 2000)}) {
    SCOPED_TRACE(std::to_string(size.width) + "x" + std::to_string(size.height));
    const fs::path image = write_image("thin.png", test_image(size.width, size.height));
    const RunResult grid = explain(model("tiny-scripted.pt"), image, {"--layers", "auto-all", "--map-size", "100"});
    EXPECT_EQ(grid.code, 0) << grid;
    const RunResult compare = xai({"compare", "-m", model("tiny-scripted.pt"), "-m", model("tiny-traced.pt"),
                                   image.string(), "-o", out_dir().string()});
    EXPECT_EQ(compare.code, 0) << compare;
    fs::create_directories(in("thin"));
    fs::copy_file(image, in("thin/thin.png"), fs::copy_options::overwrite_existing);
    const RunResult batch = xai({"batch", "-q", "-m", model("tiny-scripted.pt"), in("thin").string(), "-o",
                                 (root_ / "b").string()});
    EXPECT_EQ(batch.code, 0) << batch;
    fs::remove_all(root_ / "b");
  }
}

}  // namespace

// The summary and gallery list the inputs found now and the methods asked for now: an input deleted
// since an earlier run, or a method of an earlier run, is not shown as part of this one (its result
// stays in the journal, and a run that names it again resumes it).
TEST_F(CliHostile, SummaryListsThisRunsInputsAndMethodsOnly) {
  fs::create_directories(in("images"));
  for (int i = 0; i < 3; ++i) cv::imwrite((in("images") / ("p" + std::to_string(i) + ".png")).string(), test_image(32, 24, i));
  auto batch = [&](const std::string& methods) {
    Args args = {"batch", "-m", model("tiny-scripted.pt"), "--method", methods, in("images").string(), "-o", out_dir().string()};
    if (methods.find("lime") != std::string::npos) args.insert(args.end(), {"--samples", "20"});
    return xai(args);
  };
  auto rows = [&] { return count_lines(read_bytes(out_dir() / "summary.csv")) - 1; };
  ASSERT_EQ(batch("gradcam").code, 0);
  EXPECT_EQ(rows(), 3u);
  fs::remove(in("images") / "p1.png");
  const RunResult after_delete = batch("gradcam");
  ASSERT_EQ(after_delete.code, 0) << after_delete;
  EXPECT_EQ(rows(), 2u);
  EXPECT_EQ(read_bytes(out_dir() / "summary.csv").find("p1.png"), std::string::npos);
  EXPECT_EQ(read_bytes(out_dir() / "index.html").find("p1.png"), std::string::npos);
  EXPECT_NE(after_delete.err.find("1 earlier result(s)"), std::string::npos) << after_delete;
  ASSERT_EQ(batch("lime").code, 0);
  EXPECT_EQ(rows(), 2u);  // LIME's rows, not Grad-CAM's
  EXPECT_EQ(read_bytes(out_dir() / "summary.csv").find(",gradcam,"), std::string::npos);
  EXPECT_EQ(count_lines(read_bytes(out_dir() / "results.jsonl")), 5u);  // 3 Grad-CAM (one deleted) + 2 LIME
  const RunResult both = batch("gradcam,lime");
  ASSERT_EQ(both.code, 0) << both;
  EXPECT_EQ(rows(), 4u);
  EXPECT_NE(both.err.find("0 explained, 2 already done"), std::string::npos) << both;
}
