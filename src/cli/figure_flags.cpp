#include "cli/figure_flags.hpp"

#include "cli/validators.hpp"
#include "output/print_figure.hpp"
#include "xai/error.hpp"

namespace xai::cli {

void FigureFlags::add_to(CLI::App& command) {
  format_option = command
                      .add_option("--figure-format", format,
                                  "Figures as png (a screen figure, every data pixel as it is), or laid out for a "
                                  "journal column (85 mm; 174 mm for wide grids; 7-8 pt text) as svg or pdf (selectable "
                                  "text, a vector colour bar, images at full resolution)")
                      ->check(CLI::IsMember({"png", "svg", "pdf"}))
                      ->capture_default_str();
  dpi_option = command
                   .add_option("--dpi", dpi,
                               "PNG figures laid out for a journal column, as --figure-format svg/pdf, rasterised at this "
                               "resolution (recorded in the file)")
                   ->check(finite_between(72.0, 1200.0, "[72,1200]"));
}

void FigureFlags::apply(ExplainOptions& options, const std::string& without_figures) const {
  for (const CLI::Option* option : {format_option, dpi_option})
    if (option && option->count() > 0 && !without_figures.empty())
      throw usage_error(option->get_name() + ": no figure is written (" + without_figures + ")");
  options.figure_format = parse_figure_format(format);
  options.figure_dpi = dpi;
}

}  // namespace xai::cli
