// Model files that are not TorchScript are named for what they are, each written by the tool that
// writes it (tests/reference/foreign_model_files.py: torch itself, or another framework's published
// layout), never called a "corrupted checkpoint".
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "model/model_file.hpp"
#include "test_helpers.hpp"
#include "xai/error.hpp"
#include "xai/model.hpp"

namespace xai {
namespace {

namespace fs = std::filesystem;

// The error Model::load gives for `name` in `dir`: one line starting with the path.
std::string load_error(const test::TempDir& dir, const std::string& name) {
  const std::string path = dir.file(name);
  try {
    Model::load(path);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::model) << e.what();
    const std::string message = e.what();
    EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    EXPECT_EQ(message.find("corrupted"), std::string::npos) << message;
    return message;
  }
  ADD_FAILURE() << path << " loaded";
  return {};
}

// The error of `name`'s first forward pass (it loads), a model error.
std::string first_pass_error(const test::TempDir& dir, const std::string& name) {
  Model model = Model::load(dir.file(name));
  try {
    model.labels();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::model) << e.what();
    return e.what();
  }
  ADD_FAILURE() << name << " ran";
  return {};
}

void write_files(const test::TempDir& dir, const std::string& flags = "") {
  int status = 0;
  const std::string out = test::run_command(XAI_PYTHON " " XAI_SOURCE_DIR "/tests/reference/foreign_model_files.py " +
                                                dir.path.string() + " " + flags + " 2>&1",
                                            &status);
  ASSERT_EQ(status, 0) << out;
}

class ModelFile : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    files_ = new test::TempDir;
    write_files(*files_);
  }
  static void TearDownTestSuite() {
    delete files_;
    files_ = nullptr;
  }
  static test::TempDir* files_;
};
test::TempDir* ModelFile::files_ = nullptr;

struct Named {
  std::string file, says;
  bool with_export_hint;  // the line also says how to save TorchScript
};

void expect_named(const test::TempDir& dir, const std::vector<Named>& files) {
  for (const Named& named : files) {
    const std::string error = load_error(dir, named.file);
    EXPECT_NE(error.find(named.says), std::string::npos) << named.says << "\n" << error;
    if (named.with_export_hint)
      EXPECT_NE(error.find("torch.jit.script(model.eval()).save(PATH)"), std::string::npos) << error;
  }
}

TEST_F(ModelFile, WhatTorchSavesIsNamed) {
  expect_named(*files_, {
      {"state_dict.pt", "a state_dict (weights only", true},
      {"state_dict.pt", "model.load_state_dict", true},
      {"pickled.pt", "a pickled Python object of class torch.nn.modules.container.Sequential", true},
      {"pickled_protocol4.pt", "a pickled Python object of class torch.nn.modules.container.Sequential", true},
      {"checkpoint.pth", "a dictionary saved by torch.save (a training checkpoint?)", true},
      {"tensor.pt", "a tensor saved by torch.save", true},
      {"legacy.pt", "before PyTorch 1.6", true},
      {"exported.pt2", "a torch.export program", true},
  });
}

TEST_F(ModelFile, OtherFrameworksFilesAreNamed) {
  expect_named(*files_, {
      {"model.onnx", "an ONNX model", true},
      {"onnx_without_extension.bin", "an ONNX model", true},
      {"model.h5", "an HDF5 file (a Keras .h5 model?)", false},
      {"model.keras", "a Keras model (.keras)", false},
      {"model.safetensors", "safetensors weights", true},
      {"saved_model", "a TensorFlow SavedModel", false},
  });
}

TEST_F(ModelFile, ACutShortCopyIsCalledOneAndTheWholeLoads) {
  const std::string cut = load_error(*files_, "cut_short.pt");
  EXPECT_NE(cut.find("cut short or damaged"), std::string::npos) << cut;
  EXPECT_NO_THROW(Model::load(files_->file("scripted.pt")));
}

