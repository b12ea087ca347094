// Flags shared by every subcommand that loads a model: --model, --card, --device and the
// card overrides. One definition so that all subcommands accept and apply them alike.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "xai/model.hpp"

namespace xai::cli {

struct ModelFlags {
  enum class Mode { optional_one, positional_one, several };
  std::string model;  // empty: the bundled demo model
  std::vector<std::string> models;  // Mode::several
  std::vector<CLI::Option*> all;    // every option of the group
  std::string card;
  std::string device = "cpu";
  bool no_inference_clone = false;
  bool staged_capture = false;
  std::string precision = "fp32";
  std::string input_size;  // "HxW" or "N"
  std::string channels;
  std::vector<float> mean, std;
  std::string output_kind;
  std::string output_element;
  std::string resize;         // "stretch", "shorter-side[:N]"
  std::string interpolation;  // area, bilinear, bicubic
  std::string labels;  // file with one label per line, or a comma-separated list
  std::string stain_normalize;  // "macenko"
  std::string stain_reference;  // the image whose stains the inputs are mapped onto
  // Run the model once at load (outputs against the labels, outputs that are already probabilities),
  // so those errors and warnings come first; `layers` (Mode::positional_one) lists a model's layers
  // even when its card does not fit.
  bool check_outputs_at_load = true;
  // xai card: the card is what the command writes, so "no model card" is not a warning there.
  bool writes_card = false;

  void add_to(CLI::App& command, Mode mode = Mode::optional_one);
  // Loads the model and applies overrides (warnings are printed once, here); throws xai::Error.
  Model load() const;
  // Mode::several: every model, each with the same overrides.
  std::vector<Model> load_all() const;

 private:
  Model load_one(const std::string& path) const;
};

// The bundled demo model: beside the installed binary (../share/xai/models) or in the source tree.
std::string bundled_model_path();

}  // namespace xai::cli
