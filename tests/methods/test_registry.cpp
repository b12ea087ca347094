// The method registry: every method is there once, with a family and the settings it reads; dense
// maps of region results are exact per region; output names are recognised.
#include <gtest/gtest.h>

#include <cctype>
#include <set>

#include "test_helpers.hpp"
#include "xai/error.hpp"
#include "xai/explain.hpp"
#include "xai/methods.hpp"

namespace xai {
namespace {

TEST(Registry, EveryMethodOnceWithItsFamily) {
  // Names are derived, never listed here: adding a method touches its file and its registration line.
  const std::vector<std::string> names = method_names();
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), names.size()) << "a name registered twice";
  EXPECT_EQ(names.front(), "gradcam") << "the default method comes first in --help";
  for (const auto& name : names) {
    EXPECT_FALSE(name.empty());
    // Names are parts of file names (STEM.METHOD.png) and of the --method list.
    for (char c : name) EXPECT_TRUE(std::islower(static_cast<unsigned char>(c)) || c == '+') << name;
  }
  EXPECT_EQ(find_method("gradcam").family(), MethodFamily::gradient_cam);
  EXPECT_EQ(find_method("scorecam").family(), MethodFamily::probe_cam);
  EXPECT_EQ(find_method("lime").family(), MethodFamily::perturbation);
  for (const char* name : {"kernelshap", "partitionshap", "occlusion", "rise"})
    EXPECT_EQ(find_method(name).family(), MethodFamily::perturbation) << name;
  EXPECT_EQ(find_method("intgrad").family(), MethodFamily::gradient);
  EXPECT_EQ(find_method("smoothgrad").family(), MethodFamily::gradient);
  EXPECT_EQ(find_method("edges").family(), MethodFamily::control);
  // Every method reads the target; no perturbation or gradient method reads layers.
  for (const auto& method : explanation_methods()) {
    EXPECT_TRUE(method->reads(Setting::target)) << method->name();
    if (method->family() == MethodFamily::perturbation || method->family() == MethodFamily::gradient)
      EXPECT_FALSE(method->reads(Setting::layers)) << method->name();
  }
  EXPECT_TRUE(find_method("rise").reads(Setting::colormap)) << "an unsigned heat map";
  EXPECT_FALSE(find_method("kernelshap").reads(Setting::colormap)) << "signed maps take a signed colour map";
  EXPECT_TRUE(find_method("ablationcam").reads(Setting::probe_batch));
  EXPECT_FALSE(find_method("gradcam").reads(Setting::probe_batch));
  EXPECT_FALSE(find_method("lime").reads(Setting::layers));
  EXPECT_FALSE(find_method("lime").reads(Setting::colormap));
  EXPECT_TRUE(find_method("lime").reads(Setting::samples));
  try {
    find_method("shap");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::usage);
    EXPECT_NE(std::string(e.what()).find("lime"), std::string::npos);
  }
}

TEST(Registry, RegionMapsAreExactPerRegion) {
  MethodResult result;
  DenseMap region;
  region.is_signed = true;
  region.segments = (cv::Mat_<int>(2, 2) << 0, 1, 1, 0);
  region.region_weights = {-0.5, 2.0};
  result.maps.push_back(region);
  const std::vector<DenseMap> dense = dense_maps(result, cv::Size(4, 4));
  ASSERT_EQ(dense.size(), 1u);
  EXPECT_FLOAT_EQ(dense[0].values.at<float>(0, 0), -0.5f);
  EXPECT_FLOAT_EQ(dense[0].values.at<float>(0, 3), 2.0f);
  EXPECT_FLOAT_EQ(dense[0].values.at<float>(3, 0), 2.0f);
  EXPECT_EQ(dense[0].segments.size(), cv::Size(4, 4));
}

TEST(Registry, CamMapsAreResizedWithoutRenormalising) {
  MethodResult result;
  DenseMap cam;
  cam.values = (cv::Mat_<float>(2, 2) << 0.0f, 1.0f, 0.5f, 0.25f);
  result.maps.push_back(cam);
  const cv::Mat up = dense_maps(result, cv::Size(4, 4))[0].values;
  // Half-pixel centres: output pixel 1 samples source position 0.25, so (1,1) mixes all four cells.
  EXPECT_NEAR(up.at<float>(1, 1), 0.5625f * 0.0f + 0.1875f * 1.0f + 0.1875f * 0.5f + 0.0625f * 0.25f, 1e-6);
  double lo, hi;
  cv::minMaxLoc(up, &lo, &hi);
  EXPECT_FLOAT_EQ(static_cast<float>(lo), 0.0f);
  EXPECT_FLOAT_EQ(static_cast<float>(hi), 1.0f);
}

