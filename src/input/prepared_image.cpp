#include "xai/prepared_image.hpp"

#include <chrono>

#include "xai/sha256.hpp"

namespace xai {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

}  // namespace

PreparedImage prepare_image_bytes(const std::string& bytes, const std::string& sha256, const std::string& path,
                                  const ModelCard& card, const ImageLimits& limits) {
  PreparedImage prepared;
  prepared.path = path;
  auto t = Clock::now();
  ImageLimits reading = limits;
  if (card.window && reading.dicom.window_from != "--dicom-window") {  // the card's window unless --dicom-window
    reading.dicom.window = *card.window;
    reading.dicom.window_from = "card";
  }
  prepared.image = decode_image(bytes, path, reading, sha256);
  prepared.load_ms = ms_since(t);
  t = Clock::now();
  prepared.view = model_view(prepared.image, card);
  prepared.blob = normalise(prepared.view, card);
  prepared.preprocess_ms = ms_since(t);
  return prepared;
}

PreparedImage prepare_image(const std::string& path, const ModelCard& card, const ImageLimits& limits) {
  const auto t = Clock::now();
  const std::string bytes = read_image_bytes(path, limits);
  const double read_ms = ms_since(t);
  PreparedImage prepared = prepare_image_bytes(bytes, sha256_hex(bytes), path, card, limits);
  prepared.load_ms += read_ms;
  return prepared;
}

}  // namespace xai
