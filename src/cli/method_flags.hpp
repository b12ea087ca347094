// The shared option group that says how to explain: methods, every method setting (layers and target
// among them: one flag per declaration of xai/method_settings.hpp), rendering and input limits. Every subcommand that explains registers it (so a flag means the same
// everywhere); what a subcommand can never apply is refused by flag_policy.cpp's table, and a method
// setting that none of the chosen methods reads is refused by to_options().
#pragma once

#include <CLI/CLI.hpp>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "xai/explain_options.hpp"
#include "xai/method_settings.hpp"
#include "xai/methods.hpp"
#include "xai/model.hpp"
#include "output/render.hpp"

namespace xai::cli {

// The library's default of a setting, read from one object made once: reading a field of a temporary
// (ExplainOptions{}.x) made GCC 12 warn, falsely, that the temporary's strings were used uninitialised
// in their destructors (~170 warnings per build, which would hide a real one).
template <typename Options>
const Options& defaults_of() {
  static const Options defaults;
  return defaults;
}

struct MethodFlags {
  // A method setting (xai/method_settings.hpp) as given on this command line: its flag, made from the
  // library's declaration, and the text of what was given.
  struct GivenSetting {
    const SettingDeclaration* declaration = nullptr;
    CLI::Option* option = nullptr;
    std::string value;                // a single value
    std::vector<std::string> values;  // a repeatable setting's or a list's
    bool switched = false;            // a switch
    bool given() const { return option->count() > 0; }
  };

  std::string methods = "gradcam";
  bool matches_stages = false;  // compare: --layers stages (the library matches each model's stages)
  std::deque<GivenSetting> settings;  // one per declaration (a deque: CLI11 keeps pointers into them)
  std::string colormap;  // --colormap NAME[,NAME]: empty, the defaults of both kinds
  std::string background = "image";
  int figure_size = defaults_of<ExplainOptions>().figure_size;
  long long max_pixels = defaults_of<ImageLimits>().max_pixels;
  long long max_image_memory_mib = static_cast<long long>(defaults_of<ImageLimits>().max_decoded_bytes >> 20);
  bool apply_exif_orientation = false;
  std::string window;  // DICOM (--dicom-window); empty: the card's, else the file's
  int frame = 0;       // DICOM (--frame), 1-based; 0: the middle frame
  std::string frames;  // DICOM (--frames all): every frame of multi-frame files
  int map_size = defaults_of<ExplainOptions>().map_size;
  bool faithfulness = false;
  int faithfulness_steps = defaults_of<FaithfulnessOptions>().steps;
  std::string faithfulness_fill = "mean";
  std::vector<CLI::Option*> all;  // every option of the group
  std::vector<CLI::Option*> drawing;  // how maps are drawn: --colormap, --alpha, --background, --figure-size
  std::vector<CLI::Option*> faithfulness_settings;  // --faithfulness-steps, --faithfulness-fill

  void add_to(CLI::App& command);
  // Validates the flags against the chosen methods and resolves label names against the model.
  // Throws usage_error.
  ExplainOptions to_options(Model& model) const;
  // The chosen method names (checked against the registry).
  std::vector<std::string> method_list() const;
  // Whether the setting with this key (xai/method_settings.hpp) was given, and its value ("" if not).
  bool given(const std::string& key) const;
  std::string value_of(const std::string& key) const;
};

// At -v: what a run will do (methods, layers, every method's parameters), once.
void log_plan(const ExplainOptions& options, Model& model);

}  // namespace xai::cli
