// The resize modes against torchvision (tests/reference/torchvision_reference.py): the model input
// xai makes from an image file equals the one torchvision's Resize [+ CenterCrop] + ToTensor +
// Normalize makes from the same file with PIL, and the demo model's probabilities agree within 1e-4.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "npy_reader.hpp"
#include "test_helpers.hpp"
#include "xai/image.hpp"
#include "xai/model.hpp"
#include "input/preprocess.hpp"

namespace xai {
namespace {

struct Case {
  std::string image;
  int height, width;
  std::string resize, interpolation, channels = "rgb";
};

class PreprocessTorchvision : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    int status = 0;
    const std::string output = test::run_command(XAI_PYTHON " " + std::string(XAI_SOURCE_DIR) +
                                                     "/tests/reference/torchvision_reference.py make " +
                                                     dir_->path.string() + " 2>&1",
                                                 &status);
    ASSERT_EQ(status, 0) << output;
  }
  static void TearDownTestSuite() { delete dir_; }

  static ModelCard card_for(const Case& c, const ModelCard& base) {
    ModelCard card = base;
    card.input_height = c.height;
    card.input_width = c.width;
    if (c.channels == "gray") {
      card.set_channels(ChannelMode::gray);
      card.mean = {0.55f};
      card.std = {0.2f};
    }
    parse_resize(c.resize, card);
    card.interpolation = parse_interpolation(c.interpolation);
    card.validate();
    return card;
  }

  // The reference's inputs and probabilities for DIR/cases.json.
  static void run_reference() {
    int status = 0;
    const std::string output = test::run_command(XAI_PYTHON " " + std::string(XAI_SOURCE_DIR) +
                                                     "/tests/reference/torchvision_reference.py expect " +
                                                     dir_->path.string() + " " + XAI_MODELS_DIR + "/demo-histo.pt 2>&1",
                                                 &status);
    ASSERT_EQ(status, 0) << output;
  }

  static test::TempDir* dir_;
};
test::TempDir* PreprocessTorchvision::dir_ = nullptr;

TEST_F(PreprocessTorchvision, InputsAndProbabilitiesEqualTorchvisionsPipeline) {
  Model model = Model::load(std::string(XAI_MODELS_DIR) + "/demo-histo.pt");
  const ModelCard base = model.card();
  std::vector<Case> cases;
  for (const std::string interpolation : {"bilinear", "bicubic"}) {
    for (const std::string image : {"square256.png", "wide300x200.png", "tall333x417.png", "small64x80.png",
                                    "large512.png"}) {
      cases.push_back({image, 96, 96, "shorter-side:110", interpolation});
      cases.push_back({image, 96, 96, "stretch", interpolation});
    }
    cases.push_back({"square256.png", 224, 224, "shorter-side:256", interpolation});  // the ImageNet recipe
    cases.push_back({"tall333x417.png", 96, 128, "shorter-side:131", interpolation});  // a non-square input
    cases.push_back({"wide300x200.png", 96, 96, "shorter-side:110", interpolation, "gray"});
    cases.push_back({"gray300x230.png", 96, 96, "shorter-side:110", interpolation});
    cases.push_back({"gray300x230.png", 96, 96, "stretch", interpolation, "gray"});
  }
  nlohmann::json list = nlohmann::json::array();
  for (size_t i = 0; i < cases.size(); ++i) {
    const ModelCard card = card_for(cases[i], base);
    list.push_back({{"image", dir_->file(cases[i].image)},
                    {"input_size", {cases[i].height, cases[i].width}},
                    {"resize", cases[i].resize},
                    {"interpolation", cases[i].interpolation},
                    {"channels", cases[i].channels},
                    {"mean", card.mean},
                    {"std", card.std},
                    {"out", dir_->file("case" + std::to_string(i) + ".npy")}});
  }
  std::ofstream(dir_->file("cases.json")) << list.dump();
  ASSERT_NO_FATAL_FAILURE(run_reference());
  nlohmann::json probabilities;
  std::ifstream(dir_->file("expected.json")) >> probabilities;
  double worst_input = 0, worst_probability = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    SCOPED_TRACE(c.image + " " + std::to_string(c.height) + "x" + std::to_string(c.width) + " " + c.resize + " " +
                 c.interpolation + " " + c.channels);
    const ModelCard card = card_for(c, base);
    const Image image = load_image(dir_->file(c.image));
    const InputBlob ours = preprocess(image, card);
    const test::NpyArray theirs = test::read_npy(dir_->file("case" + std::to_string(i) + ".npy"));
    ASSERT_EQ(theirs.shape, (std::vector<size_t>{size_t(card.channel_count()), size_t(c.height), size_t(c.width)}));
    double input_error = 0;
    for (size_t k = 0; k < theirs.data.size(); ++k)
      input_error = std::max(input_error, double(std::abs(ours.values[k] - theirs.data[k])));
    // Same 8-bit pixels; only the float normalisation's rounding may differ.
    EXPECT_LT(input_error, 2e-5);
    worst_input = std::max(worst_input, input_error);
    if (c.channels != "rgb") continue;
    model.mutable_card() = card;
    const Prediction prediction = model.predict({ours}).front();
    for (size_t k = 0; k < prediction.probabilities.size(); ++k) {
      const double d = std::abs(prediction.probabilities[k] - probabilities[i][k].get<double>());
      EXPECT_LT(d, 1e-4) << "class " << k;
      worst_probability = std::max(worst_probability, d);
    }
  }
  std::cout << cases.size() << " cases: largest input difference " << worst_input << ", largest probability difference "
            << worst_probability << "\n";
}

TEST_F(PreprocessTorchvision, AreaInterpolationIsNotTorchvisions) {
  // The comparison can fail: xai's default (OpenCV area/bilinear) is close to, but not, PIL's filter.
  Model model = Model::load(std::string(XAI_MODELS_DIR) + "/demo-histo.pt");
  const Case c{"large512.png", 96, 96, "shorter-side:110", "bilinear"};
  nlohmann::json list = nlohmann::json::array();
  const ModelCard pil = card_for(c, model.card());
  list.push_back({{"image", dir_->file(c.image)}, {"input_size", {96, 96}}, {"resize", c.resize},
                  {"interpolation", "bilinear"}, {"channels", "rgb"}, {"mean", pil.mean}, {"std", pil.std},
                  {"out", dir_->file("area.npy")}});
  std::ofstream(dir_->file("cases.json")) << list.dump();
  ASSERT_NO_FATAL_FAILURE(run_reference());
  ModelCard area = pil;
  area.interpolation = Interpolation::area;
  const InputBlob ours = preprocess(load_image(dir_->file(c.image)), area);
  const test::NpyArray theirs = test::read_npy(dir_->file("area.npy"));
  double largest = 0;
  for (size_t k = 0; k < theirs.data.size(); ++k)
    largest = std::max(largest, double(std::abs(ours.values[k] - theirs.data[k])));
  EXPECT_GT(largest, 0.02);  // several 8-bit levels after normalisation
}

}  // namespace
}  // namespace xai