TEST(Registry, OneParametersRecordPerMethod) {
  Model model = Model::load(test::model_path("tiny-scripted.pt"));
  ExplainOptions options;
  options.methods = {"gradcam", "scorecam", "lime"};
  options.cam.layers = {"layer1"};
  const ExplainPlan plan = plan_explanations(model, options);
  ASSERT_EQ(plan.parameters.size(), 3u);
  EXPECT_EQ(plan.layers, (std::vector<std::string>{"layer1"}));
  EXPECT_EQ(plan.parameters[0].at("layers"), nlohmann::ordered_json::array({"layer1"}));
  EXPECT_FALSE(plan.parameters[0].contains("probe_batch"));
  EXPECT_EQ(plan.parameters[1].at("probe_batch"), "measured") << "Score-CAM's probes are sized by the model's tuner";
  EXPECT_EQ(plan.parameters[2].at("ridge_alpha"), 1.0);
  EXPECT_FALSE(plan.parameters[2].contains("layers"));
  options.methods = {"gradcam", "gradcam"};
  EXPECT_THROW(plan_explanations(model, options), Error);
}

TEST(Registry, OnlyTheRequestedMethodsAreComputed) {
  Model model = Model::load(test::model_path("tiny-scripted.pt"));
  ExplainOptions options;
  options.methods = {"gradcam", "lime"};
  options.lime.samples = 20;
  options.lime.batch_size = 64;  // one pass (not the tuner's measuring passes)
  const ExplainPlan plan = plan_explanations(model, options);
  test::TempDir dir;
  PreparedImage a, b;
  for (PreparedImage* p : {&a, &b}) {
    p->image.pixels = cv::Mat(40, 50, CV_32FC3);
    cv::randu(p->image.pixels, 0.0, 1.0);
    p->view = model_view(p->image, plan.card);
    p->blob = normalise(p->view, plan.card);
  }
  const long long before = model.forward_passes();
  const auto computed = compute_explanations(model, plan, {&a, &b}, {{1}, {0}});
  ASSERT_EQ(computed.size(), 2u);
  ASSERT_EQ(computed[0].results.size(), 1u);
  EXPECT_EQ(computed[0].results[0].method, "lime");
  ASSERT_EQ(computed[1].results.size(), 1u);
  EXPECT_EQ(computed[1].results[0].method, "gradcam");
  // One CAM forward for image b; LIME on a: 20 samples in one probe batch (sample 0, the unperturbed
  // image, gives the prediction).
  EXPECT_EQ(model.forward_passes() - before, 1 + 1);
}

// Issue 29, item 3: `xai slide` drew RISE as signed (it guessed from the family). Every consumer now
// reads the method's declared map kind; here every method's real maps must carry that same kind.
TEST(Registry, EveryMethodsMapsHaveItsDeclaredKind) {
  Model model = Model::load(test::model_path("tiny-scripted.pt"));
  ExplainOptions options;
  options.cam.layers = {"layer1"};
  options.lime.samples = 20;
  options.lime.batch_size = 64;
  options.lime.superpixels.segments = 8;
  options.rise.masks = 8;
  options.rise.grid = 4;
  options.occlusion.window = 16;
  options.occlusion.stride = 16;
  options.gradients.steps = 4;
  options.gradients.samples = 2;
  options.shap.samples = 40;
  options.shap.max_evals = 40;
  PreparedImage image;
  image.image.pixels = cv::Mat(40, 40, CV_32FC3);
  cv::randu(image.image.pixels, 0.0, 1.0);
  image.view = model_view(image.image, model.card());
  image.blob = normalise(image.view, model.card());
  for (const auto& method : explanation_methods()) {
    const MapKind kind = method->map_kind();
    const std::vector<std::string> layers = method->reads(Setting::layers) ? options.cam.layers : std::vector<std::string>{};
    const std::vector<MethodResult> results = method->compute(model, {&image}, options, layers);
    ASSERT_EQ(results.size(), 1u) << method->name();
    ASSERT_FALSE(results[0].maps.empty()) << method->name();
    for (const DenseMap& map : results[0].maps) {
      EXPECT_EQ(map.layer.empty(), !method->needs().layer) << method->name() << ": maps per layer iff it declares so";
      EXPECT_EQ(map.is_signed, kind.is_signed) << method->name();
      EXPECT_EQ(map.display_min_max, kind.display_min_max) << method->name();
    }
  }
  EXPECT_FALSE(find_method("rise").map_kind().is_signed);
  EXPECT_TRUE(find_method("rise").map_kind().display_min_max);
  EXPECT_TRUE(find_method("lime").map_kind().is_signed);
}

}  // namespace
}  // namespace xai
