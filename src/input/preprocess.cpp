#include "input/preprocess.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "xai/error.hpp"
#include "input/resample.hpp"

namespace xai {
namespace {

int area_interpolation(const cv::Size& from, const cv::Size& to) {
  // Area averaging is OpenCV's anti-aliased shrink; bilinear for everything else.
  return (to.width <= from.width && to.height <= from.height) ? cv::INTER_AREA : cv::INTER_LINEAR;
}

// The size the whole image is resized to before any crop. shorter_side follows torchvision's
// Resize(int): the shorter side becomes S, the longer int(S * long / short) (truncated, as Python's int()).
cv::Size resized_size(const cv::Size& image, const ModelCard& card) {
  if (card.resize == ResizeMode::stretch) return {card.input_width, card.input_height};
  const long long s = card.resized_side();
  const long long shorter = std::min(image.width, image.height), longer = std::max(image.width, image.height);
  const int scaled = static_cast<int>(static_cast<double>(s * longer) / static_cast<double>(shorter));
  return image.width <= image.height ? cv::Size(static_cast<int>(s), scaled) : cv::Size(scaled, static_cast<int>(s));
}

// torchvision's CenterCrop offsets: int(round((size - crop) / 2)), Python rounding halves to even.
cv::Rect centre_crop(const cv::Size& resized, const ModelCard& card) {
  const int top = static_cast<int>(std::nearbyint((resized.height - card.input_height) / 2.0));
  const int left = static_cast<int>(std::nearbyint((resized.width - card.input_width) / 2.0));
  return {left, top, card.input_width, card.input_height};
}

// Whether the image holds exactly the 8-bit values it was stored with (so PIL's 8-bit resampling,
// which rounds between its passes, can be reproduced bit for bit).
bool eight_bit_source(const Image& image) { return image.source_bit_depth == 8 && !image.dicom; }

// The image in the card's channels, RGB order: 8-bit when `eight_bit`, else [0,1] floats.
cv::Mat card_channels(const Image& image, const ModelCard& card, bool eight_bit) {
  cv::Mat pixels = image.pixels;
  if (eight_bit) image.pixels.convertTo(pixels, CV_8U, 255.0);  // exact: the values are k/255
  cv::Mat converted;
  if (card.channels == ChannelMode::rgb) {
    cv::cvtColor(pixels, converted, image.is_gray() ? cv::COLOR_GRAY2RGB : cv::COLOR_BGR2RGB);
  } else if (image.is_gray()) {
    converted = pixels;
  } else if (eight_bit) {
    // PIL's convert("L"): ITU-R 601 luma in 16-bit fixed point, rounded.
    converted.create(pixels.size(), CV_8UC1);
    for (int y = 0; y < pixels.rows; ++y) {
      const cv::Vec3b* in = pixels.ptr<cv::Vec3b>(y);
      uchar* out = converted.ptr<uchar>(y);
      for (int x = 0; x < pixels.cols; ++x)  // BGR order
        out[x] = static_cast<uchar>((in[x][2] * 19595 + in[x][1] * 38470 + in[x][0] * 7471 + 0x8000) >> 16);
    }
  } else {
    cv::cvtColor(pixels, converted, cv::COLOR_BGR2GRAY);
  }
  return converted;
}

cv::Mat resize_to(const cv::Mat& image, const cv::Size& size, Interpolation interpolation) {
  if (image.size() == size) return image;
  if (interpolation == Interpolation::area) {
    cv::Mat resized;
    cv::resize(image, resized, size, 0, 0, area_interpolation(image.size(), size));
    return resized;
  }
  return resample_like_pil(image, size,
                           interpolation == Interpolation::bicubic ? ResampleFilter::bicubic : ResampleFilter::bilinear);
}

}  // namespace

cv::Rect visible_region(const cv::Size& image, const ModelCard& card) {
  if (card.resize == ResizeMode::stretch) return {0, 0, image.width, image.height};
  const cv::Size resized = resized_size(image, card);
  const cv::Rect crop = centre_crop(resized, card);
  const double sx = static_cast<double>(image.width) / resized.width, sy = static_cast<double>(image.height) / resized.height;
  const int x0 = static_cast<int>(std::lround(crop.x * sx)), x1 = static_cast<int>(std::lround(crop.br().x * sx));
  const int y0 = static_cast<int>(std::lround(crop.y * sy)), y1 = static_cast<int>(std::lround(crop.br().y * sy));
  const cv::Rect region(x0, y0, std::max(1, x1 - x0), std::max(1, y1 - y0));
  return region & cv::Rect(0, 0, image.width, image.height);
}

void require_same_visible_region(const ModelCard& a, const ModelCard& b, const std::string& what,
                                 const std::string& name_a, const std::string& name_b) {
  const auto geometry = [](const ModelCard& c) {
    return c.resize == ResizeMode::stretch ? std::string("the whole image (resize stretch)")
                                           : "a centre crop (resize " + resize_spec(c) + ", input " +
                                                 std::to_string(c.input_height) + "x" + std::to_string(c.input_width) + ")";
  };
  if (geometry(a) == geometry(b)) return;
  throw usage_error(what + ": " + name_a + " sees " + geometry(a) + " and " + name_b + " sees " + geometry(b) +
                    ": their maps cover different parts of the image and cannot be compared pixel by pixel "
                    "(give both the same " + setting_name("resize") + " and " + setting_name("input_size") + ")");
}

cv::Mat model_view(const Image& image, const ModelCard& card) {
  const bool eight_bit = card.interpolation != Interpolation::area && eight_bit_source(image);
  const cv::Mat converted = card_channels(image, card, eight_bit);
  cv::Mat view = resize_to(converted, resized_size(converted.size(), card), card.interpolation);
  if (card.resize == ResizeMode::shorter_side) view = view(centre_crop(view.size(), card));
  cv::Mat out;
  view.convertTo(out, CV_32F, eight_bit ? 1.0 / 255.0 : 1.0);  // a copy: never a view into the image
  return out;
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
  const cv::Size from(image.width(), image.height()), to = resized_size(from, card);
  if (card.stain)
    out << "stains (" << card.stain->method << ") " << (card.stain->source ? "of the slide" : "of the image")
        << " -> the reference's; ";
  out << (image.is_gray() ? "gray" : "rgb") << "->" << to_string(card.channels) << "; ";
  if (from == to) {
    out << "no resize";
  } else {
    out << "resize " << from.width << "x" << from.height << "->" << to.width << "x" << to.height;
    if (card.interpolation == Interpolation::area)
      out << (area_interpolation(from, to) == cv::INTER_AREA ? " (area)" : " (bilinear)");
    else
      out << " (" << to_string(card.interpolation) << ", as PIL" << (eight_bit_source(image) ? ", 8-bit" : "") << ")";
  }
  if (card.resize == ResizeMode::shorter_side) {
    const cv::Rect crop = centre_crop(to, card);
    out << "; centre crop " << crop.width << "x" << crop.height << " at " << crop.x << "," << crop.y;
  }
  out << "; (x-mean)/std";
  return out.str();
}

}  // namespace xai
