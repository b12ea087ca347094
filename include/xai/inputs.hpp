// Which files a run works on: folders (recursive), single files, @lists; include/exclude globs;
// a deterministic shard of them for clusters.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace xai {

struct InputFile {
  std::string path;      // as given or found (usable to open the file)
  std::string relative;  // path below the inputs' common folder: mirrored under the output folder
  // --frames all: one frame of a multi-frame DICOM file (1-based) of `frames`; 0: the file as read.
  int frame = 0, frames = 0;

  // What journals, summaries and galleries call this input: the relative path, and "#f003" for a frame.
  std::string id() const;
};

struct InputSelection {
  std::vector<std::string> include;  // glob patterns on the relative path or the file name; empty: images
  std::vector<std::string> exclude;
  std::vector<std::string> output_dirs;  // never searched: this run's outputs are not its inputs
  std::vector<std::string> mask_dirs;    // never searched: ground-truth masks are not inputs (eval --masks)
};

struct DiscoveryCounts {
  size_t skipped_outputs = 0;  // files in output folders or named like xai's outputs
  size_t skipped_masks = 0;    // ground-truth masks: STEM.mask.EXT, files in `masks/` folders or --masks
};

// Whether a file name is one of xai's outputs (output/: is_xai_output_name, which knows the names).
using OutputNameRule = std::function<bool(const std::string& file_name)>;

// Expands folders recursively (image extensions only unless `include` is given), reads @LIST files
// (one path per line, '#' comments), applies the globs, removes duplicates and sorts by relative path.
// Outputs are never inputs: inside folders, `selection.output_dirs`, every folder named `xai-out` and
// every file `is_output_name` accepts are skipped and counted. Nor are masks: `STEM.mask.EXT` files,
// folders named `masks` (or `mask`, any letter case) and `selection.mask_dirs` are skipped and counted.
// Files named explicitly are taken as they are. Throws usage_error for a missing input.
// Commands call discover_inputs (explain.hpp), which gives xai's own output-name rule.
std::vector<InputFile> find_inputs(const std::vector<std::string>& specs, const InputSelection& selection,
                                   const OutputNameRule& is_output_name, DiscoveryCounts* counts = nullptr);

// --frames all: every multi-frame DICOM file becomes one input per frame (frame 1..N, in order, right
// after each other); other files stay as they are. A DICOM file whose frames cannot be counted is kept
// whole, and reading it fails with its own error.
std::vector<InputFile> expand_frames(const std::vector<InputFile>& files);

struct Shard {
  int index = 0;  // 0-based
  int count = 1;
};

// "I/N" with 0 <= I < N (Slurm: $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT). Throws usage_error.
Shard parse_shard(const std::string& text);

// Stable across machines and runs: FNV-1a of the relative path, modulo the shard count. Every file
// belongs to exactly one shard, whatever else is in the folder.
bool in_shard(const InputFile& file, const Shard& shard);

bool has_image_extension(const std::string& path);  // .png .jpg ... and DICOM's .dcm .dicom

// The name an input's outputs start with (STEM.gradcam.png, STEM.json): the file name less its image
// extension (x.png -> x); a name without a known one whole, so DICOM files named by UID keep their last
// dotted part (1.2.840.498.1 and 1.2.840.498.2 stay apart, and adding one renames nothing).
std::string input_stem(const std::filesystem::path& file);
// A DICOM file named without an extension (or by a UID, all digits and dots): the "DICM" marker at byte 128.
bool is_extensionless_dicom(const std::filesystem::path& path);

}  // namespace xai
