// The journal reader: what resume, merge, summary and gallery are given to read.
#include "output/results_log.hpp"

#include <gtest/gtest.h>

#include "output/gallery.hpp"

namespace xai {
namespace {

// A record with every field batch writes (see BatchRun::success_records).
Record batch_record(const std::string& input, const std::string& method) {
  const Record map = {{"target", {{"index", 1}, {"label", "tumor"}, {"probability", 0.9}}},
                      {"layer", "layer4"},
                      {"stats", {{"peak", {{"x", 3}, {"y", 4}, {"value", 1.0}}}, {"mean", 0.2}}},
                      {"files", {{"overlay", input + "/" + method + ".png"}}}};
  Record r = {{"key", input + method}, {"input", input}, {"path", "/data/" + input}, {"sha256", "ab"},
              {"method", method}, {"status", "ok"}, {"label", "tumor"}, {"index", 1}, {"probability", 0.9},
              {"probabilities", {{"normal", 0.1}, {"tumor", 0.9}}}};
  for (const auto& [k, v] : map.items()) r[k] = v;
  r["maps"] = Record::array({map});
  return r;
}

std::string lines_of(const std::vector<Record>& records) {
  std::string text;
  for (const auto& r : records) text += r.dump() + "\n";
  return text;
}

TEST(ResultsLog, KeepsRecordsOfTheShapeBatchWrites) {
  const auto records = parse_results(lines_of({batch_record("a.png", "gradcam"), batch_record("b.png", "lime")}));
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1]["input"], "b.png");
  EXPECT_EQ(record_files(records[0]), std::vector<std::string>{"a.png/gradcam.png"});
}

TEST(ResultsLog, SkipsALineCutShort) {
  const std::string whole = batch_record("a.png", "gradcam").dump();
  const auto records = parse_results(whole + "\n" + whole.substr(0, whole.size() / 2));
  EXPECT_EQ(records.size(), 1u);
}

// Each field of the wrong type makes the line unreadable as a whole; before, a number where a string
// belongs threw from deep inside merge or the gallery (found by fuzz_journal).
TEST(ResultsLog, SkipsRecordsWhoseFieldsHaveOtherTypes) {
  const std::vector<std::pair<std::string, Record>> edits = {
      {"/key", 7},          {"/input", 1},      {"/method", Record::array()}, {"/status", true},
      {"/label", 0.5},      {"/error", 3},      {"/probability", "high"},     {"/files", "x.png"},
      {"/stats", 1},        {"/stats/peak", 2}, {"/target", "tumor"},         {"/target/label", 1},
      {"/layer", 4},        {"/maps", Record::object()},                      {"/maps/0", "m"},
      {"/maps/0/files", 1}, {"/maps/0/target/probability", "p"},              {"/maps/0/layer", false}};
  for (const auto& [pointer, value] : edits) {
    Record r = batch_record("a.png", "gradcam");
    r[Record::json_pointer(pointer)] = value;
    EXPECT_TRUE(parse_results(r.dump() + "\n").empty()) << pointer;
    EXPECT_FALSE(is_well_formed_record(r)) << pointer;
  }
  EXPECT_TRUE(parse_results("[1,2]\n\"text\"\n{}\n").empty());
}

TEST(ResultsLog, NullTargetAndLayerAreWellFormed) {
  Record r = batch_record("a.png", "lime");
  r["layer"] = nullptr;
  r["maps"][0]["layer"] = nullptr;
  r["maps"][0]["target"] = nullptr;
  EXPECT_TRUE(is_well_formed_record(r));
}

TEST(ResultsLog, TheLatestRecordOfEachInputAndMethodWins) {
  Record old_a = batch_record("a.png", "gradcam");
  Record new_a = batch_record("a.png", "gradcam");
  new_a["status"] = "error";
  const auto kept = latest_per_input_and_method({old_a, batch_record("b.png", "gradcam"), new_a});
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0]["input"], "b.png");
  EXPECT_EQ(kept[1]["status"], "error");
}

TEST(ResultsLog, ContainedPathsStayInsideTheFolder) {
  for (const char* ok : {"a.png", "x/y/z.npy", "..a/b"}) EXPECT_TRUE(is_contained_relative_path(ok)) << ok;
  for (const char* bad : {"", "/etc/passwd", "../a", "a/../../b", "a//b", "./a", "a/.", "a/"})
    EXPECT_FALSE(is_contained_relative_path(bad)) << bad;
}

}  // namespace
}  // namespace xai
