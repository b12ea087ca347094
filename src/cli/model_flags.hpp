// Flags shared by every subcommand that loads a model: --model, --card, --device and the
// card overrides. One definition so that all subcommands accept and apply them alike.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "xai/model.hpp"

namespace xai::cli {

struct ModelFlags {
  std::string model;  // empty: the bundled demo model
  std::string card;
  std::string device = "cpu";
  std::string input_size;  // "HxW" or "N"
  std::string channels;
  std::vector<float> mean, std;
  std::string output_kind;
  std::string labels;  // file with one label per line, or a comma-separated list

  void add_to(CLI::App& command, bool model_is_positional = false);
  // Loads the model and applies overrides; throws xai::Error.
  Model load() const;
};

// The bundled demo model: beside the installed binary (../share/xai/models) or in the source tree.
std::string bundled_model_path();

}  // namespace xai::cli
