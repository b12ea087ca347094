#include "cli/model_flags.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "input/stain.hpp"
#include "xai/error.hpp"

namespace xai::cli {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> read_labels(const std::string& spec) {
  std::vector<std::string> labels;
  std::error_code ec;
  if (fs::is_regular_file(spec, ec)) {
    std::ifstream in(spec);
    std::string line;
    while (std::getline(in, line)) {
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
      if (!line.empty()) labels.push_back(line);
    }
    if (labels.empty()) throw usage_error("--labels " + spec + ": file has no labels");
    return labels;
  }
  std::stringstream list(spec);
  std::string item;
  while (std::getline(list, item, ',')) labels.push_back(item);
  return labels;
}

void parse_input_size(const std::string& text, ModelCard& card) {
  int h = 0, w = 0;
  char x = 0;
  std::istringstream in(text);
  if (text.find('x') != std::string::npos || text.find(',') != std::string::npos) {
    in >> h >> x >> w;
  } else {
    in >> h;
    w = h;
  }
  if (!in || in.peek() != EOF || h < 1 || w < 1)
    throw usage_error("--input-size " + text + ": expected N, HxW or H,W, e.g. 224 or 299x299");
  card.input_height = h;
  card.input_width = w;
}

}  // namespace

void ModelFlags::add_to(CLI::App& command, Mode mode) {
  check_outputs_at_load = mode != Mode::positional_one;
  if (mode == Mode::positional_one)
    all.push_back(command.add_option("model", model, "TorchScript model file (.pt)")->required());
  else if (mode == Mode::several)
    all.push_back(command.add_option("-m,--model", models, "A TorchScript model (repeat: two or more)")
                      ->required()
                      ->allow_extra_args(false)
                      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll));
  else
    all.push_back(command.add_option("-m,--model", model, "TorchScript model file (default: the bundled demo model)"));
  all.push_back(command.add_option("--card", card, "Model card JSON (default: MODEL.json beside the model)"));
  all.push_back(command.add_option("--device", device, "cpu, cuda or cuda:N")->capture_default_str());
  all.push_back(command.add_option("--input-size", input_size, "Override the card: N or HxW"));
  all.push_back(command.add_option("--channels", channels, "Override the card: rgb or gray"));
  all.push_back(command.add_option("--mean", mean, "Override the card: per-channel mean")
                    ->allow_extra_args(false)
                    ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
                    ->delimiter(','));
  all.push_back(command.add_option("--std", std, "Override the card: per-channel std")
                    ->allow_extra_args(false)
                    ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
                    ->delimiter(','));
  all.push_back(command.add_option("--resize", resize,
                                   "Override the card: stretch (to the input size) or shorter-side[:N] (the shorter "
                                   "side to N, default 8/7 of the input, then a centre crop: torchvision's Resize + "
                                   "CenterCrop)"));
  all.push_back(command.add_option("--interpolation", interpolation,
                                   "Override the card: area (OpenCV, the default), bilinear or bicubic (as PIL and "
                                   "torchvision)"));
  all.push_back(command.add_option("--output-kind", output_kind, "Override the card: softmax or sigmoid"));
  all.push_back(command.add_option("--output-element", output_element,
                                   "Override the card: where forward() returns several values, which holds the "
                                   "class scores: an index (1) into its tuple, or a key (logits) of its dictionary"));
  all.push_back(command.add_option("--labels", labels, "Override the card: a file with one label per line, or a,b,c"));
  all.push_back(command
                    .add_option("--precision", precision,
                                "Forward-only passes (perturbed images, Score-CAM's masked inputs) in fp32, bf16 or "
                                "fp16; checked against fp32 on a probe (probabilities within 0.01, else fp32)")
                    ->check(CLI::IsMember({"fp32", "bf16", "fp16"}))
                    ->capture_default_str());
  all.push_back(command.add_option("--stain-normalize", stain_normalize,
                                   "H&E stain normalisation before the model: macenko (each image's stains, or a whole "
                                   "slide's from its thumbnail, mapped onto --stain-reference's)")
                    ->check(CLI::IsMember({"macenko"})));
  all.push_back(command.add_option("--stain-reference", stain_reference,
                                   "--stain-normalize: the image whose stains inputs are mapped onto (e.g. a patch "
                                   "of the training set)"));
  all.push_back(command.add_flag("--no-inference-clone", no_inference_clone,
                                 "Run forward-only passes on the model as loaded, not on a frozen, optimised clone"));
  all.push_back(command.add_flag("--staged-capture", staged_capture,
                                 "CAM methods: cut the model at the explained layer and run the layers before it "
                                 "without gradients on the inference clone's kernels (faster; the maps are another "
                                 "float32 computation, within its rounding of the model as loaded's: README, Speed)"));
}

