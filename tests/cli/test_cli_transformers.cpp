// Vision transformers end to end: small configurations of torchvision's ViT and Swin (exported by the
// test with Debian's torch) listed with their token shapes, explained at the automatic layer by CAM,
// LIME and occlusion, a patch embedding warned about, a wrong token grid named. The maps themselves
// are compared with an eager reference in tests/parity (parity_transformers).
#include "cli_fixture.hpp"

namespace {

using namespace xai::e2e;
namespace fs = std::filesystem;

class CliTransformers : public CliTest {
 protected:
  static void SetUpTestSuite() {
    models_ = fs::temp_directory_path() / ("xai-transformers-" + std::to_string(::getpid()));
    int status = 0;
    const std::string output = xai::test::run_command(
        XAI_PYTHON " " + std::string(XAI_SOURCE_DIR) + "/scripts/export_models.py --out " + models_.string() +
            " --arch vit_mini,swin_mini --mode scripted 2>&1",
        &status);
    ASSERT_EQ(status, 0) << output;
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(models_, ec);
  }
  static std::string vit() { return (models_ / "vit_mini-scripted.pt").string(); }
  static std::string swin() { return (models_ / "swin_mini-scripted.pt").string(); }
  static fs::path models_;
};
fs::path CliTransformers::models_;

TEST_F(CliTransformers, LayersShowTokensAndTheAutomaticLayer) {
  const RunResult table = xai({"layers", vit()});
  ASSERT_EQ(table.code, 0) << table;
  std::istringstream lines(table.out);
  bool default_seen = false, embedding_seen = false;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("encoder.layers.encoder_layer_2.ln_1 ", 0) == 0) {
      EXPECT_NE(line.find("1x65x64"), std::string::npos) << line;
      EXPECT_NE(line.find("64x8x8 tokens-1"), std::string::npos) << line;
      default_seen = line.find("<- default") != std::string::npos;
    }
    if (line.rfind("conv_proj ", 0) == 0) embedding_seen = line.find("(patch embedding)") != std::string::npos;
  }
  EXPECT_TRUE(default_seen) << table.out;
  EXPECT_TRUE(embedding_seen) << table.out;

  const RunResult listed = xai({"layers", swin(), "--json"});
  ASSERT_EQ(listed.code, 0) << listed;
  const json j = json::parse(listed.out);
  EXPECT_EQ(j.at("default_layer"), "features.7");
  for (const auto& layer : j.at("layers")) {
    if (layer.at("path") == "features.7") {
      EXPECT_EQ(layer.at("layout"), "channels_last");
      EXPECT_EQ(layer.at("feature_map"), json({128, 3, 3}));
    }
    if (layer.at("path") == "features.0.0") EXPECT_TRUE(layer.at("patch_embedding").get<bool>());
  }
}

TEST_F(CliTransformers, EveryFamilyExplainsAVitAndASwin) {
  const fs::path image = write_image("patch.png", test_image(120, 90));
  for (const std::string& model_file : {vit(), swin()}) {
    SCOPED_TRACE(model_file);
    fs::remove_all(out_dir());
    const RunResult r = xai({"explain", "-m", model_file, image.string(), "-o", out_dir().string(), "--method",
                             "gradcam,scorecam,lime,occlusion", "--samples", "40", "--window", "32"});
    ASSERT_EQ(r.code, 0) << r;
    const json report = read_json(out_dir() / "patch.json");
    const bool is_vit = model_file == vit();
    for (const auto& entry : report.at("explanations")) {
      const std::string method = entry.at("method");
      if (method != "gradcam" && method != "scorecam") continue;
      EXPECT_EQ(entry.at("layer"), is_vit ? "encoder.layers.encoder_layer_2.ln_1" : "features.7") << method;
      EXPECT_EQ(entry.at("reshape").get<std::string>().rfind(is_vit ? "tokens [65, 64] -> [64, 8, 8]" : "channels last", 0), 0u)
          << entry.dump();
    }
    EXPECT_EQ(report.at("explanations").size(), 4u);
  }
}

TEST_F(CliTransformers, PatchEmbeddingIsWarnedAndAWrongGridIsNamed) {
  const fs::path image = write_image("patch.png", test_image(64, 64));
  const RunResult embedding = xai({"explain", "-m", vit(), image.string(), "-o", out_dir().string(), "-l", "conv_proj"});
  ASSERT_EQ(embedding.code, 0) << embedding;
  EXPECT_NE(embedding.err.find("'conv_proj' is the transformer's patch embedding"), std::string::npos) << embedding;
  EXPECT_NE(embedding.err.find("encoder.layers.encoder_layer_2.ln_1"), std::string::npos) << embedding;

  fs::remove_all(out_dir());

  // A card whose token grid does not match the model's 65 tokens.
  json card = read_json(fs::path(vit()).replace_extension(".json"));
  card["tokens"] = {{"grid", {5, 5}}, {"prefix", 1}};
  write_bytes(in("card.json"), card.dump());
  expect_error(xai({"explain", "-m", vit(), "--card", in("card.json").string(), image.string(), "-o", out_dir().string(),
                    "-l", "encoder.layers.encoder_layer_1"}),
               5, {"encoder.layers.encoder_layer_1", "65 tokens", "\"tokens\""});
  // Without a layer: no default is guessed (and never the patch embedding).
  expect_error(xai({"explain", "-m", vit(), "--card", in("card.json").string(), image.string(), "-o", out_dir().string()}),
               5, {"no layer to explain by default", "\"tokens\""});
}

}  // namespace
