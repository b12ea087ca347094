#include <gtest/gtest.h>

#include <fstream>

#include "test_helpers.hpp"
#include "xai/error.hpp"
#include "xai/model_card.hpp"

namespace xai {
namespace {

std::string write(const test::TempDir& dir, const std::string& text) {
  const std::string path = dir.file("card.json");
  std::ofstream(path) << text;
  return path;
}

TEST(ModelCard, ReadsEveryField) {
  test::TempDir dir;
  const ModelCard card = read_model_card(write(dir, R"({"name":"m","labels":["benign","malignant"],
    "input_size":[96,128],"channels":"gray","mean":[0.4],"std":[0.2],"output":"sigmoid","target_layer":"layer3"})"));
  EXPECT_EQ(card.labels.size(), 2u);
  EXPECT_EQ(card.input_height, 96);
  EXPECT_EQ(card.input_width, 128);
  EXPECT_EQ(card.channels, ChannelMode::gray);
  EXPECT_FLOAT_EQ(card.mean[0], 0.4f);
  EXPECT_EQ(card.output, OutputKind::sigmoid);
  EXPECT_EQ(card.expected_outputs(), 1);  // binary sigmoid: one logit for two labels
  EXPECT_EQ(card.target_layer, "layer3");
}

TEST(ModelCard, TokenGridOfTransformers) {
  test::TempDir dir;
  const ModelCard card = read_model_card(write(dir, R"({"tokens":{"grid":[14,20],"prefix":5}})"));
  ASSERT_TRUE(card.tokens.has_value());
  EXPECT_EQ(card.tokens->height, 14);
  EXPECT_EQ(card.tokens->width, 20);
  EXPECT_EQ(card.tokens->prefix, 5);
  EXPECT_EQ(read_model_card(write(dir, R"({"tokens":{"grid":[7,7]}})")).tokens->prefix, 0);
  EXPECT_FALSE(read_model_card(write(dir, R"({"labels":["a","b"]})")).tokens.has_value());
  for (const char* text : {R"({"tokens":{"grid":[14]}})", R"({"tokens":{"grid":[14,0]}})", R"({"tokens":[14,14]})",
                           R"({"tokens":{"grid":[14,14],"prefix":-1}})", R"({"tokens":{"grid":[14,14],"prefx":1}})",
                           R"({"tokens":{"grid":[14.5,14]}})"}) {
    try {
      read_model_card(write(dir, text));
      ADD_FAILURE() << "accepted: " << text;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("tokens must be"), std::string::npos) << e.what();
    }
  }
}

// Whole slides: the resolution the model was trained at, read back by `xai card`'s writer too.
TEST(ModelCard, MicronsPerPixelForSlides) {
  test::TempDir dir;
  const ModelCard card = read_model_card(write(dir, R"({"labels":["a","b"],"mpp":0.25})"));
  ASSERT_TRUE(card.mpp.has_value());
  EXPECT_DOUBLE_EQ(*card.mpp, 0.25);
  EXPECT_DOUBLE_EQ(*parse_model_card(model_card_text(card), "again").mpp, 0.25);
  EXPECT_FALSE(read_model_card(write(dir, R"({"labels":["a","b"]})")).mpp.has_value());
  for (const char* text : {R"({"mpp":0})", R"({"mpp":-0.5})", R"({"mpp":"0.5"})", R"({"mpp":5000})"}) {
    try {
      read_model_card(write(dir, text));
      ADD_FAILURE() << "accepted: " << text;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::model);
      EXPECT_NE(std::string(e.what()).find("mpp must be"), std::string::npos) << e.what();
    }
  }
}

TEST(ModelCard, GrayWithoutStatisticsGetsGrayDefaults) {
  test::TempDir dir;
  const ModelCard card = read_model_card(write(dir, R"({"channels":"gray"})"));
  EXPECT_EQ(card.mean.size(), 1u);
  EXPECT_EQ(card.expected_outputs(), std::nullopt);
}

TEST(ModelCard, BadCardsNameTheFile) {
  test::TempDir dir;
  for (const char* text : {"{not json", "[1,2]", R"({"input_size":[1]})", R"({"channels":"rgb","mean":[0.5]})",
                           R"({"output":"softmaxx"})", R"({"labels":"benign"})", R"({"std":[0,1,1]})",
                           R"({"labels":["only"]})",
                           // Values that used to be truncated, wrapped or accepted at any size.
                           R"({"input_size":[96.7,96]})", R"({"input_size":[4294967392,96]})",
                           R"({"input_size":[8192,8192]})", R"({"input_size":[-96,96]})", R"({"input_size":"96"})",
                           // Labels that would write two classes into one file, or none.
                           R"({"labels":["tumör","tumär"]})", R"({"labels":["a b","a/b"]})", R"({"labels":["x","x"]})",
                           R"({"labels":["","y"]})"}) {
    const std::string path = write(dir, text);
    try {
      read_model_card(path);
      ADD_FAILURE() << "accepted: " << text;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::model) << text;
      EXPECT_EQ(std::string(e.what()).rfind(path, 0), 0u) << e.what();
    }
  }
}

TEST(ModelCard, LargestInputSideAndTwoOutputSigmoid) {
  test::TempDir dir;
  const ModelCard largest = read_model_card(write(dir, R"({"input_size":[4096,1]})"));
  EXPECT_EQ(largest.input_height, ModelCard::kMaxInputSide);
  // Sigmoid with two labels: one logit (binary) or two independent ones (multi-label); nothing else.
  ModelCard card = read_model_card(write(dir, R"({"labels":["effusion","nodule"],"output":"sigmoid"})"));
  EXPECT_TRUE(card.fits_outputs(1));
  EXPECT_TRUE(card.fits_outputs(2));
  EXPECT_FALSE(card.fits_outputs(3));
  card.output = OutputKind::softmax;
  EXPECT_FALSE(card.fits_outputs(1));
  EXPECT_TRUE(card.fits_outputs(2));
}

TEST(ModelCard, FoundBesideTheModel) {
  EXPECT_TRUE(card_path_for(test::model_path("tiny-scripted.pt")).has_value());
  EXPECT_FALSE(card_path_for(test::data_path("frozen-scripted.pt")).has_value());
}

}  // namespace
}  // namespace xai
