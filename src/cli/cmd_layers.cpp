// xai layers: every submodule with its type and output shape; marks the automatic choice.
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/method_flags.hpp"
#include "cli/model_flags.hpp"
#include "xai/error.hpp"
#include "output/report.hpp"

namespace xai::cli {
namespace {

struct LayersFlags {
  ModelFlags model;
  bool json = false;
};

std::string shape_text(const std::vector<int64_t>& shape) {
  if (shape.empty()) return "-";
  std::ostringstream out;
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? "x" : "") << shape[i];
  return out.str();
}

std::string layout_name(FeatureLayout::Kind kind) {
  switch (kind) {
    case FeatureLayout::Kind::channels_first: return "channels_first";
    case FeatureLayout::Kind::channels_last: return "channels_last";
    case FeatureLayout::Kind::tokens: return "tokens";
    case FeatureLayout::Kind::none: break;
  }
  return "none";
}

// The feature map a CAM method sees (C x H x W), and how it is made from a transformer's output.
std::string feature_map_text(const FeatureLayout& layout) {
  if (!layout.explainable()) return "-";
  std::string text = shape_text({layout.channels, layout.height, layout.width});
  if (layout.kind == FeatureLayout::Kind::tokens) text += " tokens-" + std::to_string(layout.prefix);
  if (layout.kind == FeatureLayout::Kind::channels_last) text += " ch-last";
  return text;
}

int run_layers(const LayersFlags& flags) {
  Model model = flags.model.load();
  const std::vector<LayerInfo> layers = model.layers();
  std::string automatic;
  try {
    automatic = model.default_layer();
  } catch (const Error&) {
    // No capturable layer: the table still tells the user what the model contains.
  }
  const nlohmann::ordered_json card = card_json(model);
  if (flags.json) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& layer : layers) {
      nlohmann::ordered_json entry = {{"path", layer.path},
                                      {"type", layer.type},
                                      {"output_shape", layer.output_shape},
                                      {"calls", layer.calls},
                                      {"spatial", layer.spatial()},
                                      {"layout", layout_name(layer.layout.kind)}};
      if (layer.spatial()) {
        entry["feature_map"] = {layer.layout.channels, layer.layout.height, layer.layout.width};
        if (layer.layout.kind == FeatureLayout::Kind::tokens) entry["prefix_tokens"] = layer.layout.prefix;
      } else if (!layer.layout.problem.empty()) {
        entry["problem"] = layer.layout.problem;
      }
      entry["patch_embedding"] = model.is_patch_embedding(layer.path);
      entry["default"] = layer.path == automatic;
      entry["note"] = layer.note;
      out.push_back(std::move(entry));
    }
    std::cout << nlohmann::ordered_json{{"model", model.path()}, {"card", card}, {"default_layer", automatic},
                                        {"layers", out}}
                     .dump(2)
              << "\n";
    return 0;
  }
  // The card as applied (after command-line overrides): the dry run's input follows it.
  std::cout << "card: " << card.dump() << "\n";
  size_t width = 5;
  for (const auto& layer : layers) width = std::max(width, layer.path.size());
  std::cout << std::left << std::setw(static_cast<int>(width) + 2) << "LAYER" << std::setw(24) << "TYPE"
            << std::setw(20) << "OUTPUT" << std::setw(24) << "CAM MAP" << "CALLS\n";
  bool transformer = false;
  for (const auto& layer : layers) {
    transformer = transformer || layer.layout.is_transformer();
    std::cout << std::left << std::setw(static_cast<int>(width) + 2) << layer.path << std::setw(24) << layer.type
              << std::setw(20) << shape_text(layer.output_shape) << std::setw(24) << feature_map_text(layer.layout)
              << layer.calls;
    if (layer.path == automatic) std::cout << "  <- default";
    if (!layer.note.empty()) std::cout << "  (" << layer.note << ")";
    if (model.is_patch_embedding(layer.path)) std::cout << "  (patch embedding)";
    std::cout << "\n";
  }
  if (layers.empty()) std::cout << "(no submodules: the model is frozen or optimized; Grad-CAM needs layers)\n";
  if (transformer)
    std::cout << "CAM MAP: the C x H x W map CAM methods weigh; tokens-P: a token output, P prefix (class/register) "
                 "tokens dropped and the rest laid out on the grid; ch-last: channels last, transposed\n";
  return 0;
}

}  // namespace

Command add_layers(CLI::App& app) {
  auto flags = std::make_shared<LayersFlags>();
  CLI::App* sub = app.add_subcommand("layers", "List a model's layers with output shapes");
  flags->model.add_to(*sub, ModelFlags::Mode::positional_one);
  sub->add_flag("--json", flags->json, "Print JSON instead of a table");
  return {sub, [flags] { return run_layers(*flags); }};
}

}  // namespace xai::cli
