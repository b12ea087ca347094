// The perturbation core shared by the black-box methods (LIME, Kernel and Partition SHAP, occlusion,
// RISE): what hidden pixels show (fill modes), which regions are hidden (seeded mask
// sampling), and the class probabilities of a batch of masked images, asked of a classifier callback
// so that the core can be tested with a fake classifier and knows nothing of LibTorch.
#pragma once

#include <cstdint>
#include <functional>
#include <new>
#include <opencv2/core.hpp>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "xai/model_card.hpp"
#include "input/preprocess.hpp"
#include "xai/settings.hpp"

namespace xai {

class BatchTuner;
class Model;
struct Prediction;

// "mean", "constant", "blur", "blur(k,k)", "inpaint" / "inpaint_telea", "linear" / "road"; throws usage_error.
FillSpec parse_fill(const std::string& name);
std::string to_string(HideMode mode);
std::string to_string(const FillSpec& fill);  // parse_fill's spelling

// What hidden pixels show, in the layout of `view` (the model's view: RGB or gray, [0,1]).
// `segments` (CV_32SC1, labels 0..count-1) are the regions (a mean fill shows each region's own
// mean; pass one region for the image's mean colour). Throws usage_error for a bad colour, and
// for HideMode::inpaint and linear, whose fill depends on each sample's mask (perturbation_base).
cv::Mat fill_image(const cv::Mat& view, const cv::Mat& segments, int count, const FillSpec& fill);

// `view` with the pixels where `hidden` (CV_8UC1, non-zero) is set inpainted from the rest
// (Telea, radius 3, on 8-bit values as shap does); the result in [0,1] like `view`.
cv::Mat inpaint_hidden(const cv::Mat& view, const cv::Mat& hidden);

// `view` with the hidden pixels (CV_8UC1, non-zero) replaced by noisy linear imputation (ROAD): each
// the weighted mean of its 8 neighbours (edge neighbours 1/6, diagonals 1/12; those outside the
// image drop out), solved jointly over the hidden pixels, plus N(0, noise²) noise from `seed`
// (ROAD's default noise is 0.01). Everything hidden: the image's mean colour.
cv::Mat impute_hidden(const cv::Mat& view, const cv::Mat& hidden, double noise, uint64_t seed);
constexpr double kImputationNoise = 0.01;

// samples × features on/off matrix (row 0 all on), row-major, each other entry a fair coin from a
// seeded 64-bit Mersenne Twister (fully specified by the C++ standard: the same bits everywhere).
std::vector<uint8_t> sample_switches(int samples, int features, uint64_t seed);

// `count` elements of a pass's host buffer for `images` images of height × width; a buffer the host
// cannot hold is a DeviceMemoryError naming the batch and what to lower, as the device's is.
template <class T>
void resize_batch_buffer(std::vector<T>& buffer, size_t count, int images, int height, int width);

// A batch of images in the model's normalised CHW layout, one after another.
struct ImageBatch {
  int count = 0, channels = 0, height = 0, width = 0;
  const float* values = nullptr;  // count × channels × height × width
};

// Class probabilities of a batch: count × classes, row-major. The model's classifier applies the
// card's softmax or sigmoid (the one place logits become probabilities, model.cpp).
using ImageClassifier = std::function<std::vector<double>(const ImageBatch&)>;

// Class probabilities of `count` images fill + mask ⊙ (original − fill) over one base that the
// classifier already holds; `masks`: count × height × width.
using MaskClassifier = std::function<std::vector<double>(int count, const float* masks)>;

// What the perturbation methods ask. `images` classifies composed images. `on_base`, when set, takes
// a base once and classifies masks over it, composing the images where the model runs: the model's
// classifier keeps the base on its device, so a GPU receives only each batch's masks (a third of the
// images' bytes for RGB) and composes them itself. Without it the images are composed on the host.
struct Classifier {
  Classifier() = default;
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, Classifier> &&
                                              std::is_invocable_r_v<std::vector<double>, F&, const ImageBatch&>>>
  Classifier(F classify_images) : images(std::move(classify_images)) {}

  ImageClassifier images;
  std::function<MaskClassifier(const InputBlob& original, const InputBlob& fill)> on_base;
};

// `unperturbed`, when given, receives the model's prediction (logits included) for the first image
// of the first batch: the methods put the unperturbed image there, so it costs no extra forward pass.
Classifier model_classifier(Model& model, Prediction* unperturbed = nullptr);

// Writes the masks of samples [first, first + count): count × height × width values in [0,1],
// 1 showing the original pixel, 0 the fill.
using MaskWriter = std::function<void(int first, int count, float* masks)>;

// Sample 0 shows everything (the unperturbed image: the prediction, see model_classifier); sample
// s + 1 is sample s of `masks`. `pixels`: height × width.
MaskWriter with_original_first(MaskWriter masks, size_t pixels);

// Masks that show the regions a switch row turns on: pixel p of sample s is switches[s][segments(p)].
MaskWriter region_masks(const cv::Mat& segments, const std::vector<uint8_t>& switches, int features);

// What a perturbed image is made of, in the model's normalised layout: the original, and what hidden
// pixels show: a fixed fill image, or (inpainting) a fill computed from each sample's mask.
struct PerturbationBase {
  InputBlob original;
  InputBlob fill;  // empty when `mask_fill` is set
  // Writes the normalised fill for one mask (height × width values in [0,1], 1 = shown).
  std::function<void(const float* mask, float* fill)> mask_fill;
};

// The base for `view` (the model's view) with regions `segments` (for the mean fill).
PerturbationBase perturbation_base(const cv::Mat& view, const cv::Mat& segments, int count, const FillSpec& fill,
                                   const ModelCard& card);

struct MaskedProbabilities {
  std::vector<double> values;  // samples × classes, row-major
  int classes = 0;
  double model_ms = 0;         // time inside the classifier
};

// Called after each batch with the masks of samples [first, first + count) and their probabilities
// (count × classes): a method that needs the masks again (RISE sums them) reads them here instead of
// writing them twice.
using BatchObserver =
    std::function<void(int first, int count, const float* masks, const double* probabilities, int classes)>;

// The classifier's probabilities for `samples` images fill + mask ⊙ (original − fill), composed and
// classified `batch_size` at a time (memory: one batch of images). `batch_size` 0: as many as
// `tuner` says (measured per model), or kDefaultProbeBatch without one.
MaskedProbabilities masked_probabilities(const Classifier& classify, const InputBlob& original, const InputBlob& fill,
                                         int samples, const MaskWriter& masks, int batch_size,
                                         BatchTuner* tuner = nullptr);
// The same on a base whose fill may depend on the mask (inpainting).
MaskedProbabilities masked_probabilities(const Classifier& classify, const PerturbationBase& base, int samples,
                                         const MaskWriter& masks, int batch_size, BatchTuner* tuner = nullptr,
                                         const BatchObserver& observe = nullptr);
constexpr int kDefaultProbeBatch = 64;

[[noreturn]] void host_batch_out_of_memory(int images, int height, int width);

template <class T>
void resize_batch_buffer(std::vector<T>& buffer, size_t count, int images, int height, int width) {
  try {
    buffer.resize(count);
  } catch (const std::bad_alloc&) {
    host_batch_out_of_memory(images, height, width);
  } catch (const std::length_error&) {
    host_batch_out_of_memory(images, height, width);
  }
}

}  // namespace xai
