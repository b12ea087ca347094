#include "input/tissue_mask.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

#include "input/annotations.hpp"
#include "xai/error.hpp"
#include "xai/image.hpp"

namespace xai {

cv::Mat read_tissue_mask(const std::string& path, const cv::Size& size, double downsample, int64_t slide_width,
                         int64_t slide_height) {
  cv::Mat mask;
  if (is_annotation_file_name(path)) {
    // Every polygon is tissue, whatever its class.
    mask = rasterize_annotations(read_slide_annotations(path), size, downsample, {}, {});
  } else {
    const cv::Mat raw = decode_pixels(read_image_bytes(path), path).pixels;
    // The mask covers the whole slide: its shape must be the slide's, whatever its size.
    const double mask_aspect = static_cast<double>(raw.cols) / raw.rows;
    const double slide_aspect = static_cast<double>(slide_width) / static_cast<double>(slide_height);
    if (std::abs(mask_aspect / slide_aspect - 1) > 0.02)
      throw input_error(path + ": the mask is " + std::to_string(raw.cols) + "x" + std::to_string(raw.rows) +
                        ", not the slide's shape (" + std::to_string(slide_width) + "x" + std::to_string(slide_height) +
                        " at level 0)");
    cv::Mat gray;
    if (raw.channels() == 1) gray = raw;
    else cv::cvtColor(raw, gray, raw.channels() == 4 ? cv::COLOR_BGRA2GRAY : cv::COLOR_BGR2GRAY);
    cv::Mat tissue = gray > 0, resized;
    cv::resize(tissue, resized, size, 0, 0, cv::INTER_NEAREST);
    mask = resized > 0;
  }
  if (cv::countNonZero(mask) == 0) throw input_error(path + ": the tissue mask marks no tissue on the slide");
  return mask;
}

}  // namespace xai
