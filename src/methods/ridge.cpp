#include "methods/ridge.hpp"

#include "xai/error.hpp"

namespace xai {

double RidgeFit::predict(const double* row) const {
  double value = intercept;
  for (size_t j = 0; j < coefficients.size(); ++j) value += coefficients[j] * row[j];
  return value;
}

RidgeFit weighted_ridge(const cv::Mat& X, const std::vector<double>& y, const std::vector<double>& w, double alpha) {
  CV_Assert(X.type() == CV_64FC1 && static_cast<size_t>(X.rows) == y.size() && y.size() == w.size());
  const int n = X.rows, p = X.cols;
  double weight_sum = 0;
  for (double v : w) weight_sum += v;
  if (!(weight_sum > 0)) throw Error(ExitCode::internal, "ridge regression needs a positive total weight");

  // Weighted means.
  std::vector<double> x_mean(p, 0.0);
  double y_mean = 0;
  for (int i = 0; i < n; ++i) {
    const double* row = X.ptr<double>(i);
    for (int j = 0; j < p; ++j) x_mean[j] += w[i] * row[j];
    y_mean += w[i] * y[i];
  }
  for (double& m : x_mean) m /= weight_sum;
  y_mean /= weight_sum;

  // Normal equations on centred data: (Xcᵀ W Xc + αI) β = Xcᵀ W yc.
  cv::Mat gram = cv::Mat::zeros(p, p, CV_64FC1), rhs = cv::Mat::zeros(p, 1, CV_64FC1);
  std::vector<double> centred(p);
  for (int i = 0; i < n; ++i) {
    const double* row = X.ptr<double>(i);
    for (int j = 0; j < p; ++j) centred[j] = row[j] - x_mean[j];
    const double yc = y[i] - y_mean;
    for (int a = 0; a < p; ++a) {
      const double wa = w[i] * centred[a];
      double* g = gram.ptr<double>(a);
      for (int b = a; b < p; ++b) g[b] += wa * centred[b];
      rhs.at<double>(a) += wa * yc;
    }
  }
  for (int a = 0; a < p; ++a) {
    for (int b = 0; b < a; ++b) gram.at<double>(a, b) = gram.at<double>(b, a);
    gram.at<double>(a, a) += alpha;
  }
  cv::Mat beta;
  // Symmetric positive definite for α > 0: Cholesky; SVD as a fallback for α = 0.
  if (!cv::solve(gram, rhs, beta, cv::DECOMP_CHOLESKY)) cv::solve(gram, rhs, beta, cv::DECOMP_SVD);

  RidgeFit fit;
  fit.coefficients.assign(beta.begin<double>(), beta.end<double>());
  fit.intercept = y_mean;
  for (int j = 0; j < p; ++j) fit.intercept -= x_mean[j] * fit.coefficients[j];

  double residual = 0, total = 0;
  for (int i = 0; i < n; ++i) {
    const double e = y[i] - fit.predict(X.ptr<double>(i));
    residual += w[i] * e * e;
    total += w[i] * (y[i] - y_mean) * (y[i] - y_mean);
  }
  // sklearn's r2_score: 1 - SS_res/SS_tot, and 1.0 for a perfect fit of a constant target.
  fit.r2 = total > 0 ? 1.0 - residual / total : (residual > 0 ? 0.0 : 1.0);
  return fit;
}

}  // namespace xai
