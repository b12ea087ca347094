// Tissue detection on a drawn slide thumbnail (known tissue, a hole, specks of dust) and the tile
// grid over a mask, in closed form.
#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include "analysis/tissue.hpp"

namespace xai {
namespace {

TEST(Tissue, SaturatedStainIsTissueHolesFilledSpecksRemoved) {
  cv::Mat thumb(300, 400, CV_8UC3);
  cv::randu(thumb, cv::Scalar(238, 238, 238), cv::Scalar(250, 250, 250));  // glass, a little noise
  cv::Mat truth = cv::Mat::zeros(thumb.size(), CV_8UC1);
  cv::ellipse(truth, {120, 150}, {80, 110}, 10, 0, 360, 255, cv::FILLED);
  cv::ellipse(truth, {300, 120}, {60, 40}, 0, 0, 360, 255, cv::FILLED);
  cv::Mat stain(thumb.size(), CV_8UC3);
  cv::randu(stain, cv::Scalar(170, 110, 200), cv::Scalar(215, 160, 240));  // eosin pink to hematoxylin purple, BGR
  stain.copyTo(thumb, truth);
  thumb(cv::Rect(115, 140, 6, 6)).setTo(cv::Scalar(245, 245, 245));  // a hole in the tissue (fat, a tear)
  for (int i = 0; i < 12; ++i)  // dust: 2x2 saturated specks on the glass
    thumb(cv::Rect(20 + 30 * i, 285, 2, 2)).setTo(cv::Scalar(180, 120, 220));

  const TissueMask tissue = detect_tissue(thumb);
  EXPECT_GE(tissue.threshold, 20);
  const double intersection = cv::countNonZero(tissue.mask & truth), uni = cv::countNonZero(tissue.mask | truth);
  EXPECT_GT(intersection / uni, 0.98);
  EXPECT_EQ(tissue.mask.at<uchar>(142, 117), 255) << "the hole is filled";
  for (int i = 0; i < 12; ++i) EXPECT_EQ(tissue.mask.at<uchar>(285, 20 + 30 * i), 0) << "speck " << i;
  EXPECT_NEAR(tissue.fraction, cv::countNonZero(truth) / double(truth.total()), 0.01);

  // A slide of glass alone has no tissue (Otsu alone would split the noise in two).
  cv::Mat glass(100, 100, CV_8UC3);
  cv::randu(glass, cv::Scalar(238, 238, 238), cv::Scalar(250, 250, 250));
  EXPECT_EQ(detect_tissue(glass).fraction, 0);
}

TEST(Tissue, TilesCoverTheMaskByFraction) {
  // 1000x1000 at level 0, mask 100x100 (10 level-0 px per mask px), tissue in its left half.
  cv::Mat mask = cv::Mat::zeros(100, 100, CV_8UC1);
  mask(cv::Rect(0, 0, 50, 100)).setTo(255);
  const auto tiles = tissue_tiles(1000, 1000, 1.0, 100, 100, mask, 10.0, 0.5);
  ASSERT_EQ(tiles.size(), 50u);  // 10 rows x the 5 left columns
  for (const auto& t : tiles) {
    EXPECT_LT(t.x, 500);
    EXPECT_EQ(t.tissue, 1.0);
    EXPECT_EQ(t.x, t.column * 100);
    EXPECT_EQ(t.y, t.row * 100);
  }
  // Overlapping tiles (stride 50): the one straddling the edge (450..550) is half tissue, kept at 0.5.
  const auto overlapping = tissue_tiles(1000, 1000, 1.0, 100, 50, mask, 10.0, 0.5);
  EXPECT_EQ(overlapping.size(), 19u * 10u);
  EXPECT_EQ(overlapping[9].x, 450);
  EXPECT_DOUBLE_EQ(overlapping[9].tissue, 0.5);
  // At level 2 (downsample 4): 250x250 level pixels, tiles of 50 px = 200 level-0 px.
  const auto coarse = tissue_tiles(1000, 1000, 4.0, 50, 50, mask, 10.0, 0.99);
  ASSERT_EQ(coarse.size(), 5u * 2u);  // columns at level-0 x 0 and 200 (400..600 straddles)
  EXPECT_EQ(coarse[1].x, 200);
}

}  // namespace
}  // namespace xai