// Files of unknown kind keep LibTorch's own words; the reason never throws, whatever the bytes.
TEST_F(ModelFile, UnknownBytesKeepTheLoadersMessage) {
  test::TempDir dir;
  const std::string text = dir.file("notes.pt");
  std::ofstream(text) << "hello\n";
  EXPECT_EQ(unloadable_model_reason(text, "LOADER SAID"), "not a TorchScript model (LOADER SAID)");
  // A zip whose directory claims more than the file holds, and one cut inside its directory.
  const std::string scripted = files_->file("scripted.pt");
  std::ifstream in(scripted, std::ios::binary);
  const std::string whole((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (size_t keep : {whole.size() - 1, whole.size() - 30, whole.size() - 200, size_t{30}, size_t{4}}) {
    const std::string cut = dir.file("cut" + std::to_string(keep) + ".pt");
    std::ofstream(cut, std::ios::binary) << whole.substr(0, keep);
    EXPECT_NO_THROW(unloadable_model_reason(cut, "m")) << keep;
    EXPECT_NE(unloadable_model_reason(cut, "m").find("cut short or damaged"), std::string::npos) << keep;
  }
  std::string lying = whole;
  const size_t record = lying.rfind("PK\x05\x06");
  ASSERT_NE(record, std::string::npos);
  lying[record + 16] = '\xff', lying[record + 17] = '\xff', lying[record + 18] = '\xff', lying[record + 19] = '\x7f';
  const std::string lies = dir.file("lies.pt");
  std::ofstream(lies, std::ios::binary) << lying;
  EXPECT_NE(unloadable_model_reason(lies, "m").find("cut short or damaged"), std::string::npos);
  // The same directory through the zip64 record torch also writes (the only one of a model over 4 GiB).
  std::string zip64 = whole;
  for (int i = 16; i < 20; ++i) zip64[record + i] = '\xff';
  const std::string large = dir.file("zip64.pt");
  std::ofstream(large, std::ios::binary) << zip64;
  EXPECT_EQ(unloadable_model_reason(large, "m"), unloadable_model_reason(scripted, "m"));
  EXPECT_EQ(unloadable_model_reason(scripted, "LOADER SAID").rfind("a TorchScript archive that this LibTorch cannot load (LOADER SAID)", 0), 0u);
}

// A trace keeps training's batch statistics and dropout whatever eval() says: refused, where the
// same model scripted (it reads self.training) and batch statistics by design load (the latter refused
// at its first batch: below).
TEST_F(ModelFile, AModelTracedInTrainingModeIsRefused) {
  const std::string traced = load_error(*files_, "traced_in_training_mode.pt");
  for (const std::string says : {"runs in training mode", "its batch norms (1)", "its dropouts (1)", "trace it after model.eval()"})
    EXPECT_NE(traced.find(says), std::string::npos) << says << "\n" << traced;
  for (const std::string name : {"scripted_in_training_mode.pt", "traced_batch_statistics_by_design.pt"}) {
    Model model = Model::load(files_->file(name));
    EXPECT_EQ(model.labels().size(), 2u) << name;
  }
}

// Scores that differ on two runs of one image (eager PyTorch says so in foreign_model_files.py) are
// refused at the first pass, naming what draws; a draw that never reaches the scores is not, and its
// check is not counted as the run's work.
TEST_F(ModelFile, AModelWhoseScoresAreRandomIsRefused) {
  for (const auto& [name, operation] : std::vector<std::pair<std::string, std::string>>{
           {"monte_carlo_dropout.pt", "aten::dropout"}, {"noise_in_forward.pt", "aten::randn_like"}}) {
    const std::string error = first_pass_error(*files_, name);
    for (const std::string says : std::vector<std::string>{"gives different scores on two runs of the same image", "draws random numbers",
                                   operation, "whatever eval() says", "F.dropout(x, p, self.training)"})
      EXPECT_NE(error.find(says), std::string::npos) << says << "\n" << error;
    // Named: what drew, not the nn.Dropout that eval() turned off (both models have one).
    if (operation != "aten::dropout") EXPECT_EQ(error.find("aten::dropout"), std::string::npos) << error;
  }
  Model unused = Model::load(files_->file("draws_unused_random_numbers.pt"));
  EXPECT_EQ(unused.labels().size(), 2u);
  EXPECT_EQ(unused.forward_passes(), 1);
  const std::vector<std::string> warnings = unused.warnings();
  EXPECT_TRUE(std::any_of(warnings.begin(), warnings.end(), [](const std::string& w) {
    return w.find("forward() draws random numbers (aten::rand) that did not change its scores") != std::string::npos;
  })) << ::testing::PrintToString(warnings);
  // Dropout that follows self.training (nn.Dropout, scripted) draws nothing in eval(): no second pass.
  Model eval_dropout = Model::load(files_->file("scripted_in_training_mode.pt"));
  eval_dropout.labels();
  EXPECT_EQ(eval_dropout.forward_passes(), 1);
}

// A model that draws only for some inputs (eager PyTorch: noise where the batch's mean is above 0.9)
// is refused at the first pass that drew, however many passes drew nothing before it.
TEST_F(ModelFile, AModelThatDrawsOnlyForSomeInputsIsRefusedAtThePassThatDrew) {
  Model model = Model::load(files_->file("noise_on_bright_images.pt"));
  EXPECT_EQ(model.labels().size(), 2u);
  const InputBlob dark{3, 224, 224, std::vector<float>(3 * 224 * 224, -0.5f)};
  const InputBlob bright{3, 224, 224, std::vector<float>(3 * 224 * 224, 1.0f)};
  EXPECT_EQ(model.predict({dark}).size(), 1u);
  try {
    model.predict({bright, bright});
    ADD_FAILURE() << "explained a bright image with noise on it";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::model) << e.what();
    for (const std::string says : {"gives different scores on two runs of the same 2 images", "aten::randn_like"})
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << says << "\n" << e.what();
  }
}

// Scores that depend on the images beside one in its batch (eager PyTorch says so in
// foreign_model_files.py) are refused at the first pass of two or more images (xai's probe pair of
// the inference clone is one); one image on the module as loaded runs, and a model in eval mode with
// running statistics batches.
TEST_F(ModelFile, AModelWhoseScoresDependOnItsBatchIsRefusedAtItsFirstBatch) {
  const InputBlob blank{3, 224, 224, std::vector<float>(3 * 224 * 224, 0.25f)};
  for (const std::string name : {"traced_batch_statistics_by_design.pt", "centres_on_its_batch.pt"}) {
    Model model = Model::load(files_->file(name));
    EXPECT_EQ(model.labels().size(), 2u) << name;
    try {
      model.predict({blank, blank});
      ADD_FAILURE() << name << " ran a batch";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::model) << e.what();
      EXPECT_NE(std::string(e.what()).find("an image's scores depend on the other images in its batch"),
                std::string::npos) << e.what();
    }
  }
  Model eval_mode = Model::load(files_->file("scripted_in_training_mode.pt"));
  EXPECT_EQ(eval_mode.predict({blank, blank, blank}).size(), 3u);
}

