#include "xai/prepared_image.hpp"

#include <chrono>

#include "core/sha256.hpp"
#include "input/preprocess.hpp"
#include "input/stain.hpp"
#include "xai/error.hpp"

namespace xai {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// The card's stain normalisation, on the decoded image: everything after it (the model's view, the
// display, the maps' background) sees the normalised colours.
void apply_stain_normalization(Image& image, const StainNormalization& stain) {
  if (image.is_gray())
    throw input_error(image.path + ": stain normalisation needs a colour (H&E) image; this one is grayscale");
  const StainVectors source = stain.source ? *stain.source : estimate_stains(image.pixels, image.path);
  image.pixels = normalise_stains(image.pixels, source, stain.target);
  image.stain_source = source;
}

}  // namespace

PreparedImage prepare_image_bytes(const std::string& bytes, const std::string& sha256, const std::string& path,
                                  const ModelCard& card, const ImageLimits& limits) {
  const auto t = Clock::now();
  ImageLimits reading = limits;
  if (card.window && reading.dicom.window_from != "option") {  // the card's window unless the caller gave one
    reading.dicom.window = *card.window;
    reading.dicom.window_from = "card";
  }
  Image image = decode_image(bytes, path, reading, sha256);
  const double load_ms = ms_since(t);
  PreparedImage prepared = prepare_decoded(std::move(image), card);
  prepared.path = path;
  prepared.load_ms = load_ms;
  return prepared;
}

PreparedImage prepare_decoded(Image image, const ModelCard& card) {
  PreparedImage prepared;
  prepared.path = image.path;
  const auto t = Clock::now();
  prepared.image = std::move(image);
  if (card.stain) apply_stain_normalization(prepared.image, *card.stain);
  prepared.view = model_view(prepared.image, card);
  prepared.visible = visible_region(prepared.image.pixels.size(), card);
  prepared.blob = normalise(prepared.view, card);
  prepared.preprocess_ms = ms_since(t);
  return prepared;
}

cv::Mat visible_part(const cv::Mat& original_sized, const PreparedImage& image) {
  const cv::Rect whole(0, 0, original_sized.cols, original_sized.rows);
  if (image.visible.empty() || image.visible == whole) return original_sized;
  return original_sized(image.visible & whole).clone();
}

cv::Size display_size(const PreparedImage& image) {
  return image.visible.empty() ? image.image.pixels.size() : image.visible.size();
}

cv::Mat display_bgr(const PreparedImage& image) { return visible_part(to_display_bgr(image.image), image); }

PreparedImage prepare_image(const std::string& path, const ModelCard& card, const ImageLimits& limits) {
  const auto t = Clock::now();
  const std::string bytes = read_image_bytes(path, limits);
  const double read_ms = ms_since(t);
  PreparedImage prepared = prepare_image_bytes(bytes, sha256_hex(bytes), path, card, limits);
  prepared.load_ms += read_ms;
  return prepared;
}

}  // namespace xai
