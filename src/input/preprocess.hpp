// Turning a decoded image into the tensor values a model expects (no LibTorch here:
// the model interface takes these plain CHW buffers).
#pragma once

#include <string>
#include <vector>

#include "xai/image.hpp"
#include "xai/model.hpp"
#include "xai/model_card.hpp"

namespace xai {

// 1. colour conversion to the card's channels (gray → RGB repeats the channel; RGB → gray uses
//    ITU-R 601 luma, as PIL's convert("L")); 2. resize to the card's input size: `stretch` straight
//    to it, `shorter-side` the shorter side to card.resized_side() and then a centre crop (as
//    torchvision's Resize(S) + CenterCrop), with the card's interpolation: `area` (OpenCV: area
//    averaging when shrinking, bilinear with half-pixel centres when enlarging) or `bilinear` /
//    `bicubic` as PIL (resample.hpp; 8-bit images are resampled in 8 bits, as PIL does);
//    3. (x - mean) / std.
InputBlob preprocess(const Image& image, const ModelCard& card);

// Steps 1 and 2 alone: the image as the model sees it before normalisation, CV_32FC1 or
// CV_32FC3 in RGB order, values in [0,1] (LIME segments and perturbs this).
cv::Mat model_view(const Image& image, const ModelCard& card);

// The part of an image of `image_size` that the model sees, in its pixels: the centre crop's footprint
// (rounded to whole pixels) for `shorter-side`, the whole image for `stretch`. Maps, overlays and
// masks cover this region.
cv::Rect visible_region(const cv::Size& image_size, const ModelCard& card);

// Whether two models see the same part of every image (both stretch, or the same crop geometry), so
// their maps can be compared pixel by pixel; throws usage_error naming `what` and both models when not.
void require_same_visible_region(const ModelCard& a, const ModelCard& b, const std::string& what,
                                 const std::string& name_a, const std::string& name_b);

// Step 3 alone, for a model_view image (or a perturbed copy of one).
InputBlob normalise(const cv::Mat& model_view_image, const ModelCard& card);

// A short human description of the steps above, for reports.
std::string describe_preprocessing(const Image& image, const ModelCard& card);

}  // namespace xai
