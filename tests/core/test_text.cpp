// Text helpers: base64 against RFC 4648's test vectors, and a round trip of every byte value.
#include <gtest/gtest.h>

#include <stdexcept>

#include "core/text.hpp"

namespace xai {
namespace {

TEST(Text, Base64MatchesTheRfcVectorsAndRoundTrips) {
  // RFC 4648, section 10.
  const std::pair<const char*, const char*> vectors[] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, coded] : vectors) {
    EXPECT_EQ(base64_encode(plain), coded) << plain;
    EXPECT_EQ(base64_decode(coded), plain) << coded;
  }
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  for (size_t n = 0; n <= bytes.size(); n += 37) EXPECT_EQ(base64_decode(base64_encode(bytes.substr(0, n))), bytes.substr(0, n));
  for (const char* bad : {"Zg=", "Z===", "Zm9v!A==", "=Zm9", "Zg==Zg=="}) EXPECT_THROW(base64_decode(bad), std::invalid_argument) << bad;
}

}  // namespace
}  // namespace xai
