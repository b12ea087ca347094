// Sanity check of explanation methods by cascading model-parameter randomisation (Adebayo et al.
// 2018): the model's stages are re-initialised from the output down, one more at each step, on copies
// of the model; every map is recomputed for the same class and compared with the trained model's. A
// method whose maps stay similar once the top stages are random does not explain the model (an edge
// detector would pass as an explanation otherwise) and is flagged.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "xai/explain_options.hpp"
#include "xai/model.hpp"
#include "model/randomisation.hpp"

namespace xai {

struct SanityOptions {
  ExplainOptions explain;       // methods, layers, target (the predicted class or one given class), settings
  double max_similarity = 0.5;  // flag a method whose mean Spearman ρ stays above this ...
  int flag_after = 2;           // ... after this many cascade steps (the head and the last stage)
  uint64_t seed = 0;            // of the re-initialised parameters
  double top_fraction = 0.2;    // for the IoU of the maps' top pixels
  int batch_size = 16;          // images per pass
  std::string output_dir;       // STEM.sanity.png grids, sanity.json, sanity.csv
  bool grids = true;
};

// Similarity of a method's maps (method × layer) to the trained model's, one value per cascade step,
// each a mean over the images: Spearman ρ of the absolute maps, SSIM of the absolute maps scaled to
// [0, 1], IoU of their top-fraction pixels.
struct SanityRow {
  std::string method;
  std::string layer;  // empty for methods without layers
  std::vector<double> spearman, ssim, iou_top;
  double similarity_at_flag_step = 0;  // spearman[flag step]
  bool flagged = false;
};

struct SanityResult {
  std::vector<RandomisationStage> cascade;  // the steps: cascade[0..k] randomised at step k
  int flag_step = 0;                        // 0-based step whose similarity decides the flag
  std::vector<SanityRow> rows;
  int images = 0;
  size_t skipped_outputs = 0;
  size_t skipped_masks = 0;  // ground-truth masks under the inputs, not inputs
  std::vector<std::string> grids;      // written grid images
  std::string report_path, csv_path;
  std::vector<std::string> warnings;   // "PATH: what"
  nlohmann::ordered_json report;
};

// `inputs`: image files or folders (recursive; the output folder and xai's outputs are skipped).
// Writes OUTPUT_DIR/sanity.json, sanity.csv and (with grids) STEM.sanity.png atomically.
SanityResult check_sanity(Model& model, const std::vector<std::string>& inputs, const SanityOptions& options);

}  // namespace xai
