#include "pipelines/memory_ledger.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace xai {
namespace {

using namespace std::chrono_literals;

TEST(MemoryLedger, GrantsInOrderWithinTheCapacity) {
  MemoryLedger ledger(100);
  auto first = ledger.reserve(60, 0);
  std::atomic<bool> second_granted{false}, third_granted{false};
  std::shared_ptr<void> second, third;
  std::thread later([&] {  // ticket 2 fits (10 + 60 <= 100) but must wait for ticket 1
    third = ledger.reserve(10, 2);
    third_granted = true;
  });
  std::thread waiting([&] {  // 60 + 50 > 100: waits for memory
    second = ledger.reserve(50, 1);
    second_granted = true;
  });
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(second_granted);
  EXPECT_FALSE(third_granted) << "granted out of order";
  EXPECT_TRUE(ledger.someone_waits());
  first.reset();  // written: its memory comes back
  waiting.join();
  later.join();
  EXPECT_TRUE(second_granted);
  EXPECT_TRUE(third_granted);
  EXPECT_FALSE(ledger.someone_waits());
}

TEST(MemoryLedger, AnImageOverTheCapacityStillRunsAlone) {
  MemoryLedger ledger(100);
  { auto huge = ledger.reserve(500, 0); }  // nothing else reserved: granted
  auto small = ledger.reserve(1, 1);
  std::atomic<bool> granted{false};
  std::thread big([&] {
    auto again = ledger.reserve(500, 2);
    granted = true;
  });
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(granted);
  small.reset();
  big.join();
  EXPECT_TRUE(granted);
}

TEST(MemoryLedger, StopReleasesEveryWaiter) {
  MemoryLedger ledger(10);
  auto held = ledger.reserve(10, 0);
  std::vector<std::thread> waiters;
  std::atomic<int> released{0};
  for (size_t t = 1; t <= 3; ++t)
    waiters.emplace_back([&, t] {
      ledger.reserve(10, t + 5);  // tickets that will never come: only stop() ends the wait
      ++released;
    });
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(released, 0);
  ledger.stop();
  for (auto& w : waiters) w.join();
  EXPECT_EQ(released, 3);
}

}  // namespace
}  // namespace xai
