// The rule that keeps xai's outputs from ever being taken as inputs: every name the namer writes is
// recognised (STEM.METHOD..., grids, thumbnails), no input's name is.
#include <gtest/gtest.h>

#include "output/explanation_files.hpp"

namespace xai {
namespace {

TEST(ExplanationFiles, OutputNamesAreRecognised) {
  for (const char* name : {"x.gradcam.png", "x.gradcam.benign.png", "x.gradcam.layer-layer4.png",
                           "x.gradcam-layers.png", "x.lime-top.png", "x.lime-segments.png", "x.thumb.png",
                           "x.compare.png", "a.b.scorecam.png"})
    EXPECT_TRUE(is_xai_output_name(name)) << name;
  for (const char* name : {"x.png", "gradcam.png", "slide.2024.png", "x.mask.png", "limes.png"})
    EXPECT_FALSE(is_xai_output_name(name)) << name;
}

}  // namespace
}  // namespace xai
