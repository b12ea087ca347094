// An image decoded and preprocessed for one model: everything about the input that needs no model,
// so batch runs do it on worker threads while the model runs. Every method reads the same prepared
// image (the model's view for perturbations, the normalised blob for forward passes): no method
// redoes the preprocessing.
#pragma once

#include <opencv2/core.hpp>
#include <string>

#include "xai/image.hpp"
#include "xai/model_card.hpp"
#include "xai/preprocess.hpp"

namespace xai {

struct PreparedImage {
  std::string path;
  Image image;     // original resolution, [0,1]
  cv::Mat view;    // model_view(image, card): RGB or gray, [0,1], the model's input size
  InputBlob blob;  // normalise(view, card)
  double load_ms = 0;
  double preprocess_ms = 0;
};

// Reads, decodes and preprocesses PATH. Throws input_error.
PreparedImage prepare_image(const std::string& path, const ModelCard& card, const ImageLimits& limits);

// The same from bytes already read (and hashed: `sha256` of `bytes`, so a file is hashed once).
PreparedImage prepare_image_bytes(const std::string& bytes, const std::string& sha256, const std::string& path,
                                  const ModelCard& card, const ImageLimits& limits);

}  // namespace xai
