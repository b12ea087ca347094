#include "core/image_geometry.hpp"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

namespace xai {

cv::Size fitted_size(const cv::Size& size, int longest) {
  const double f = static_cast<double>(longest) / std::max(size.width, size.height);
  return {std::max(1, static_cast<int>(std::lround(size.width * f))),
          std::max(1, static_cast<int>(std::lround(size.height * f)))};
}

cv::Mat shrink_to_fit(const cv::Mat& image, int longest, int interpolation) {
  if (longest <= 0 || std::max(image.cols, image.rows) <= longest) return image;
  cv::Mat reduced;
  cv::resize(image, reduced, fitted_size(image.size(), longest), 0, 0, interpolation);
  return reduced;
}

}  // namespace xai
