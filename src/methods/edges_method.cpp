// The registry entry of `edges`: a control, not an explanation. The image's edge magnitude (Sobel)
// at the model's view, whatever the model: a sanity check must flag it (Adebayo et al. 2018 show
// that some saliency methods are hard to tell from an edge detector by eye).
#include <opencv2/imgproc.hpp>

#include "methods/method_adapters.hpp"

namespace xai {
namespace {

using json = nlohmann::ordered_json;

// |∇I| of the view's luminance with 3×3 Sobel kernels, scaled to [0, 1] by its maximum.
cv::Mat edge_magnitude(const cv::Mat& view) {
  cv::Mat gray;
  if (view.channels() == 1)
    gray = view;
  else
    cv::cvtColor(view, gray, cv::COLOR_RGB2GRAY);
  cv::Mat gx, gy, magnitude;
  cv::Sobel(gray, gx, CV_32F, 1, 0, 3, 1, 0, cv::BORDER_REFLECT_101);
  cv::Sobel(gray, gy, CV_32F, 0, 1, 3, 1, 0, cv::BORDER_REFLECT_101);
  cv::magnitude(gx, gy, magnitude);
  double hi = 0;
  cv::minMaxLoc(magnitude, nullptr, &hi);
  if (hi > 0) magnitude /= hi;
  return magnitude;
}

class EdgesMethod final : public ExplanationMethod {
 public:
  std::string name() const override { return "edges"; }
  MethodFamily family() const override { return MethodFamily::control; }
  MapKind map_kind() const override { return {/*is_signed=*/false, /*display_min_max=*/false}; }
  MethodNeeds needs() const override { return {/*layer=*/false, /*extra_passes=*/true}; }
  std::vector<SettingUse> settings() const override { return {Setting::target, Setting::colormap}; }

  json parameters(const ExplainOptions& options, const std::vector<std::string>&, const ModelCard&) const override {
    return {{"filter", "sobel 3x3 magnitude of the luminance"}, {"target", target_description(options, false)}};
  }

  std::vector<MethodResult> compute(Model& model, const std::vector<const PreparedImage*>& images,
                                    const ExplainOptions& options, const std::vector<std::string>&) const override {
    return each_image(name(), images, [&](const PreparedImage& image, MethodResult& r) {
      const ImageTargets targets = image_targets(model, image, options, false);
      r.prediction = targets.prediction;
      r.summary["control"] = "model-independent edge magnitude: not an explanation of the model";
      const cv::Mat edges = edge_magnitude(image.view);
      for (int cls : targets.classes) {
        DenseMap m;
        m.class_index = cls;
        m.values = edges.clone();
        r.maps.push_back(std::move(m));
      }
    });
  }
};

}  // namespace

std::unique_ptr<ExplanationMethod> edges_method() { return std::make_unique<EdgesMethod>(); }

}  // namespace xai
