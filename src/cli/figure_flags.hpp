// --figure-format and --dpi, for the commands that write figures (explain; batch with --figures; slide's
// top tiles): refused where no figure is written, so that neither is ever silently ignored.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "xai/explain_options.hpp"

namespace xai::cli {

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
