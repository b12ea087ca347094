// Explain one image with xai's library: the model, Grad-CAM and LIME, the files and the JSON report
// written beside the image (xai-out/), the predicted class and each map's peak printed.
// Build against the installed package (find_package(xai)): see examples/CMakeLists.txt.
//   explain_one MODEL.pt IMAGE [OUT_DIR]
#include <iostream>

#include <xai/xai.hpp>

int main(int argc, char** argv) try {
  if (argc < 3) {
    std::cerr << "usage: explain_one MODEL.pt IMAGE [OUT_DIR]\n";
    return 2;
  }
  xai::Model model = xai::Model::load(argv[1]);
  xai::ExplainOptions options;
  options.methods = {"gradcam", "lime"};
  options.lime.samples = 200;
  if (argc > 3) options.output_dir = argv[3];
  const xai::ExplainPlan plan = xai::plan_explanations(model, options);
  const xai::ExplainOutcome outcome = xai::explain_image(model, plan, argv[2]);
  std::cout << argv[2] << ": " << outcome.label << " (" << outcome.prediction.probabilities[outcome.prediction.predicted]
            << "), report " << outcome.report_path << "\n";
  for (const xai::ExplainedMap& map : outcome.maps)
    std::cout << "  " << map.method << (map.layer.empty() ? "" : " at " + map.layer) << ": peak " << map.stats.peak_value
              << " at (" << map.stats.peak.x << ", " << map.stats.peak.y << "), " << map.files.size() << " files\n";
  return 0;
} catch (const xai::Error& e) {
  std::cerr << "explain_one: " << e.what() << "\n";
  return static_cast<int>(e.code());
}
