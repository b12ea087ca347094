// Class activation maps on any named layer of a TorchScript model: Grad-CAM, Grad-CAM++, XGrad-CAM,
// HiResCAM, LayerCAM, EigenCAM, Score-CAM and Ablation-CAM on one shared engine.
#pragma once

#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "xai/model.hpp"
#include "methods/target.hpp"
#include "xai/settings.hpp"

namespace xai {

struct LayerMap {
  std::string layer;
  cv::Mat map;                            // CV_32FC1 in [0,1] at the layer's resolution
  std::vector<int64_t> activation_shape;  // [C, h, w] of the captured activation (as a feature map)
  std::string reshape;                    // how a transformer's output became it ("" for (N,C,H,W))
  int calls = 0;                          // the module ran this often; the last call is explained
  bool constant = false;                  // the raw map was constant (e.g. all zero after ReLU)
  // The map before normalisation spans [raw_min, raw_max] (after ReLU): maps of different images on one
  // scale (a slide's tiles) are raw_min + map * (raw_max - raw_min).
  double raw_min = 0, raw_max = 0;
};

struct TargetExplanation {
  int class_index = 0;
  float score = 0;  // the explained quantity: a logit (negated for a binary model's negative class)
  std::vector<LayerMap> maps;  // one per requested layer
};

struct CamExplanation {
  Prediction prediction;
  std::vector<TargetExplanation> targets;  // one per explained class, in rank order
  // Where the pass that captured the layer ran: "staged" (cut at the layer: model/staged_capture.hpp) or
  // "module as loaded" (the capture clone).
  std::string capture;
};

// One forward pass for the whole batch, then one gradient pass per target rank that runs only
// from the scores back to the captured activations.
std::vector<CamExplanation> explain_cam(Model& model, const std::vector<InputBlob>& batch,
                                        const CamRequest& request);

// Bilinear resize with half-pixel centres (OpenCV's INTER_LINEAR; PyTorch's align_corners=False).
cv::Mat upsample_map(const cv::Mat& map, int width, int height);

}  // namespace xai
