#include "cli/flag_policy.hpp"

#include <algorithm>
#include <stdexcept>

#include "cli/method_flags.hpp"
#include "cli/model_flags.hpp"
#include "xai/error.hpp"

namespace xai::cli {
namespace {

// Stand-ins for every flag of a shared group (model_flags.hpp, method_flags.hpp).
const std::string kModelGroup = "<model flags>";
const std::string kMethodGroup = "<method flags>";
const std::vector<std::string> kFaithfulness = {"--faithfulness", "--faithfulness-steps", "--faithfulness-fill"};
const std::vector<std::string> kImageFiles = {"--max-pixels", "--max-image-memory", "--apply-exif-orientation",
                                              "--dicom-window", "--frame", "--frames"};
// Flags that no command takes any more, kept here so that an old script gets the new name.
const std::vector<std::string> kRetired = {"--lime-batch-size"};

struct Refusal {
  std::vector<std::string> commands;
  std::vector<std::string> flags;
  std::string reason;
};

std::vector<std::string> operator+(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Every flag a command can never apply, and why.
const std::vector<Refusal>& refusals() {
  static const std::vector<Refusal> table = {
      {{"merge"}, {kModelGroup, kMethodGroup},
       "merge combines finished runs as they are: it loads no model and explains nothing"},
      {{"layers"}, {kMethodGroup}, "layers lists the model's modules and explains nothing"},
      {{"layers"}, {"--no-inference-clone"},
       "layers runs the model as loaded (it lists modules, which a frozen clone no longer has)"},
      {{"layers"}, {"--precision"}, "layers runs the model as loaded, in fp32"},
      {{"layers", "card"}, {"--staged-capture"}, "this command runs the model as loaded and explains nothing"},
      {{"card"}, {"--no-inference-clone"}, "card runs the model once as loaded"},
      {{"card"}, {"--precision"}, "card runs the model once as loaded, in fp32"},
      {{"layers", "card"}, {"--stain-normalize", "--stain-reference"},
       "stain normalisation changes the images a command explains; this one reads none"},
      {{"bench"}, {"--stain-normalize", "--stain-reference"},
       "bench times methods on synthetic images, which have no stains"},
      {{"explain"}, {"--batch-size"},
       "explain takes one image per pass; perturbed images per forward pass is --probe-batch"},
      {{"batch"}, {"--lime-batch-size"}, "renamed: perturbed images per forward pass is --probe-batch"},
      {{"bench"}, kImageFiles + std::vector<std::string>{"--map-size", "--num-features"},
       "bench runs on synthetic images at the model's input size"},
      {{"bench"}, kFaithfulness, "bench times methods; measure faithfulness with explain, batch or eval"},
      {{"compare", "diff"}, {"--card"}, "one card cannot describe several models; put NAME.json beside each"},
      {{"compare"}, {"--top-k", "--targets", "--all-classes"}, "compare explains one class per model and scores the pair: use -t CLASS"},
      {{"compare"}, {"--map-size"}, "compare writes side-by-side overlays, no .npy maps"},
      {{"compare"}, {"--figure-size"}, "compare's grid draws every tile at 224 px"},
      {{"compare"}, kFaithfulness,
       "compare scores agreement between models; measure faithfulness with explain, batch or eval"},
      {{"diff"}, {"--top-k", "--targets", "--all-classes"},
       "diff compares the two models' maps of one class per image (the old model's prediction, or -t CLASS)"},
      {{"diff"}, {"--map-size"}, "diff writes figures and drift numbers, no .npy maps"},
      {{"diff"}, {"--figure-size"}, "diff's figures draw every tile at 224 px"},
      {{"diff"}, {"--layers"},
       "the models may have different stages: name a layer both have with -l, or leave each its default"},
      {{"diff"}, kFaithfulness,
       "diff measures how maps move between models; measure faithfulness with explain, batch or eval"},
      {{"sanity"}, {"--top-k", "--targets", "--all-classes"},
       "sanity compares the maps of one class per image (the trained model's prediction, or -t CLASS)"},
      {{"sanity"}, {"--map-size"}, "sanity writes grids and similarities, no .npy maps"},
      {{"sanity"}, {"--figure-size"}, "sanity's grids draw every tile at their fixed size"},
      {{"sanity"}, kFaithfulness,
       "sanity measures how maps change with the weights; measure faithfulness with explain, batch or eval"},
      {{"eval"}, {"--target-class", "--top-k", "--targets", "--all-classes"},
       "eval explains the lesion class: choose it with --positive-class"},
      {{"eval"}, {"--map-size"}, "eval writes no maps (it measures them against masks)"},
      {{"eval"}, {"--num-features"}, "eval's overlays show each map whole, no top/bottom region views"},
      {{"compare"}, {"--num-features"}, "compare draws each map whole, no top/bottom region views"},
      {{"diff"}, {"--num-features"}, "diff draws each map whole, no top/bottom region views"},
      {{"sanity"}, {"--num-features"}, "sanity draws each map whole, no top/bottom region views"},
      {{"compare", "diff", "sanity", "eval"}, {"--frames"},
       "--frames all (each frame an input of its own) is for explain and batch; --frame N picks one frame"},
      {{"slide"}, kImageFiles, "slide tiles are read from the slide, not decoded from image files"},
      {{"slide"}, {"--top-k", "--targets", "--all-classes"},
       "slide stitches one map per method, of one class over the whole slide (-t CLASS)"},
      {{"slide"}, {"--layers"},
       "slide stitches one map per method, of one class over the whole slide (-t CLASS) at one layer (-l LAYER)"},
      {{"slide"}, kFaithfulness,
       "slide does not measure faithfulness; measure it on tiles with explain, batch or eval"},
  };
  return table;
}

// The shared groups registered on a command line of their own: their long names, and each short or
// long alias to its long name.
struct Catalogue {
  CLI::App app;
  ModelFlags model;
  MethodFlags method;
  Catalogue() {
    model.add_to(app);
    method.add_to(app);
  }
  std::vector<std::string> names(const std::vector<CLI::Option*>& group) const {
    std::vector<std::string> out;
    for (const CLI::Option* option : group) out.push_back(flag_name(option));
    return out;
  }
  // "-m", "--model" or "--model=x" as "--model"; a word that is not one of the groups' flags as it is.
  std::string long_name(const std::string& word) const {
    const std::string name = word.substr(0, word.find('='));
    const CLI::Option* option = name.rfind("--", 0) == 0 || name.size() == 2 ? app.get_option_no_throw(name) : nullptr;
    return option ? flag_name(option) : name;
  }
};

const Catalogue& catalogue() {
  static const Catalogue instance;
  return instance;
}

// The table's refusals of `command`, groups expanded: (flag, reason) pairs.
std::vector<std::pair<std::string, std::string>> refused(const std::string& command) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Refusal& row : refusals()) {
    if (std::find(row.commands.begin(), row.commands.end(), command) == row.commands.end()) continue;
    for (const std::string& flag : row.flags) {
      const std::vector<std::string> flags = flag == kModelGroup    ? catalogue().names(catalogue().model.all)
                                             : flag == kMethodGroup ? catalogue().names(catalogue().method.all)
                                                                    : std::vector<std::string>{flag};
      for (const auto& name : flags) out.emplace_back(name, row.reason);
    }
  }
  return out;
}

bool known_flag(const CLI::App& command, const std::string& name) {
  if (std::find(kRetired.begin(), kRetired.end(), name) != kRetired.end()) return true;
  if (catalogue().app.get_option_no_throw(name)) return true;
  const CLI::App* root = command.get_parent() ? command.get_parent() : &command;
  for (const CLI::App* sibling : root->get_subcommands([](const CLI::App*) { return true; }))
    if (sibling->get_option_no_throw(name)) return true;
  return false;
}

}  // namespace

std::string flag_name(const CLI::Option* option) {
  if (!option->get_lnames().empty()) return "--" + option->get_lnames().front();
  if (!option->get_snames().empty()) return "-" + option->get_snames().front();
  return option->get_name();
}

void hide_refused_flags(CLI::App& command) {
  for (const auto& [name, reason] : refused(command.get_name())) {
    if (!known_flag(command, name))
      throw std::logic_error("flag_policy.cpp: " + command.get_name() + " refuses " + name + ", which no command has");
    if (CLI::Option* option = command.get_option_no_throw(name)) option->group("");  // "": not in --help
  }
}

void check_refused_flags(const CLI::App& command) {
  for (const auto& [name, reason] : refused(command.get_name()))
    if (const CLI::Option* option = command.get_option_no_throw(name); option && option->count() > 0)
      throw usage_error(name + ": " + reason);
}

std::string refusal_in(const std::string& command, const std::vector<std::string>& args) {
  const auto table = refused(command);
  for (const std::string& word : args) {
    if (word.size() < 2 || word[0] != '-') continue;
    const std::string name = catalogue().long_name(word);
    for (const auto& [flag, reason] : table)
      if (flag == name) return name + ": " + reason;
  }
  return {};
}

}  // namespace xai::cli
