#include "cli/setting_names.hpp"

#include "xai/error.hpp"
#include "xai/method_settings.hpp"

namespace xai::cli {

const std::map<std::string, std::string>& setting_flags_by_key() {
  // Every key the library names in a message (tests/cli/test_setting_names.cpp checks that none is missing
  // and that every flag here is one the command line has): the methods' settings by their declarations,
  // the others by this table.
  static const std::map<std::string, std::string> table = [] {
    std::map<std::string, std::string> flags = undeclared_setting_flags();
    for (const SettingDeclaration& setting : method_settings())
      flags[setting.key] = setting.long_flag();
    return flags;
  }();
  return table;
}

const std::map<std::string, std::string>& undeclared_setting_flags() {
  static const std::map<std::string, std::string> table = {
      {"all_frames", "--frames all"},
      {"annotation_classes", "--annotation-classes"},
      {"apply_exif_orientation", "--apply-exif-orientation"},
      {"background", "--background"},
      {"batch_size", "--batch-size"},
      {"channels", "--channels"},
      {"colormap", "--colormap"},
      {"device", "--device"},
      {"dicom_window", "--dicom-window"},
      {"fail_if", "--fail-if"},
      {"faithfulness_steps", "--faithfulness-steps"},
      {"fidelity", "--fidelity"},
      {"figure_dpi", "--dpi"},
      {"figure_format", "--figure-format"},
      {"frame", "--frame"},
      {"input_size", "--input-size"},
      {"labels_csv", "--labels-csv"},
      {"level", "--level"},
      {"max_decoded_bytes", "--max-image-memory"},
      {"max_pixels", "--max-pixels"},
      {"methods", "--method"},
      {"min_tissue", "--min-tissue"},
      {"model", "--model"},
      {"output_element", "--output-element"},
      {"mpp", "--mpp"},
      {"no_viewer", "--no-viewer"},
      {"plot", "--plot"},
      {"positive_classes", "--positive-class"},
      {"precision", "--precision"},
      {"resize", "--resize"},
      {"shard", "--shard"},
      {"tile_stride", "--tile-stride"},
      {"tissue_mask", "--tissue-mask"},
      {"tissue_threshold", "--tissue-threshold"},
  };
  return table;
}

void name_settings_by_flags() {
  set_setting_namer([](const std::string& key) {
    const auto& table = setting_flags_by_key();
    const auto found = table.find(key);
    return found == table.end() ? key : found->second;
  });
}

}  // namespace xai::cli
