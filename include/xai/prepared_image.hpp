// An image decoded and preprocessed for one model: everything about the input that needs no model,
// so batch runs do it on worker threads while the model runs. Every method reads the same prepared
// image (the model's view for perturbations, the normalised blob for forward passes): no method
// redoes the preprocessing.
#pragma once

#include <opencv2/core.hpp>
#include <string>

#include "xai/image.hpp"
#include "xai/model_card.hpp"
#include "xai/model.hpp"

namespace xai {

struct PreparedImage {
  std::string path;
  Image image;     // original resolution, [0,1]
  cv::Mat view;    // model_view(image, card): RGB or gray, [0,1], the model's input size
  InputBlob blob;  // normalise(view, card)
  // The part of `image` the model sees (visible_region: a centre crop's footprint, or all of it); empty
  // means all. Maps, overlays and masks cover this part.
  cv::Rect visible;
  double load_ms = 0;
  double preprocess_ms = 0;
};

// The visible part of the image, 8-bit BGR: what maps are drawn over and resized to.
cv::Mat display_bgr(const PreparedImage& image);
// Its size (without drawing it).
cv::Size display_size(const PreparedImage& image);
// An array of the original image's size (a mask, a region map) cut to the visible part.
cv::Mat visible_part(const cv::Mat& original_sized, const PreparedImage& image);

// Reads, decodes and preprocesses PATH. Throws input_error.
PreparedImage prepare_image(const std::string& path, const ModelCard& card, const ImageLimits& limits);

// The same from bytes already read (and hashed: `sha256` of `bytes`, so a file is hashed once).
PreparedImage prepare_image_bytes(const std::string& bytes, const std::string& sha256, const std::string& path,
                                  const ModelCard& card, const ImageLimits& limits);

// The same from an image already decoded (a whole slide's tile): preprocessing only.
PreparedImage prepare_decoded(Image image, const ModelCard& card);

}  // namespace xai
