#include "core/sha256.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define XAI_SHA256_X86 1
#endif

#include "xai/error.hpp"

namespace xai {

namespace {

constexpr uint32_t kRoundConstants[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

constexpr uint32_t kInitialState[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

inline uint32_t rotate_right(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

inline uint32_t load_big_endian32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

// FIPS 180-4's 64 rounds on one 64-byte block.
void portable_block(uint32_t state[8], const uint8_t* block) {
  uint32_t w[64];
  for (int i = 0; i < 16; ++i) w[i] = load_big_endian32(block + 4 * i);
  for (int i = 16; i < 64; ++i) {
    uint32_t s0 = rotate_right(w[i - 15], 7) ^ rotate_right(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = rotate_right(w[i - 2], 17) ^ rotate_right(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }

  uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
  uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
  for (int i = 0; i < 64; ++i) {
    uint32_t sum1 = rotate_right(e, 6) ^ rotate_right(e, 11) ^ rotate_right(e, 25);
    uint32_t choose = (e & f) ^ (~e & g);
    uint32_t t1 = h + sum1 + choose + kRoundConstants[i] + w[i];
    uint32_t sum0 = rotate_right(a, 2) ^ rotate_right(a, 13) ^ rotate_right(a, 22);
    uint32_t majority = (a & b) ^ (a & c) ^ (b & c);
    uint32_t t2 = sum0 + majority;
    h = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  state[0] += a; state[1] += b; state[2] += c; state[3] += d;
  state[4] += e; state[5] += f; state[6] += g; state[7] += h;
}

#ifdef XAI_SHA256_X86
// The same rounds with the SHA extensions. sha256rnds2 runs two rounds on the working variables packed
// as ABEF and CDGH; sha256msg1/msg2 extend the message schedule four words at a time.
__attribute__((target("sha,sse4.1,ssse3"))) void sha_extensions_blocks(uint32_t state[8], const uint8_t* blocks,
                                                                          size_t count) {
  const __m128i byte_swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i dcba = _mm_loadu_si128(reinterpret_cast<const __m128i*>(state));
  __m128i hgfe = _mm_loadu_si128(reinterpret_cast<const __m128i*>(state + 4));
  const __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
  const __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
  __m128i abef = _mm_alignr_epi8(cdab, efgh, 8);
  __m128i cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);

  for (size_t b = 0; b < count; ++b, blocks += 64) {
    const __m128i abef_before = abef, cdgh_before = cdgh;
    __m128i words[4];  // W[4i..4i+3] of group i lives in words[i % 4]
#pragma GCC unroll 16
    for (int group = 0; group < 16; ++group) {
      __m128i& current = words[group % 4];
      if (group < 4) {
        current = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blocks + 16 * group)), byte_swap);
      } else {
        const __m128i& previous = words[(group + 3) % 4];  // W[4i-4..4i-1]
        const __m128i& before = words[(group + 2) % 4];    // W[4i-8..4i-5]
        const __m128i partial = _mm_add_epi32(_mm_sha256msg1_epu32(current, words[(group + 1) % 4]),
                                              _mm_alignr_epi8(previous, before, 4));  // + W[4i-7..4i-4]
        current = _mm_sha256msg2_epu32(partial, previous);
      }
      __m128i scheduled = _mm_add_epi32(current, _mm_loadu_si128(reinterpret_cast<const __m128i*>(kRoundConstants + 4 * group)));
      cdgh = _mm_sha256rnds2_epu32(cdgh, abef, scheduled);
      scheduled = _mm_shuffle_epi32(scheduled, 0x0E);
      abef = _mm_sha256rnds2_epu32(abef, cdgh, scheduled);
    }
    abef = _mm_add_epi32(abef, abef_before);
    cdgh = _mm_add_epi32(cdgh, cdgh_before);
  }

  const __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
  const __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
  dcba = _mm_blend_epi16(feba, dchg, 0xF0);
  hgfe = _mm_alignr_epi8(dchg, feba, 8);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state), dcba);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state + 4), hgfe);
}
#endif

}  // namespace

