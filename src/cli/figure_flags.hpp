// --figure-format and --dpi, for the commands that write figures (explain; batch with --figures; slide's
// top tiles): refused where no figure is written, so that neither is ever silently ignored.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "xai/explain_options.hpp"

namespace xai::cli {

// --panel's help (explain, batch): one figure per image with every method side by side.
inline constexpr const char* kPanelHelp =
    "Also STEM.panel.png: the original, then one column per method (and layer), one row per explained class "
    "(--targets above:P for a multi-label model's findings), each map with its own colour bar and units";

struct FigureFlags {
  std::string format = "png";
  double dpi = 0;
  CLI::Option* format_option = nullptr;
  CLI::Option* dpi_option = nullptr;

  void add_to(CLI::App& command);
  // Into `options`; `without_figures`: why no figure is written (empty when figures are), which refuses both.
  void apply(ExplainOptions& options, const std::string& without_figures) const;
};

}  // namespace xai::cli
