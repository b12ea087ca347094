#include "xai/preprocess.hpp"

#include <opencv2/imgproc.hpp>
#include <sstream>

namespace xai {
namespace {

int resize_interpolation(const cv::Size& from, const cv::Size& to) {
  // Area averaging is OpenCV's anti-aliased shrink; bilinear for everything else.
  return (to.width <= from.width && to.height <= from.height) ? cv::INTER_AREA : cv::INTER_LINEAR;
}

}  // namespace

cv::Mat model_view(const Image& image, const ModelCard& card) {
  cv::Mat converted;
  if (card.channels == ChannelMode::rgb) {
    if (image.is_gray())
      cv::cvtColor(image.pixels, converted, cv::COLOR_GRAY2RGB);
    else
      cv::cvtColor(image.pixels, converted, cv::COLOR_BGR2RGB);
  } else {
    if (image.is_gray())
      converted = image.pixels;
    else
      cv::cvtColor(image.pixels, converted, cv::COLOR_BGR2GRAY);
  }
  const cv::Size target(card.input_width, card.input_height);
  if (converted.size() == target) return converted.clone();
  cv::Mat resized;
  cv::resize(converted, resized, target, 0, 0, resize_interpolation(converted.size(), target));
  return resized;
}

InputBlob normalise(const cv::Mat& view, const ModelCard& card) {
  InputBlob blob;
  blob.channels = view.channels();
  blob.height = view.rows;
  blob.width = view.cols;
  blob.values.resize(static_cast<size_t>(blob.channels) * blob.height * blob.width);
  std::vector<cv::Mat> planes;
  cv::split(view, planes);
  const size_t plane_size = static_cast<size_t>(blob.height) * blob.width;
  for (int c = 0; c < blob.channels; ++c) {
    // Wrap the destination plane and let OpenCV do the affine normalisation in place.
    cv::Mat dst(blob.height, blob.width, CV_32FC1, blob.values.data() + c * plane_size);
    planes[c].convertTo(dst, CV_32F, 1.0 / card.std[c], -card.mean[c] / card.std[c]);
  }
  return blob;
}

InputBlob preprocess(const Image& image, const ModelCard& card) { return normalise(model_view(image, card), card); }

std::string describe_preprocessing(const Image& image, const ModelCard& card) {
  std::ostringstream out;
  const cv::Size from(image.width(), image.height()), to(card.input_width, card.input_height);
  out << (image.is_gray() ? "gray" : "rgb") << "->" << to_string(card.channels) << "; ";
  if (from == to)
    out << "no resize";
  else
    out << "resize " << from.width << "x" << from.height << "->" << to.width << "x" << to.height
        << (resize_interpolation(from, to) == cv::INTER_AREA ? " (area)" : " (bilinear)");
  out << "; (x-mean)/std";
  return out.str();
}

}  // namespace xai