bool sha256_cpu_instructions_available() {
#ifdef XAI_SHA256_X86
  static const bool available = [] {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
    const bool sse41 = ecx & bit_SSE4_1, ssse3 = ecx & bit_SSSE3;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
    return sse41 && ssse3 && (ebx & (1u << 29)) != 0;  // CPUID.(EAX=7,ECX=0):EBX[29] = SHA
  }();
  return available;
#else
  return false;
#endif
}

Sha256::Sha256(Sha256Engine engine)
    : cpu_instructions_(engine == Sha256Engine::automatic && sha256_cpu_instructions_available()) {
  reset();
}

void Sha256::reset() {
  std::memcpy(state_, kInitialState, sizeof(state_));
  buffered_ = 0;
  total_bytes_ = 0;
}

void Sha256::compress_blocks(const uint8_t* blocks, size_t count) {
#ifdef XAI_SHA256_X86
  if (cpu_instructions_) return sha_extensions_blocks(state_, blocks, count);
#endif
  for (size_t b = 0; b < count; ++b) portable_block(state_, blocks + 64 * b);
}

void Sha256::update(const void* data, size_t n) {
  const uint8_t* bytes = static_cast<const uint8_t*>(data);
  total_bytes_ += n;

  // Top up a partially filled block first.
  if (buffered_ > 0) {
    size_t take = std::min(n, sizeof(buffer_) - buffered_);
    std::memcpy(buffer_ + buffered_, bytes, take);
    buffered_ += take;
    bytes += take;
    n -= take;
    if (buffered_ < sizeof(buffer_)) return;
    compress_blocks(buffer_, 1);
    buffered_ = 0;
  }
  // Whole blocks straight from the caller's memory, no copy.
  const size_t whole_blocks = n / 64;
  if (whole_blocks > 0) compress_blocks(bytes, whole_blocks);
  bytes += 64 * whole_blocks;
  n -= 64 * whole_blocks;
  if (n > 0) {
    std::memcpy(buffer_, bytes, n);
    buffered_ = n;
  }
}

std::string Sha256::hex_digest() {
  const uint64_t message_bits = total_bytes_ * 8;

  // Padding: a 1 bit, zeros up to 56 mod 64, then the 64-bit big-endian bit length.
  uint8_t padding[72] = {0x80};
  size_t pad_length = (buffered_ < 56) ? (56 - buffered_) : (120 - buffered_);
  update(padding, pad_length);
  uint8_t length_bytes[8];
  for (int i = 0; i < 8; ++i) length_bytes[i] = uint8_t(message_bits >> (56 - 8 * i));
  update(length_bytes, 8);

  static const char kHexDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(64);
  for (uint32_t word : state_) {
    for (int shift = 28; shift >= 0; shift -= 4) hex.push_back(kHexDigits[(word >> shift) & 0xf]);
  }
  reset();
  return hex;
}

std::string sha256_hex(const std::string& bytes) {
  Sha256 hasher;
  hasher.update(bytes.data(), bytes.size());
  return hasher.hex_digest();
}

std::string sha256_file_hex(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) throw input_error(path + ": cannot read (" + std::strerror(errno) + ")");

  Sha256 hasher;
  std::vector<char> chunk(size_t(1) << 20);
  for (;;) {
    size_t got = std::fread(chunk.data(), 1, chunk.size(), file.get());
    if (got > 0) hasher.update(chunk.data(), got);
    if (got < chunk.size()) {
      // fopen succeeds on a directory on Linux; the read is where that (EISDIR) shows.
      if (std::ferror(file.get())) throw input_error(path + ": cannot read (" + std::strerror(errno) + ")");
      break;
    }
  }
  return hasher.hex_digest();
}

}  // namespace xai
