// The batch tuner on fake pass timings whose best size is known.
#include <gtest/gtest.h>

#include <cmath>

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

}  // namespace