// A tuple's first element is explained, and the report says so; a dictionary names its keys.
TEST_F(ModelFile, TuplesAreExplainedByTheirFirstElementWithAWarningAndDictionariesRefused) {
  Model tuple = Model::load(files_->file("returns_tuple.pt"));
  EXPECT_EQ(tuple.labels().size(), 2u);
  const std::vector<std::string> warnings = tuple.warnings();
  EXPECT_TRUE(std::any_of(warnings.begin(), warnings.end(), [](const std::string& w) {
    return w.find("returns 2 values; xai explains the first as the class scores") != std::string::npos;
  }));
  Model plain = Model::load(files_->file("scripted.pt"));
  plain.labels();
  for (const std::string& w : plain.warnings()) EXPECT_EQ(w.find("values; xai explains the first"), std::string::npos) << w;
  const std::string dictionary = first_pass_error(*files_, "returns_dict.pt");
  EXPECT_NE(dictionary.find("returns a dictionary (keys: logits)"), std::string::npos) << dictionary;
}

// output_element chooses the class scores among what forward() returns: the same scores as the model
// that returns them alone (the same seeded weights, foreign_model_files.py), by a tuple's index or a
// dictionary's key; an element that is not there, or one given for a model that returns one value, is
// an error naming what there is.
TEST_F(ModelFile, OutputElementChoosesTheClassScores) {
  const InputBlob image{3, 224, 224, [] {
                          std::vector<float> values(3 * 224 * 224);
                          for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>((i * 7919) % 255) / 127.0f - 1;
                          return values;
                        }()};
  Model plain = Model::load(files_->file("scripted_in_training_mode.pt"));
  const std::vector<float> expected = plain.predict({image})[0].logits;
  ASSERT_EQ(expected.size(), 2u);
  const auto scores = [&](const std::string& name, const std::string& element) {
    Model model = Model::load(files_->file(name));
    model.mutable_card().output_element = element;
    const std::vector<float> logits = model.predict({image})[0].logits;
    for (const std::string& warning : model.warnings())  // chosen: no "explains the first" warning
      EXPECT_TRUE(element.empty() || warning.find("explains the first") == std::string::npos) << warning;
    return logits;
  };
  EXPECT_EQ(scores("returns_features_then_logits.pt", "1"), expected);
  EXPECT_EQ(scores("returns_dict.pt", "logits"), expected);
  EXPECT_EQ(scores("returns_tuple.pt", "0"), expected);
  EXPECT_EQ(scores("returns_features_then_logits.pt", "").size(), 8u);  // the first value: 8 features
  const auto error = [&](const std::string& name, const std::string& element) {
    Model model = Model::load(files_->file(name));
    model.mutable_card().output_element = element;
    try {
      model.labels();
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::model) << e.what();
      return std::string(e.what());
    }
    ADD_FAILURE() << name << " with output_element " << element << " ran";
    return std::string();
  };
  EXPECT_NE(error("returns_features_then_logits.pt", "2").find("returns 2 values: output_element 2 is not one of its indices (0..1)"),
            std::string::npos);
  EXPECT_NE(error("returns_features_then_logits.pt", "logits").find("is not one of its indices"), std::string::npos);
  EXPECT_NE(error("returns_dict.pt", "scores").find("output_element scores: the model's dictionary has no such key (keys: logits)"),
            std::string::npos);
  EXPECT_NE(error("returns_dict.pt", "").find("choose its entry with output_element KEY"), std::string::npos);
  EXPECT_NE(error("scripted.pt", "0").find("output_element 0 chooses one of several values forward() returns, but the model returns one (Tensor)"),
            std::string::npos);
}

