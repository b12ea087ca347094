// xai card: writes a model card after a dry run, so a newly exported model is explained right the
// first time (labels checked against the outputs, the default layer chosen and shown).
#include <filesystem>
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/model_flags.hpp"
#include "xai/atomic_file.hpp"
#include "xai/error.hpp"

namespace xai::cli {
namespace {

namespace fs = std::filesystem;

struct CardFlags {
  ModelFlags model;
  std::string output;  // empty: NAME.json beside NAME.pt
  std::string name;
  std::string layer;
  bool force = false;
};

int run_card(const CardFlags& flags) {
  const std::string destination =
      flags.output.empty() ? fs::path(flags.model.model).replace_extension(".json").string() : flags.output;
  std::error_code ec;
  if (fs::exists(destination, ec) && !flags.force)
    throw usage_error(destination + ": exists; give --force to replace it, or -o for another file");
  Model model = flags.model.load();
  ModelCard card = model.card();
  // The dry run: one forward pass at the card's input size gives the output count.
  const std::vector<std::string> labels = model.labels();
  if (card.labels.empty())
    throw usage_error("--labels: the model has " + std::to_string(labels.size()) +
                      " outputs; give their class names in output order, e.g. --labels " +
                      (labels.size() == 2 ? std::string("benign,malignant") : "a,b,c"));
  if (!flags.layer.empty()) {
    bool found = false, spatial = false;
    for (const auto& info : model.layers())
      if (info.path == flags.layer) found = true, spatial = info.spatial();
    if (!found) throw layer_error(model.path() + ": no layer '" + flags.layer + "' (see `xai layers " + model.path() + "`)");
    if (!spatial)
      throw layer_error(model.path() + ": layer '" + flags.layer + "' has no spatial output for CAM methods to explain");
    card.target_layer = flags.layer;
  } else {
    card.target_layer = model.default_layer();  // the starting card's, else the automatic choice
  }
  if (!flags.name.empty()) card.name = flags.name;
  if (card.name.empty()) card.name = fs::path(model.path()).stem().string();
  // What is written is what xai reads back.
  const std::string text = model_card_text(card);
  parse_model_card(text, destination).validate();
  const fs::path parent = fs::path(destination).parent_path();
  if (!parent.empty()) fs::create_directories(parent, ec);  // a failure is reported by the write
  write_file_atomic(destination, text);
  std::cout << "wrote " << destination << ": " << card.labels.size() << " labels (";
  for (size_t i = 0; i < card.labels.size(); ++i) std::cout << (i ? ", " : "") << i << "=" << card.labels[i];
  std::cout << "), input " << card.input_height << "x" << card.input_width << " " << to_string(card.channels)
            << ", resize " << resize_spec(card) << " (" << to_string(card.interpolation) << "), output "
            << to_string(card.output) << (card.output_element.empty() ? "" : " (element " + card.output_element + ")")
            << ", layer " << card.target_layer
            << (!flags.layer.empty() ? "" : model.card().given.count("target_layer") ? " (from the card)" : " (automatic)")
            << "\n";
  return 0;
}

}  // namespace

Command add_card(CLI::App& app) {
  auto flags = std::make_shared<CardFlags>();
  CLI::App* sub = app.add_subcommand(
      "card", "Write a model card (NAME.json) after a dry run: output count checked against --labels, layer chosen");
  flags->model.add_to(*sub, ModelFlags::Mode::positional_one);
  flags->model.writes_card = true;
  sub->add_option("-o,--output", flags->output, "Where to write the card (default: NAME.json beside NAME.pt)");
  sub->add_option("--name", flags->name, "The model's name in reports (default: the file name)");
  sub->add_option("-l,--layer", flags->layer, "The layer CAM methods explain by default (default: chosen automatically)");
  sub->add_flag("--force", flags->force, "Replace an existing card");
  return {sub, [flags] { return run_card(*flags); }};
}

}  // namespace xai::cli
