#include "core/text.hpp"
#include "xai/inputs.hpp"
#include "input/true_labels.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>

#include "xai/error.hpp"
#include "xai/model_card.hpp"

namespace xai {
namespace {

namespace fs = std::filesystem;


}  // namespace

std::map<std::string, std::string> read_labels_csv(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw usage_error(setting_name("labels_csv") + " " + path + ": cannot read");
  std::map<std::string, std::string> labels;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const size_t comma = line.find(',');
    if (comma == std::string::npos) continue;
    std::string name = line.substr(0, comma), label = line.substr(comma + 1);
    if (name == "name" || name == "filename" || name == "image") continue;  // header
    labels[input_stem(name)] = label;
  }
  return labels;
}

TrueLabels::TrueLabels(const std::vector<std::string>& model_labels, const std::string& csv_path)
    : model_labels_(model_labels) {
  if (csv_path.empty()) return;
  for (const auto& [stem, label] : read_labels_csv(csv_path)) {
    try {
      by_stem_[stem] = model_labels_.at(static_cast<size_t>(parse_class(label, model_labels_)));
    } catch (const Error&) {
      std::string known;
      for (const auto& l : model_labels_) known += (known.empty() ? "" : ", ") + l;
      throw usage_error(setting_name("labels_csv") + " " + csv_path + ": " + stem + " has label \"" + label +
                        "\", which is not one of the model's classes (" + known + ") nor a class index");
    }
  }
}

std::optional<TrueLabel> TrueLabels::of(const std::string& path) const {
  const fs::path p(path);
  const auto listed = by_stem_.find(input_stem(p));
  if (listed != by_stem_.end()) return TrueLabel{listed->second, "labels-csv"};
  const std::string folder = lower(p.parent_path().filename().string());
  for (const auto& label : model_labels_)
    if (!folder.empty() && lower(label) == folder) return TrueLabel{label, "folder"};
  return std::nullopt;
}

}  // namespace xai
