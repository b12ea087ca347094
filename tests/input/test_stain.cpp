// Macenko stain estimation and normalisation against tests/reference/macenko_reference.py (numpy,
// written from the paper) on real histology (examples/ihc-crop.png, from scikit-image's IHC image) with
// a synthetic H&E patch as the reference; and a closed-form case: an image composed from two known
// stains gives those stains back.
#include <gtest/gtest.h>

#include <cmath>
#include <opencv2/imgcodecs.hpp>
#include <nlohmann/json.hpp>

#include "input/stain.hpp"
#include "npy_reader.hpp"
#include "test_helpers.hpp"
#include "xai/error.hpp"
#include "xai/image.hpp"

namespace xai {
namespace {

using json = nlohmann::json;

void expect_stains_near(const StainVectors& got, const json& want, double tolerance) {
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(got.hematoxylin[c], want["hematoxylin"][c].get<double>(), tolerance) << "H " << c;
    EXPECT_NEAR(got.eosin[c], want["eosin"][c].get<double>(), tolerance) << "E " << c;
  }
  for (int k = 0; k < 2; ++k)
    EXPECT_NEAR(got.max_concentrations[k], want["max_concentrations"][k].get<double>(), tolerance * 10) << "max " << k;
}

TEST(Stain, EstimateAndNormalisationEqualTheNumpyReference) {
  const std::string image_path = std::string(XAI_SOURCE_DIR) + "/examples/ihc-crop.png";
  const std::string reference_path = std::string(XAI_SOURCE_DIR) + "/examples/patches/benign-2.png";
  test::TempDir dir;
  int status = 0;
  const std::string out = test::run_command(std::string(XAI_PYTHON) + " " + XAI_SOURCE_DIR +
                                                "/tests/reference/macenko_reference.py " + image_path + " " +
                                                reference_path + " " + dir.file("normalised.npy"),
                                            &status);
  ASSERT_EQ(status, 0) << out;
  const json numpy = json::parse(out);

  const Image image = load_image(image_path);
  const StainVectors source = estimate_stains(image.pixels, image_path);
  const StainNormalization reference = macenko_reference(reference_path);
  expect_stains_near(source, numpy["source"], 1e-6);
  expect_stains_near(reference.target, numpy["target"], 1e-6);

  const cv::Mat normalised = normalise_stains(image.pixels, source, reference.target);
  const auto expected = test::read_npy(dir.file("normalised.npy"));
  ASSERT_EQ(expected.shape, (std::vector<size_t>{static_cast<size_t>(image.height()), static_cast<size_t>(image.width()), 3}));
  double worst = 0;
  for (int y = 0; y < normalised.rows; ++y)
    for (int x = 0; x < normalised.cols; ++x)
      for (int c = 0; c < 3; ++c)  // the reference is RGB, xai's pixels BGR
        worst = std::max(worst, std::abs(static_cast<double>(normalised.at<cv::Vec3f>(y, x)[2 - c]) -
                                         expected.data[(static_cast<size_t>(y) * normalised.cols + x) * 3 + c]));
  EXPECT_LT(worst, 1e-5) << "largest difference from numpy, [0,1] scale";
  std::cout << "stain: normalised image within " << worst << " of numpy\n";
}

TEST(Stain, AnImageComposedOfTwoKnownStainsGivesThemBack) {
  // Ruifrok & Johnston's H and E optical densities, normalised; concentrations on a grid of mixtures.
  const cv::Vec3d h = cv::normalize(cv::Vec3d(0.65, 0.70, 0.29)), e = cv::normalize(cv::Vec3d(0.07, 0.99, 0.11));
  cv::Mat bgr(64, 64, CV_32FC3);
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x) {
      const cv::Vec3d od = h * (0.2 + 1.2 * y / 63.0) + e * (0.2 + 1.0 * x / 63.0);
      for (int c = 0; c < 3; ++c) bgr.at<cv::Vec3f>(y, x)[2 - c] = static_cast<float>((240 * std::exp(-od[c]) - 1) / 255);
    }
  const StainVectors found = estimate_stains(bgr, "composed");
  // The extreme angles are the 1st and 99th percentiles, a little inside the pure stains.
  EXPECT_GT(cv::Vec3d(found.hematoxylin.data()).dot(h), 0.99);
  EXPECT_GT(cv::Vec3d(found.eosin.data()).dot(e), 0.99);
  // Normalising onto itself gives the image back but for Macenko's "+1" (the optical density is taken
  // of I + 1, recomposed as Io exp(-OD), as in every implementation): 1/255 brighter, here exactly.
  const cv::Mat same = normalise_stains(bgr, found, found);
  EXPECT_NEAR(cv::norm(same, bgr + cv::Scalar::all(1.0 / 255), cv::NORM_INF), 0.0, 1e-5);
}

TEST(Stain, BlankImagesAndGrayReferencesAreRefusedNamingTheFile) {
  const cv::Mat glass(32, 32, CV_32FC3, cv::Scalar(0.95, 0.95, 0.95));
  try {
    estimate_stains(glass, "glass.png");
    ADD_FAILURE() << "stains estimated from glass";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::input);
    EXPECT_NE(std::string(e.what()).find("glass.png: too little stained tissue"), std::string::npos) << e.what();
  }
  test::TempDir dir;
  cv::imwrite(dir.file("gray.png"), cv::Mat(16, 16, CV_8UC1, cv::Scalar(100)));
  EXPECT_THROW(macenko_reference(dir.file("gray.png")), Error);
}

}  // namespace
}  // namespace xai
