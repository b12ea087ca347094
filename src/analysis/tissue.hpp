// Where the tissue is on a slide, from a low-resolution image of it, and which tiles cover it: only
// those tiles are read at full resolution (a slide is mostly glass).
#pragma once

#include <cstdint>
#include <optional>
#include <opencv2/core.hpp>
#include <vector>

namespace xai {

struct TissueMask {
  cv::Mat mask;            // CV_8UC1, 255 where tissue, at the thumbnail's size
  double threshold = 0;    // the saturation threshold used (0..255)
  double fraction = 0;     // of the thumbnail's pixels that are tissue
};

// Stained tissue is saturated, glass and background are near-white or gray: Otsu's threshold on the
// HSV saturation (never below `min_saturation`, so an empty slide does not split its noise in two),
// then holes smaller than `hole_fraction` of the image filled and specks smaller than
// `speck_fraction` of it, and never larger than `max_speck_pixels`, removed (connected components).
// The cap keeps a small piece of tissue on a huge slide: on the 2048-px thumbnail of a 100 000-px
// slide a 1 mm² biopsy covers ~1700 pixels, less than 0.05 % of it.
// `fixed_threshold` replaces Otsu's (pale stains: a lower one keeps faint tissue).
TissueMask detect_tissue(const cv::Mat& thumbnail_bgr, double min_saturation = 20, double hole_fraction = 0.002,
                         double speck_fraction = 0.0005, double max_speck_pixels = 1e18,
                         std::optional<double> fixed_threshold = std::nullopt);

struct Tile {
  int64_t x = 0, y = 0;  // level-0 coordinates of the top-left corner
  int column = 0, row = 0;
  double tissue = 0;     // fraction of the tile's area that is tissue
};

// The tiles of `tile` x `tile` pixels of a level with `downsample` (level-0 pixels per pixel), every
// `stride` pixels of that level, over a level-0 area of `width` x `height`, whose tissue fraction (on
// `mask`, `mask_downsample` level-0 pixels per mask pixel) is at least `min_tissue`. Row by row.
// Why the grid's other tiles are not read.
struct SkippedTiles {
  size_t glass = 0;             // no tissue at all on the mask
  size_t below_min_tissue = 0;  // some tissue, less than `min_tissue` of the tile
};
std::vector<Tile> tissue_tiles(int64_t width, int64_t height, double downsample, int tile, int stride,
                               const cv::Mat& mask, double mask_downsample, double min_tissue,
                               SkippedTiles* skipped = nullptr);

}  // namespace xai
