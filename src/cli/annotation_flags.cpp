#include "cli/annotation_flags.hpp"

#include <spdlog/spdlog.h>

#include <iomanip>
#include <iostream>
#include <sstream>

#include "cli/validators.hpp"
#include "pipelines/slide_annotations.hpp"
#include "xai/error.hpp"

namespace xai::cli {
namespace {

std::string number_or_na(const nlohmann::ordered_json& value) {
  if (!value.is_number()) return "n/a";
  std::ostringstream out;
  out << std::fixed << std::setprecision(3) << value.get<double>();
  return out.str();
}

}  // namespace

void AnnotationFlags::add_to(CLI::App& command) {
  command.add_option("--annotations", path,
                     "Score the run against a pathologist's annotations: QuPath GeoJSON (.geojson) or ASAP XML (.xml, "
                     "Camelyon16) polygons in level-0 pixels -> annotations.json (tile ROC AUC and sensitivity, and "
                     "each map's pointing game, energy inside, IoU of its top fraction)");
  settings.push_back(command.add_option("--annotation-classes", classes,
                                        "--annotations: the classes that are the truth, comma-separated (default: "
                                        "every class but exclusions: Camelyon16's _2, 'Exclusion')")
                         ->delimiter(','));
  settings.push_back(command.add_option("--annotation-cover", min_cover,
                                        "--annotations: a tile is positive when at least this fraction of it is "
                                        "annotated (default: any annotated pixel)")
                         ->check(finite_between(0.0, 1.0, "(0,1]")));
  settings.push_back(command.add_option("--at-fpr", false_positive_rate,
                                        "--annotations: report tile sensitivity where at most this fraction of "
                                        "negative tiles is above the threshold")
                         ->check(finite_between(0.0, 1.0, "[0,1]"))
                         ->capture_default_str());
  settings.push_back(command.add_option("--top-fraction", top_fraction,
                                        "--annotations: top fraction of each map's tissue pixels for iou_top")
                         ->check(finite_between(0.0, 1.0, "(0,1]"))
                         ->capture_default_str());
  gate.add_to(command, "'tile_auc<0.9' or 'gradcam.pointing<1'", "tile_auc, tile_sensitivity (runs); pointing, "
                                                                   "energy_inside, iou_top (per map: P(CLASS) or a method)");
}

std::vector<GateCondition> AnnotationFlags::parse() const {
  if (!given()) {
    for (const CLI::Option* option : settings)
      if (option->count() > 0) throw usage_error(option->get_name() + ": applies with --annotations FILE");
    if (!gate.fail_if.empty() || !gate.junit_path.empty())
      throw usage_error("--fail-if/--junit: the gate checks --annotations' scores: give --annotations FILE");
    return {};
  }
  if (min_cover == 0) throw usage_error("--annotation-cover 0: give a fraction above 0, or leave it out for any part");
  if (top_fraction <= 0) throw usage_error("--top-fraction 0: give a fraction above 0");
  // The file and its classes are checked before any tile is read, not after hours of them.
  truth_classes(read_slide_annotations(path), classes);
  return gate.parse(kSlideAnnotationMetrics);
}

int AnnotationFlags::score(const std::string& run_dir, const std::vector<GateCondition>& conditions) const {
  SlideAnnotationSettings settings;
  settings.path = path;
  settings.classes = classes;
  if (min_cover > 0) settings.min_cover = min_cover;
  settings.false_positive_rate = false_positive_rate;
  settings.top_fraction = top_fraction;
  const SlideAnnotationScore score = score_slide_run(run_dir, settings);
  const auto& tiles = score.report["tiles"];
  std::cerr << "xai: annotations: " << tiles["positive"] << " of " << tiles["scored"] << " tiles positive ("
            << tiles["positive_rule"].get<std::string>() << "); tile ROC AUC " << number_or_na(tiles["roc_auc"])
            << ", sensitivity " << number_or_na(tiles["sensitivity"]["value"]) << " at false-positive rate <= "
            << false_positive_rate << "\n";
  for (const auto& [map, a] : score.report["localisation"]["maps"].items())
    std::cerr << "xai: annotations: " << map << ": pointing " << number_or_na(a["pointing"]) << ", energy inside "
              << number_or_na(a["energy_inside"]) << ", IoU of the top " << top_fraction << " "
              << number_or_na(a["iou_top"]) << "\n";
  std::cerr << "xai: annotations -> " << run_dir << "/annotations.json\n";
  return gate.finish(conditions, score.rows, "xai slide annotations");
}

}  // namespace xai::cli
