// --annotations and what goes with it, for the commands that finish a slide run (slide, merge): the run
// is scored against a pathologist's annotations (pipelines/slide_annotations.hpp), with the same
// --fail-if / --junit gate as eval. Every option here without --annotations is refused.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "analysis/gate.hpp"
#include "cli/gate_flags.hpp"

namespace xai::cli {

struct AnnotationFlags {
  std::string path;
  std::vector<std::string> classes;
  double min_cover = -1;
  double false_positive_rate = 0.05;
  double top_fraction = 0.2;
  GateFlags gate;
  std::vector<CLI::Option*> settings;  // everything but --annotations itself

  void add_to(CLI::App& command);
  bool given() const { return !path.empty(); }
  // Throws usage_error for a setting given without --annotations, or a bad --fail-if.
  std::vector<GateCondition> parse() const;
  // Scores the run in `run_dir`, prints one line per map, returns the gate's exit code.
  int score(const std::string& run_dir, const std::vector<GateCondition>& conditions) const;
};

}  // namespace xai::cli
