// Weighted ridge regression with an unpenalised intercept: the LIME surrogate model.
// Same estimator as scikit-learn's Ridge(alpha, fit_intercept=True).fit(X, y, sample_weight=w).
#pragma once

#include <opencv2/core.hpp>
#include <vector>

namespace xai {

struct RidgeFit {
  double intercept = 0;
  std::vector<double> coefficients;
  double r2 = 0;  // weighted coefficient of determination on the training data (sklearn's score)

  double predict(const double* row) const;
};

// X: CV_64FC1, samples × features; y and w: one value per sample, w ≥ 0 with a positive sum.
// Weighted centring removes the intercept from the penalty: with x̄ = Σw x / Σw and ȳ likewise,
// β = (Xcᵀ W Xc + α I)⁻¹ Xcᵀ W yc and intercept = ȳ − x̄·β.
RidgeFit weighted_ridge(const cv::Mat& X, const std::vector<double>& y, const std::vector<double>& w, double alpha);

}  // namespace xai
