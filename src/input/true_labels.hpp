// What each input really is, when the user knows: from a CSV of name,label (--labels-csv) or from
// the folder an input sits in when that folder is named like one of the model's classes
// (benign/, malignant/: how ImageFolder datasets are laid out).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace xai {

// "name,label" lines (a header line is skipped), keyed by the name's stem. Throws usage_error.
std::map<std::string, std::string> read_labels_csv(const std::string& path);

struct TrueLabel {
  std::string label;   // one of the model's labels, spelled as the model does
  std::string source;  // "labels-csv" or "folder"
};

class TrueLabels {
 public:
  // `csv_path` may be empty (folders only). Every label in the CSV must be one of the model's labels
  // or a class index: a typo would otherwise count every image as misclassified (usage_error).
  TrueLabels(const std::vector<std::string>& model_labels, const std::string& csv_path);

  // The CSV's label for the input's stem, else its folder's name when it is a model label (letter
  // case aside), else none.
  std::optional<TrueLabel> of(const std::string& path) const;

 private:
  std::vector<std::string> model_labels_;
  std::map<std::string, std::string> by_stem_;  // resolved to model labels
};

}  // namespace xai
