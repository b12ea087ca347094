// The library names settings by their keys (xai/error.hpp, setting_name); the command line names them
// by its flags. One table maps each key the library uses to the flag that sets it (setting_names.cpp).
#pragma once

#include <map>
#include <string>

namespace xai::cli {

// Key -> flag ("samples" -> "--samples", "max_decoded_bytes" -> "--max-image-memory").
const std::map<std::string, std::string>& setting_flags_by_key();
// Installs the table as the library's namer (call once at start).
void name_settings_by_flags();

}  // namespace xai::cli
