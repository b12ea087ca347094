// Small text helpers shared by error messages ("did you mean ...").
#pragma once

#include <string>
#include <vector>

namespace xai {

// ASCII letters in lower case (other bytes as they are): for names compared without letter case.
std::string lower(std::string text);

// Levenshtein distance: insertions, deletions and substitutions each cost 1.
size_t edit_distance(const std::string& a, const std::string& b);

// A label made safe for file names: each character outside [A-Za-z0-9_-] becomes '_' ("Grade 3/4" →
// "Grade_3_4"); an empty label becomes "_".
std::string file_safe(const std::string& label);

// Whether `text` is well-formed UTF-8 (no overlong forms, surrogates or code points above U+10FFFF).
bool is_utf8(const std::string& text);

// File names are bytes; JSON, HTML and CSV need UTF-8. A name that is not UTF-8 gets every '%' and
// every byte outside a well-formed sequence written as %XX ("bad\xffname.png" → "bad%FFname.png"):
// reversible (percent-decoding gives the bytes back), and names that are UTF-8 stay as they are.
std::string utf8_path(const std::string& path);

// Words as a sentence lists them: "a", "a or b", "a, b or c".
std::string listed_with_or(const std::vector<std::string>& words);

// `value` with `digits` decimals ("0.68"), for captions and pages.
std::string fixed_decimals(double value, int digits = 2);

// `value` to `digits` significant digits, in the shorter of fixed and exponent notation ("0.011", "3.988e-09"),
// for numbers in messages.
std::string significant_digits(double value, int digits);

// Text for XML and HTML (SVG, JUnit, pages): & < > " ' as entities, control characters XML 1.0 forbids as
// spaces.
std::string markup_escaped(const std::string& text);

// Base64 (RFC 4648, with padding): binary data inside JSON lines (a slide tile's map in its journal).
std::string base64_encode(const std::string& bytes);
// Throws std::invalid_argument on a character outside the alphabet or a wrong length.
std::string base64_decode(const std::string& text);

}  // namespace xai
