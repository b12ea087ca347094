#include "cli/setting_names.hpp"

#include "xai/error.hpp"

namespace xai::cli {

const std::map<std::string, std::string>& setting_flags_by_key() {
  // Every key the library names in a message (tests/cli/test_setting_names.cpp checks that none is missing
  // and that every flag here is one the command line has).
  static const std::map<std::string, std::string> table = {
      {"all_frames", "--frames all"},
      {"annotation_classes", "--annotation-classes"},
      {"apply_exif_orientation", "--apply-exif-orientation"},
      {"background", "--background"},
      {"baseline", "--baseline"},
      {"batch_size", "--batch-size"},
      {"colormap", "--colormap"},
      {"compactness", "--compactness"},
      {"device", "--device"},
      {"dicom_window", "--dicom-window"},
      {"fail_if", "--fail-if"},
      {"faithfulness_steps", "--faithfulness-steps"},
      {"fidelity", "--fidelity"},
      {"figure_dpi", "--dpi"},
      {"figure_format", "--figure-format"},
      {"frame", "--frame"},
      {"grid", "--grid"},
      {"hide", "--hide"},
      {"hide_color", "--hide-color"},
      {"input_size", "--input-size"},
      {"keep", "--keep"},
      {"kernel_width", "--kernel-width"},
      {"labels_csv", "--labels-csv"},
      {"layer", "--layer"},
      {"layer_set", "--layers"},
      {"level", "--level"},
      {"max_decoded_bytes", "--max-image-memory"},
      {"max_evals", "--max-evals"},
      {"max_pixels", "--max-pixels"},
      {"max_samples", "--max-samples"},
      {"methods", "--method"},
      {"min_tissue", "--min-tissue"},
      {"model", "--model"},
      {"mpp", "--mpp"},
      {"no_viewer", "--no-viewer"},
      {"noise", "--noise"},
      {"partition", "--partition"},
      {"plot", "--plot"},
      {"positive_classes", "--positive-class"},
      {"precision", "--precision"},
      {"probe_batch", "--probe-batch"},
      {"regions_path", "--regions"},
      {"repeats", "--repeats"},
      {"resize", "--resize"},
      {"rise_masks", "--rise-masks"},
      {"samples", "--samples"},
      {"segments", "--segments"},
      {"shard", "--shard"},
      {"steps", "--steps"},
      {"stride", "--stride"},
      {"superpixels", "--superpixels"},
      {"target_class", "--target-class"},
      {"targets", "--targets"},
      {"tile_stride", "--tile-stride"},
      {"tissue_mask", "--tissue-mask"},
      {"tissue_threshold", "--tissue-threshold"},
      {"tolerance", "--tolerance"},
      {"top_k", "--top-k"},
      {"window", "--window"},
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
