// Macenko's stain estimation and normalisation (Macenko et al., "A method for normalizing histology
// slides for quantitative analysis", ISBI 2009), with the constants every implementation uses:
// light intensity Io 240, optical density threshold beta 0.15, angle percentiles alpha 1 and 99,
// concentrations' 99th percentile. Checked against tests/reference/macenko_reference.py (numpy).
#pragma once

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "xai/model_card.hpp"

namespace xai {

// The stains of an image (CV_32FC3 BGR in [0,1], as decoded), from its pixels whose optical density
// is at least beta in every channel (glass and white gaps are left out); `tissue` (CV_8UC1, same size,
// optional) restricts them further. Throws input_error naming `what` when fewer than 100 pixels are
// stained.
StainVectors estimate_stains(const cv::Mat& bgr, const std::string& what, const cv::Mat& tissue = cv::Mat());

// `bgr` with its stains (`source`) replaced by `target`'s: concentrations scaled by the ratio of the
// maximum concentrations, recomposed with the target's vectors, clipped to [0,1].
cv::Mat normalise_stains(const cv::Mat& bgr, const StainVectors& source, const StainVectors& target);

// Macenko normalisation onto the stains of the image at `reference_path` (any image xai reads).
// Throws input_error naming the file when it cannot be read or has too little stained tissue.
StainNormalization macenko_reference(const std::string& reference_path);

nlohmann::ordered_json stain_json(const StainVectors& stains);
nlohmann::ordered_json stain_json(const StainNormalization& normalization);

}  // namespace xai
