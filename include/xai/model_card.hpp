// What a model expects and what its outputs mean, read from NAME.json beside NAME.pt.
#pragma once

#include <array>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "xai/feature_layout.hpp"

namespace xai {

// How stored values become the image's [0, 1] range.
struct DicomWindow {
  enum class Kind {
    tags,        // the file's first Window Center/Width (the default; the value range when it has none)
    given,       // --dicom-window C,W (or a named preset)
    minmax,      // the frame's value range
    percentile,  // the P-th to (100−P)-th percentile of the frame: robust to a few extreme pixels
  };
  Kind kind = Kind::tags;
  double center = 0, width = 0;  // Kind::given
  double percentile = 0;         // Kind::percentile, in (0, 50)
  std::string preset;            // "brain", "lung", "bone", "soft-tissue" (Kind::given), for the report
};

// H&E stain normalisation (Macenko et al. 2009): an image's two stain colours and how strongly each is
// present, mapped onto a reference's, so that a model trained on one lab's staining sees another's as
// it was trained (src/input/stain.hpp).
// Two stains in optical density (unit vectors, RGB order) and the 99th percentile of each stain's
// concentration in the image they were estimated from.
struct StainVectors {
  std::array<double, 3> hematoxylin{};
  std::array<double, 3> eosin{};
  std::array<double, 2> max_concentrations{};
};

struct StainNormalization {
  std::string method = "macenko";
  std::string reference;        // where the target came from: an image's path, or "card"
  StainVectors target;          // the reference's stains
  std::optional<StainVectors> source;  // fixed source stains (a whole slide's); none: each image's own
};

enum class OutputKind {
  softmax,  // N logits, one class each, mutually exclusive
  sigmoid,  // independent logits; a single logit means a binary model (labels: negative, positive)
};

enum class ChannelMode { rgb, gray };

// How an image becomes the model's input size (preprocess.hpp).
enum class ResizeMode {
  stretch,       // straight to the input size (aspect ratio not kept)
  shorter_side,  // shorter side to `resize_to`, then a centre crop of the input size (torchvision's
                 // Resize(256) + CenterCrop(224))
};
enum class Interpolation {
  area,      // OpenCV: area averaging when shrinking, bilinear when enlarging (xai's original default)
  bilinear,  // PIL/torchvision BILINEAR (antialiased when shrinking)
  bicubic,   // PIL/torchvision BICUBIC
};

struct ModelCard {
  // Largest input side: an 8192x8192 input needs 14 GB and minutes per image; no classifier xai
  // explains is trained that large.
  static constexpr int kMaxInputSide = 4096;

  std::string name;
  std::vector<std::string> labels;  // empty: named class_0.. once the output size is known
  int input_height = 224;
  int input_width = 224;
  ChannelMode channels = ChannelMode::rgb;
  std::vector<float> mean{0.485f, 0.456f, 0.406f};  // ImageNet, per channel
  std::vector<float> std{0.229f, 0.224f, 0.225f};
  ResizeMode resize = ResizeMode::stretch;
  int resize_to = 0;  // shorter_side: the shorter side before the crop; 0: resized_side()'s default
  Interpolation interpolation = Interpolation::area;
  OutputKind output = OutputKind::softmax;
  // Which value of a forward() that returns several holds the class scores: a tuple's or list's index
  // ("1"), or a dictionary's key ("logits"). Empty: a tuple's first (with a warning); a dictionary refused.
  std::string output_element;
  // output_element as a tuple's or list's index, where it is one (digits, below 1024).
  std::optional<int> output_element_index() const;
  std::string target_layer;  // empty: choose automatically
  // DICOM inputs: the window the model was trained with ("window": {"center": 40, "width": 80}, or a
  // preset/"minmax"/"percentile:P" string), used when the command line gives no --dicom-window.
  std::optional<DicomWindow> window;
  // Transformers: the patch grid of token outputs ("tokens": {"grid": [14, 14], "prefix": 1}) when the
  // shape does not reveal it (feature_layout.hpp).
  std::optional<TokenGrid> tokens;
  // Whole slides: the microns per pixel the model was trained at ("mpp": 0.5); `xai slide` reads tiles
  // at this resolution unless --mpp or --level says otherwise.
  std::optional<double> mpp;
  // H&E stain normalisation before the model (--stain-normalize macenko --stain-reference IMAGE): each
  // image's stains mapped onto the reference's (a whole slide's estimated once, from its thumbnail).
  std::optional<StainNormalization> stain;
  std::string source;        // path of the card, or "" when defaults were used
  std::set<std::string> given;        // fields set by the card or the command line; the rest are defaults
  std::vector<std::string> warnings;  // unknown keys, defaulted statistics

  // What the card leaves to defaults, for warnings ("mean/std (ImageNet)"); empty when nothing.
  std::vector<std::string> defaulted() const;

  // Switches channel mode and resets mean/std to that mode's defaults (ImageNet for RGB, 0.5 for gray).
  void set_channels(ChannelMode mode);
  int channel_count() const { return channels == ChannelMode::rgb ? 3 : 1; }
  // Number of model outputs the labels imply (a binary sigmoid model has 2 labels, 1 output).
  std::optional<int> expected_outputs() const;
  // Whether a model with `outputs` outputs fits the labels: expected_outputs(), or for sigmoid with 2
  // labels also 2 outputs (a multi-label model: two independent sigmoids).
  bool fits_outputs(int outputs) const;
  // shorter_side: the side the shorter side is resized to: resize_to, or by default 8/7 of the input's
  // larger side (torchvision's 256 for 224, 342 for 299).
  int resized_side() const;
  // Throws model_error naming `source` when the card contradicts itself.
  void validate() const;
};

// Reads a card; throws model_error("PATH: ...") on a malformed or inconsistent card.
ModelCard read_model_card(const std::string& path);
// The same from the card's text (`path` names it in messages).
ModelCard parse_model_card(const std::string& text, const std::string& path);

// The card as JSON text (every field xai reads, stated: nothing left to defaults), for `xai card`;
// parse_model_card reads it back to the same card.
std::string model_card_text(const ModelCard& card);

// "tags", "minmax", "percentile:P", "C,W", or a CT preset (brain 40,80; lung −600,1500; bone 400,1800;
// soft-tissue 50,400). Throws usage_error.
DicomWindow parse_window(const std::string& text);

// A class named by its label (exact, then case-insensitive) or its index among `labels`. Throws
// usage_error "TEXT: not a class index or label (0=a, 1=b)" or "TEXT: out of range ..."; the caller
// says where TEXT came from.
int parse_class(const std::string& text, const std::vector<std::string>& labels);

// NAME.json beside NAME.pt, if it exists.
std::optional<std::string> card_path_for(const std::string& model_path);

std::string to_string(OutputKind kind);
std::string to_string(ChannelMode mode);
std::string to_string(Interpolation interpolation);
// "stretch" or "shorter-side:256" (the card's and --resize's spelling).
std::string resize_spec(const ModelCard& card);
OutputKind parse_output_kind(const std::string& text);    // throws usage_error
Interpolation parse_interpolation(const std::string& text);  // throws usage_error
// "stretch", "shorter-side" or "shorter-side:N" into the card (resize, resize_to; 0: the default size).
void parse_resize(const std::string& text, ModelCard& card);  // throws usage_error
ChannelMode parse_channel_mode(const std::string& text);  // throws usage_error

}  // namespace xai