Model ModelFlags::load() const {
  std::string path = model;
  if (path.empty()) {
    path = bundled_model_path();
    if (path.empty())
      throw usage_error("--model is required: the bundled demo model (models/demo-histo.pt) was not found");
    spdlog::info("using the bundled demo model {}", path);
  }
  return load_one(path);
}

std::vector<Model> ModelFlags::load_all() const {
  if (models.size() < 2) throw usage_error("--model: give at least two models to compare");
  std::vector<Model> loaded;
  for (const auto& path : models) loaded.push_back(load_one(path));
  return loaded;
}

Model ModelFlags::load_one(const std::string& path) const {
  ModelOptions options;
  options.device = device;
  options.inference_clone = !no_inference_clone;
  options.staged_capture = staged_capture;
  options.precision = precision;
  if (!card.empty()) options.card_path = card;
  Model loaded = Model::load(path, options);
  ModelCard& c = loaded.mutable_card();
  if (!channels.empty()) {
    const ChannelMode mode = parse_channel_mode(channels);
    // The card's statistics were for the other channel count: start from that mode's defaults.
    if (mode != c.channels) {
      c.set_channels(mode);
      c.given.erase("mean");
      c.given.erase("std");
    }
    c.given.insert("channels");
  }
  if (!input_size.empty()) parse_input_size(input_size, c), c.given.insert("input_size");
  if (!mean.empty()) c.mean = mean, c.given.insert("mean");
  if (!std.empty()) c.std = std, c.given.insert("std");
  if (!resize.empty()) parse_resize(resize, c), c.given.insert("resize");
  if (!interpolation.empty()) c.interpolation = parse_interpolation(interpolation), c.given.insert("interpolation");
  if (!output_kind.empty()) c.output = parse_output_kind(output_kind), c.given.insert("output");
  if (!output_element.empty()) c.output_element = output_element, c.given.insert("output_element");
  if (!labels.empty()) c.labels = read_labels(labels), c.given.insert("labels");
  if (!stain_reference.empty() && stain_normalize.empty())
    throw usage_error("--stain-reference " + stain_reference + ": applies with --stain-normalize macenko");
  if (!stain_normalize.empty()) {
    if (stain_reference.empty())
      throw usage_error("--stain-normalize " + stain_normalize + ": needs --stain-reference IMAGE (the stains to map onto)");
    c.stain = macenko_reference(stain_reference);
    c.given.insert("stain");
  }
  try {
    c.validate();
  } catch (const Error& e) {
    throw usage_error(std::string(e.what()) + " (after command-line overrides)");
  }
  if (check_outputs_at_load) loaded.labels();
  for (const auto& warning : loaded.warnings(!writes_card)) spdlog::warn("{}", warning);
  return loaded;
}

std::string bundled_model_path() {
  std::vector<fs::path> candidates;
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n > 0) {
    const fs::path exe_dir = fs::path(std::string(self, n)).parent_path();
    candidates.push_back(exe_dir / "../share/xai/models/demo-histo.pt");
    candidates.push_back(exe_dir / "models/demo-histo.pt");
  }
  candidates.push_back(fs::path(XAI_SOURCE_DIR) / "models/demo-histo.pt");
  std::error_code ec;
  for (const auto& candidate : candidates)
    if (fs::is_regular_file(candidate, ec)) return fs::weakly_canonical(candidate, ec).string();
  return "";
}

}  // namespace xai::cli
