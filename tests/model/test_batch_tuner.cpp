// The batch tuner on fake pass timings whose best size is known.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "model/batch_tuner.hpp"

namespace {

using xai::BatchTuner;

// ms for a pass of `size` images: a fixed overhead plus a per-image cost that rises past 16
// (cache pressure), so 16 is fastest per image.
double pass_ms(int size) { return 20.0 + size * (size <= 16 ? 5.0 : 5.0 + 0.2 * (size - 16)); }

TEST(BatchTuner, ChoosesTheFastestSizePerImageAfterMeasuringEachCandidate) {
  BatchTuner tuner({4, 8, 16, 32, 64}, 2);
  EXPECT_EQ(tuner.chosen(), 0);
  std::map<int, int> passes;
  int steps = 0;
  while (tuner.chosen() == 0 && steps++ < 100) {
    const int size = tuner.next();
    ++passes[size];
    tuner.record(size, pass_ms(size));
  }
  EXPECT_EQ(tuner.chosen(), 16);
  EXPECT_EQ(tuner.next(), 16);
  EXPECT_EQ(passes[4], 3) << "the first pass warms up and is not counted";
  for (int size : {8, 16, 32, 64}) EXPECT_EQ(passes[size], 2) << size;
  const auto best = tuner.per_image_ms();
  EXPECT_NEAR(best[2], pass_ms(16) / 16, 1e-12);
}

TEST(BatchTuner, KeepsTheBestTrialAndIgnoresOtherSizes) {
  BatchTuner tuner({4, 8}, 2);
  tuner.record(4, 1000);  // warm-up
  tuner.record(3, 1.0);   // the tail of a run: not a candidate pass
  EXPECT_EQ(tuner.per_image_ms(), (std::vector<double>{0, 0}));
  // 8 is faster per image, but one of its passes was interrupted: the best trial counts.
  tuner.record(4, 40);
  tuner.record(8, 400);
  tuner.record(4, 40);
  tuner.record(8, 48);
  EXPECT_EQ(tuner.chosen(), 8);
  tuner.record(8, 1e9);  // after choosing, nothing changes
  EXPECT_EQ(tuner.chosen(), 8);
}

// A size that ran out of the device's memory is dropped with every larger one; measuring goes on among
// the rest, and a choice above the bound is taken back.
TEST(BatchTuner, SizesThatExceedTheDevicesMemoryAreDropped) {
  BatchTuner tuner({8, 16, 32, 64}, 1);
  tuner.record(8, 1);  // warm-up
  EXPECT_TRUE(tuner.exceeded_memory(32));
  EXPECT_EQ(tuner.candidates(), (std::vector<int>{8, 16}));
  EXPECT_EQ(tuner.largest(), 16);
  std::map<int, int> passes;
  while (tuner.chosen() == 0) {
    const int size = tuner.next();
    ++passes[size];
    tuner.record(size, pass_ms(size));
  }
  EXPECT_EQ(tuner.chosen(), 16);
  EXPECT_EQ(passes.size(), 2u) << "only the sizes that fit are measured";
  // Chosen, then a larger input does not fit at 16: 8 is chosen without measuring again.
  EXPECT_TRUE(tuner.exceeded_memory(16));
  EXPECT_EQ(tuner.chosen(), 8);
  EXPECT_FALSE(tuner.exceeded_memory(8)) << "nothing smaller is left: the caller reports the error";
  EXPECT_EQ(tuner.candidates(), (std::vector<int>{8}));
}

}  // namespace
