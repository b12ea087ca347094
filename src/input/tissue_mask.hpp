// A slide's tissue as the user knows it: their own mask instead of xai's detection (pale tissue, pen
// marks, a region of interest). An image (any size with the slide's shape; non-zero is tissue) or GeoJSON
// polygons in level-0 pixel coordinates, as QuPath exports annotations (holes are interior rings), or
// ASAP XML (src/input/annotations.hpp).
#pragma once

#include <cstdint>
#include <opencv2/core.hpp>
#include <string>

namespace xai {

// The mask at `size` (the thumbnail's; `downsample` level-0 pixels per pixel of it), 255 where tissue.
// Throws input_error naming the file: unreadable, not an image or GeoJSON, another shape than the
// slide's (`slide_width` x `slide_height` level-0 pixels), no polygon, or nothing marked as tissue.
cv::Mat read_tissue_mask(const std::string& path, const cv::Size& size, double downsample, int64_t slide_width,
                         int64_t slide_height);

}  // namespace xai
