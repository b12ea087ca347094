// The bundled demo, as a user runs it: `xai explain --method gradcam patch.png` with no --model
// uses models/demo-histo.pt; malignant examples must be called malignant with the Grad-CAM peak
// inside the lesion mask, benign ones benign.
#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "test_helpers.hpp"

namespace {

std::string run(const std::string& command) {
  int status = -1;
  const std::string output = xai::test::run_command(command, &status);
  EXPECT_EQ(status, 0) << command;
  return output;
}

class DemoExample : public ::testing::TestWithParam<std::string> {};

TEST_P(DemoExample, PredictsTheClassAndPointsAtTheLesion) {
  const std::string name = GetParam();
  const std::string examples = xai::test::example_patches() + "/";
  xai::test::TempDir out;
  const auto report = nlohmann::json::parse(run(std::string(XAI_BINARY) + " explain --method gradcam " + examples +
                                                name + ".png -o " + out.path.string() + " --json - 2>/dev/null"));
  EXPECT_NE(report["model"]["path"].get<std::string>().find("demo-histo.pt"), std::string::npos)
      << "the bundled model is used when --model is omitted";
  const bool malignant = name.rfind("malignant", 0) == 0;
  EXPECT_EQ(report["prediction"]["label"], malignant ? "malignant" : "benign");
  if (malignant) {
    const cv::Mat mask = cv::imread(examples + name + ".mask.png", cv::IMREAD_GRAYSCALE);
    ASSERT_FALSE(mask.empty());
    const auto& peak = report["explanations"][0]["stats"]["peak"];
    EXPECT_GT(mask.at<uchar>(peak["y"].get<int>(), peak["x"].get<int>()), 0) << "Grad-CAM peak outside the lesion";
  }
}

INSTANTIATE_TEST_SUITE_P(Examples, DemoExample,
                         ::testing::Values("malignant-1", "malignant-2", "malignant-3", "benign-1", "benign-2",
                                           "benign-3"),
                         [](const auto& info) {
                           std::string n = info.param;
                           n.erase(std::remove(n.begin(), n.end(), '-'), n.end());
                           return n;
                         });

}  // namespace
