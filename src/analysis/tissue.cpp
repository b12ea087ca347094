#include "analysis/tissue.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

namespace xai {

TissueMask detect_tissue(const cv::Mat& thumbnail_bgr, double min_saturation, double hole_fraction,
                         double speck_fraction, double max_speck_pixels, std::optional<double> fixed_threshold) {
  CV_Assert(thumbnail_bgr.type() == CV_8UC3 && !thumbnail_bgr.empty());
  cv::Mat hsv;
  cv::cvtColor(thumbnail_bgr, hsv, cv::COLOR_BGR2HSV);
  cv::Mat saturation;
  cv::extractChannel(hsv, saturation, 1);
  TissueMask out;
  cv::Mat ignored;
  out.threshold = fixed_threshold ? *fixed_threshold
                                  : std::max(min_saturation, cv::threshold(saturation, ignored, 0, 255,
                                                                           cv::THRESH_BINARY | cv::THRESH_OTSU));
  cv::Mat mask = saturation > out.threshold;
  const double area = static_cast<double>(mask.total());
  // Holes: background components (of the inverted mask) that do not touch the border and are small.
  auto small_components = [&](const cv::Mat& binary, double limit, bool keep_border) {
    cv::Mat labels, stats, centroids;
    const int n = cv::connectedComponentsWithStats(binary, labels, stats, centroids, 8, CV_32S);
    // Which labels are small, then one pass over the pixels (a mask per component would cost
    // components x pixels: seconds on a noisy thumbnail).
    std::vector<uchar> is_small(n, 0);
    for (int i = 1; i < n; ++i) {
      const int x = stats.at<int>(i, cv::CC_STAT_LEFT), y = stats.at<int>(i, cv::CC_STAT_TOP);
      const int w = stats.at<int>(i, cv::CC_STAT_WIDTH), h = stats.at<int>(i, cv::CC_STAT_HEIGHT);
      const bool border = x == 0 || y == 0 || x + w == binary.cols || y + h == binary.rows;
      is_small[i] = stats.at<int>(i, cv::CC_STAT_AREA) < limit && !(keep_border && border) ? 255 : 0;
    }
    cv::Mat small(binary.size(), CV_8UC1);
    for (int y = 0; y < labels.rows; ++y) {
      const int* in = labels.ptr<int>(y);
      uchar* out = small.ptr<uchar>(y);
      for (int x = 0; x < labels.cols; ++x) out[x] = is_small[in[x]];
    }
    return small;
  };
  mask.setTo(255, small_components(~mask, hole_fraction * area, true));
  mask.setTo(0, small_components(mask, std::min(speck_fraction * area, max_speck_pixels), false));
  out.mask = mask;
  out.fraction = cv::countNonZero(mask) / area;
  return out;
}

std::vector<Tile> tissue_tiles(int64_t width, int64_t height, double downsample, int tile, int stride,
                               const cv::Mat& mask, double mask_downsample, double min_tissue, SkippedTiles* skipped) {
  CV_Assert(tile > 0 && stride > 0 && downsample >= 1 && mask_downsample > 0 && mask.type() == CV_8UC1);
  const int64_t level_w = static_cast<int64_t>(width / downsample), level_h = static_cast<int64_t>(height / downsample);
  std::vector<Tile> tiles;
  cv::Mat integral;
  cv::integral(mask / 255, integral, CV_64F);  // tissue pixel counts of any rectangle in O(1)
  int row = 0;
  for (int64_t ly = 0; ly + tile <= level_h; ly += stride, ++row) {
    int column = 0;
    for (int64_t lx = 0; lx + tile <= level_w; lx += stride, ++column) {
      // The tile's footprint on the mask, at least one mask pixel.
      const double scale = downsample / mask_downsample;
      int mx0 = static_cast<int>(std::floor(lx * scale)), my0 = static_cast<int>(std::floor(ly * scale));
      int mx1 = static_cast<int>(std::ceil((lx + tile) * scale)), my1 = static_cast<int>(std::ceil((ly + tile) * scale));
      mx0 = std::clamp(mx0, 0, mask.cols - 1), my0 = std::clamp(my0, 0, mask.rows - 1);
      mx1 = std::clamp(std::max(mx1, mx0 + 1), 1, mask.cols), my1 = std::clamp(std::max(my1, my0 + 1), 1, mask.rows);
      const double inside = integral.at<double>(my1, mx1) - integral.at<double>(my0, mx1) - integral.at<double>(my1, mx0) +
                            integral.at<double>(my0, mx0);
      const double fraction = inside / (static_cast<double>(mx1 - mx0) * (my1 - my0));
      if (fraction < min_tissue && skipped) (fraction > 0 ? skipped->below_min_tissue : skipped->glass) += 1;
      if (fraction >= min_tissue)
        tiles.push_back({static_cast<int64_t>(std::llround(lx * downsample)),
                         static_cast<int64_t>(std::llround(ly * downsample)), column, row, fraction});
    }
  }
  return tiles;
}

}  // namespace xai
