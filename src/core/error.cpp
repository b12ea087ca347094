#include "xai/error.hpp"

namespace xai {
namespace {

SettingNamer& installed_namer() {
  static SettingNamer namer;
  return namer;
}

}  // namespace

void set_setting_namer(SettingNamer namer) { installed_namer() = std::move(namer); }

std::string setting_name(const std::string& key) {
  const SettingNamer& namer = installed_namer();
  return namer ? namer(key) : key;
}

std::string first_line(const std::string& text) {
  size_t start = text.find_first_not_of(" \t\r\n");
  if (start == std::string::npos) return "";
  size_t end = text.find('\n', start);
  std::string line = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

}  // namespace xai
