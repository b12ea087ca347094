// The library names settings by their keys (xai/error.hpp, setting_name); the command line names them
// by its flags: the methods' settings declare theirs (xai/method_settings.hpp), one table maps every other
// key the library uses to the flag that sets it (setting_names.cpp).
#pragma once

#include <map>
#include <string>

namespace xai::cli {

// Key -> flag ("samples" -> "--samples", "max_decoded_bytes" -> "--max-image-memory").
const std::map<std::string, std::string>& setting_flags_by_key();
// Of those, the keys that are not methods' settings (xai/method_settings.hpp declares those with their flags).
const std::map<std::string, std::string>& undeclared_setting_flags();
// Installs the table as the library's namer (call once at start).
void name_settings_by_flags();

}  // namespace xai::cli
