#include "input/stain.hpp"

#include <opencv2/core.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include "xai/error.hpp"
#include "xai/image.hpp"

namespace xai {
namespace {

constexpr double kLight = 240;        // Io: the light through glass, as 8-bit intensity
constexpr double kMinDensity = 0.15;  // beta: pixels below it in any channel are not stained
constexpr double kAnglePercentile = 1;  // alpha: robust extremes of the stains' angles
constexpr double kMaxConcentrationPercentile = 99;
constexpr size_t kMinStainedPixels = 100;

// numpy.percentile's default (linear interpolation between the closest ranks).
double percentile(std::vector<double> values, double q) {
  const double position = q / 100.0 * (values.size() - 1);
  const size_t below = static_cast<size_t>(std::floor(position));
  std::nth_element(values.begin(), values.begin() + below, values.end());
  const double low = values[below];
  if (below + 1 >= values.size()) return low;
  const double high = *std::min_element(values.begin() + below + 1, values.end());
  return low + (position - below) * (high - low);
}

// Optical density per pixel, RGB order, of the pixels `tissue` marks (all when empty).
std::vector<cv::Vec3d> optical_densities(const cv::Mat& bgr, const cv::Mat& tissue) {
  CV_Assert(bgr.type() == CV_32FC3);
  std::vector<cv::Vec3d> od;
  od.reserve(bgr.total());
  for (int y = 0; y < bgr.rows; ++y) {
    const cv::Vec3f* row = bgr.ptr<cv::Vec3f>(y);
    const uchar* keep = tissue.empty() ? nullptr : tissue.ptr<uchar>(y);
    for (int x = 0; x < bgr.cols; ++x) {
      if (keep && !keep[x]) continue;
      cv::Vec3d d;
      for (int c = 0; c < 3; ++c) d[c] = -std::log((row[x][2 - c] * 255.0 + 1.0) / kLight);
      od.push_back(d);
    }
  }
  return od;
}

// Least squares of OD = [h e] c: the 2x3 pseudo-inverse of the stain matrix.
cv::Matx23d pseudo_inverse(const cv::Vec3d& h, const cv::Vec3d& e) {
  const cv::Matx32d stains(h[0], e[0], h[1], e[1], h[2], e[2]);
  return (stains.t() * stains).inv() * stains.t();
}

cv::Vec3d to_vec(const std::array<double, 3>& a) { return {a[0], a[1], a[2]}; }

}  // namespace

StainVectors estimate_stains(const cv::Mat& bgr, const std::string& what, const cv::Mat& tissue) {
  const std::vector<cv::Vec3d> od = optical_densities(bgr, tissue);
  std::vector<cv::Vec3d> stained;
  for (const auto& d : od)
    if (d[0] >= kMinDensity && d[1] >= kMinDensity && d[2] >= kMinDensity) stained.push_back(d);
  if (stained.size() < kMinStainedPixels)
    throw input_error(what + ": too little stained tissue to estimate its stains (" + std::to_string(stained.size()) +
                      " pixels with an optical density of at least 0.15; at least " + std::to_string(kMinStainedPixels) +
                      " are needed)");
  // The plane of the two largest principal directions of the stained pixels' optical densities.
  cv::Mat samples(static_cast<int>(stained.size()), 3, CV_64FC1, stained.data());
  cv::Mat covariance, mean, eigenvalues, eigenvectors;
  cv::calcCovarMatrix(samples, covariance, mean, cv::COVAR_NORMAL | cv::COVAR_ROWS | cv::COVAR_SCALE, CV_64F);
  cv::eigen(covariance, eigenvalues, eigenvectors);  // descending; rows are the vectors
  cv::Vec3d largest(eigenvectors.ptr<double>(0)), second(eigenvectors.ptr<double>(1));
  // An eigenvector's sign is arbitrary: both point towards positive red density.
  if (largest[0] < 0) largest = -largest;
  if (second[0] < 0) second = -second;
  std::vector<double> angles;
  angles.reserve(stained.size());
  for (const auto& d : stained) angles.push_back(std::atan2(d.dot(largest), d.dot(second)));
  const double low = percentile(angles, kAnglePercentile), high = percentile(angles, 100 - kAnglePercentile);
  const cv::Vec3d at_low = second * std::cos(low) + largest * std::sin(low);
  const cv::Vec3d at_high = second * std::cos(high) + largest * std::sin(high);
  // Haematoxylin absorbs more red than eosin does.
  const cv::Vec3d h = at_low[0] > at_high[0] ? at_low : at_high, e = at_low[0] > at_high[0] ? at_high : at_low;
  const cv::Matx23d solve = pseudo_inverse(h, e);
  std::vector<double> h_amount, e_amount;
  h_amount.reserve(od.size()), e_amount.reserve(od.size());
  for (const auto& d : od) {
    const cv::Vec2d c = solve * d;
    h_amount.push_back(c[0]), e_amount.push_back(c[1]);
  }
  StainVectors stains;
  for (int c = 0; c < 3; ++c) stains.hematoxylin[c] = h[c], stains.eosin[c] = e[c];
  stains.max_concentrations = {percentile(h_amount, kMaxConcentrationPercentile),
                               percentile(e_amount, kMaxConcentrationPercentile)};
  return stains;
}

cv::Mat normalise_stains(const cv::Mat& bgr, const StainVectors& source, const StainVectors& target) {
  CV_Assert(bgr.type() == CV_32FC3);
  const cv::Matx23d solve = pseudo_inverse(to_vec(source.hematoxylin), to_vec(source.eosin));
  const cv::Vec3d h = to_vec(target.hematoxylin), e = to_vec(target.eosin);
  const double h_scale = target.max_concentrations[0] / source.max_concentrations[0];
  const double e_scale = target.max_concentrations[1] / source.max_concentrations[1];
  cv::Mat out(bgr.size(), CV_32FC3);
  for (int y = 0; y < bgr.rows; ++y) {
    const cv::Vec3f* in_row = bgr.ptr<cv::Vec3f>(y);
    cv::Vec3f* out_row = out.ptr<cv::Vec3f>(y);
    for (int x = 0; x < bgr.cols; ++x) {
      cv::Vec3d d;
      for (int c = 0; c < 3; ++c) d[c] = -std::log((in_row[x][2 - c] * 255.0 + 1.0) / kLight);
      const cv::Vec2d amount = solve * d;
      const cv::Vec3d density = h * (amount[0] * h_scale) + e * (amount[1] * e_scale);
      for (int c = 0; c < 3; ++c)
        out_row[x][2 - c] = static_cast<float>(std::clamp(kLight * std::exp(-density[c]), 0.0, 255.0) / 255.0);
    }
  }
  return out;
}

StainNormalization macenko_reference(const std::string& reference_path) {
  const Image reference = load_image(reference_path);
  if (reference.is_gray())
    throw input_error(reference_path + ": a stain reference must be a colour (H&E) image; this one is grayscale");
  StainNormalization normalization;
  normalization.reference = reference_path;
  normalization.target = estimate_stains(reference.pixels, reference_path);
  return normalization;
}

nlohmann::ordered_json stain_json(const StainVectors& stains) {
  return {{"hematoxylin", stains.hematoxylin}, {"eosin", stains.eosin}, {"max_concentrations", stains.max_concentrations}};
}

nlohmann::ordered_json stain_json(const StainNormalization& normalization) {
  nlohmann::ordered_json j = {{"method", normalization.method},
                              {"reference", normalization.reference},
                              {"target", stain_json(normalization.target)}};
  j["source"] = normalization.source ? stain_json(*normalization.source) : nlohmann::ordered_json("each image's own");
  return j;
}

}  // namespace xai
