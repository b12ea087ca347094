// Text helpers: base64 against RFC 4648's test vectors, and a round trip of every byte value; numbers in messages.
#include <gtest/gtest.h>

#include <limits>
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

namespace xai {
namespace {

// printf's %g by hand: the shorter of fixed and exponent notation, trailing zeros dropped.
TEST(Text, SignificantDigitsAsPrintfsShortestForm) {
  EXPECT_EQ(significant_digits(3.98783e-09, 4), "3.988e-09");
  EXPECT_EQ(significant_digits(0.0113769, 2), "0.011");
  EXPECT_EQ(significant_digits(0.5, 3), "0.5");
  EXPECT_EQ(significant_digits(1234567.0, 3), "1.23e+06");
  EXPECT_EQ(significant_digits(std::numeric_limits<double>::infinity(), 2), "inf");
}

}  // namespace
}  // namespace xai
