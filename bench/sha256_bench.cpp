// SHA-256 of a model-sized buffer: the CPU's SHA instructions against the portable rounds. Every run
// hashes its model file for the report, so this is part of each `xai explain`'s fixed cost.
//   build/bench/xai_sha256_bench   (compare the two rows' bytes_per_second)
#include <benchmark/benchmark.h>

#include <vector>

#include "core/sha256.hpp"

namespace {

void hash_buffer(benchmark::State& state, xai::Sha256Engine engine) {
  if (engine == xai::Sha256Engine::automatic && !xai::sha256_cpu_instructions_available()) {
    state.SkipWithError("this CPU has no SHA instructions");
    return;
  }
  std::vector<unsigned char> buffer(size_t(64) << 20);
  for (size_t i = 0; i < buffer.size(); ++i) buffer[i] = static_cast<unsigned char>((i * 2654435761u) >> 13);
  for (auto _ : state) {
    xai::Sha256 hasher(engine);
    hasher.update(buffer.data(), buffer.size());
    benchmark::DoNotOptimize(hasher.hex_digest());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(buffer.size()));
}

BENCHMARK_CAPTURE(hash_buffer, portable, xai::Sha256Engine::portable)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(hash_buffer, cpu_instructions, xai::Sha256Engine::automatic)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
