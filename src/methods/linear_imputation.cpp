// Noisy linear imputation (Rong et al. 2022, "A Consistent and Efficient Evaluation Strategy for
// Attribution Methods", ROAD): hidden pixels are filled so that each is the weighted mean of its eight
// neighbours — shown or hidden — and a little noise is added. The fill carries no trace of the mask's
// shape, which mean or constant fills leak to the model (the class can be read from where pixels were
// removed). One sparse symmetric system per mask, all channels at once.
#include <Eigen/SparseCholesky>
#include <Eigen/SparseCore>
#include <random>
#include <vector>

#include "xai/error.hpp"
#include "methods/perturbation.hpp"

namespace xai {

cv::Mat impute_hidden(const cv::Mat& view, const cv::Mat& hidden, double noise, uint64_t seed) {
  CV_Assert((view.type() == CV_32FC1 || view.type() == CV_32FC3) && hidden.type() == CV_8UC1 &&
            hidden.size() == view.size());
  const int rows = view.rows, cols = view.cols, channels = view.channels();
  std::vector<int> unknown(static_cast<size_t>(rows) * cols, -1);  // pixel → unknown index, −1 when shown
  std::vector<int> pixel_of;
  for (int y = 0; y < rows; ++y)
    for (int x = 0; x < cols; ++x)
      if (hidden.at<uchar>(y, x)) {
        unknown[static_cast<size_t>(y) * cols + x] = static_cast<int>(pixel_of.size());
        pixel_of.push_back(y * cols + x);
      }
  cv::Mat out = view.clone();
  const int n = static_cast<int>(pixel_of.size());
  if (n == 0) return out;
  if (n == rows * cols) {
    // Nothing shown to impute from: the image's mean colour (the system would be singular).
    out.setTo(cv::mean(view));
    return out;
  }
  // Row i: Σ_valid w · x_i − Σ_hidden w · x_j = Σ_shown w · v_j, with w 1/6 for the four edge neighbours
  // and 1/12 for the diagonals (neighbours outside the image drop out). Symmetric, and positive definite
  // because every hidden area borders a shown pixel.
  static const int dy[8] = {-1, 1, 0, 0, -1, -1, 1, 1};
  static const int dx[8] = {0, 0, -1, 1, -1, 1, -1, 1};
  static const double weight[8] = {1.0 / 6, 1.0 / 6, 1.0 / 6, 1.0 / 6, 1.0 / 12, 1.0 / 12, 1.0 / 12, 1.0 / 12};
  std::vector<Eigen::Triplet<double>> entries;
  entries.reserve(static_cast<size_t>(n) * 9);
  Eigen::MatrixXd rhs = Eigen::MatrixXd::Zero(n, channels);
  for (int i = 0; i < n; ++i) {
    const int y = pixel_of[i] / cols, x = pixel_of[i] % cols;
    double diagonal = 0;
    for (int k = 0; k < 8; ++k) {
      const int ny = y + dy[k], nx = x + dx[k];
      if (ny < 0 || ny >= rows || nx < 0 || nx >= cols) continue;
      diagonal += weight[k];
      const int j = unknown[static_cast<size_t>(ny) * cols + nx];
      if (j >= 0) {
        entries.emplace_back(i, j, -weight[k]);
      } else {
        const float* v = view.ptr<float>(ny) + static_cast<size_t>(nx) * channels;
        for (int c = 0; c < channels; ++c) rhs(i, c) += weight[k] * v[c];
      }
    }
    entries.emplace_back(i, i, diagonal);
  }
  Eigen::SparseMatrix<double> system(n, n);
  system.setFromTriplets(entries.begin(), entries.end());
  Eigen::SimplicialLDLT<Eigen::SparseMatrix<double>> solver(system);
  if (solver.info() != Eigen::Success) throw Error(ExitCode::internal, "linear imputation: the system did not factorise");
  const Eigen::MatrixXd solution = solver.solve(rhs);
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> gaussian(0.0, noise);
  for (int i = 0; i < n; ++i) {
    float* v = out.ptr<float>(pixel_of[i] / cols) + static_cast<size_t>(pixel_of[i] % cols) * channels;
    for (int c = 0; c < channels; ++c) v[c] = static_cast<float>(solution(i, c) + (noise > 0 ? gaussian(rng) : 0.0));
  }
  return out;
}

}  // namespace xai