// A forward pass that fails says what the model shows about why: weights that are not float32, or
// tensors it creates on the GPU a trace ran on.
TEST_F(ModelFile, FailedForwardPassesSayWhatTheModelShows) {
  const std::string half = first_pass_error(*files_, "half_weights.pt");
  EXPECT_NE(half.find("forward pass failed"), std::string::npos) << half;
  EXPECT_NE(half.find("its weights are Half"), std::string::npos) << half;
  EXPECT_NE(half.find("model.float()"), std::string::npos) << half;
  const std::string cuda = first_pass_error(*files_, "creates_on_cuda.pt");
  EXPECT_NE(cuda.find("the model creates tensors on cuda:0"), std::string::npos) << cuda;
  EXPECT_NE(cuda.find("device cuda:0"), std::string::npos) << cuda;
  EXPECT_EQ(half.find("creates tensors"), std::string::npos) << half;
  // Without a card the input's size and channels were assumed: the error says so, and which to give.
  const std::string gray = first_pass_error(*files_, "gray_input.pt");
  EXPECT_NE(gray.find("to have 1 channels"), std::string::npos) << gray;
  EXPECT_NE(gray.find("the input's size 224x224, channels rgb were assumed"), std::string::npos) << gray;
  Model stated = Model::load(files_->file("gray_input.pt"));
  stated.mutable_card().given.insert({"input_size", "channels"});  // as --input-size and --channels do
  try {
    stated.labels();
    ADD_FAILURE() << "a gray model ran on rgb";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).find("were assumed"), std::string::npos) << e.what();
  }
}

// AOTInductor compiles C++ (25 s on 2 cores): `scripts/test.sh --full` and CI only.
TEST(ModelFileCompiled, AnAotInductorPackageIsNamed) {
  test::TempDir dir;
  write_files(dir, "--aoti");
  expect_named(dir, {{"aoti.pt2", "an AOTInductor package", true}});
}

}  // namespace
}  // namespace xai
