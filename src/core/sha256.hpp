// SHA-256 (FIPS 180-4), so outputs can record exactly which image and model bytes
// produced them without depending on a crypto library.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace xai {

// The x86 SHA extensions (Intel since Ice Lake and Goldmont, AMD since Zen) hash about 4x as fast as
// the portable rounds: a model file is hashed for every run's report (ViT-B/16's 343 MB took a quarter
// of a one-image `xai explain`).
bool sha256_cpu_instructions_available();

enum class Sha256Engine {
  automatic,  // the CPU's SHA instructions where it has them, else the portable rounds
  portable,   // always the portable rounds (tests compare the two)
};

// Incremental hasher: feed any number of update() calls, then read hex_digest() once.
class Sha256 {
 public:
  explicit Sha256(Sha256Engine engine = Sha256Engine::automatic);
  void update(const void* data, size_t n);
  // Lower-case hex of the 32-byte digest. Finishes the hash; the object is then reset,
  // so it can be reused for a new message.
  std::string hex_digest();

 private:
  void reset();
  void compress_blocks(const uint8_t* blocks, size_t count);

  bool cpu_instructions_;

  uint32_t state_[8];
  uint8_t buffer_[64];
  size_t buffered_ = 0;        // bytes waiting in buffer_
  uint64_t total_bytes_ = 0;   // message length so far, for the padding
};

std::string sha256_hex(const std::string& bytes);

// Streams the file in 1 MiB chunks, so large model files are never held in memory.
// Throws input_error("PATH: cannot read (reason)") if the file cannot be opened or read.
std::string sha256_file_hex(const std::string& path);

}  // namespace xai
