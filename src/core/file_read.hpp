// Reading a whole input file safely: only regular files (a FIFO would block forever, /dev/zero
// would be read until memory runs out), and never more than a stated number of bytes.
#pragma once

#include <cstdint>
#include <string>

#include "xai/error.hpp"

namespace xai {

// The bytes of `path`, or an Error with `code` and one line naming the file: missing, a directory,
// not a regular file (FIFO, device, socket; symbolic links are followed), unreadable, or larger than
// `max_bytes` (`limit_name` names the limit in that message, e.g. setting_name("max_decoded_bytes")).
std::string read_regular_file(const std::string& path, uint64_t max_bytes, ExitCode code,
                              const std::string& limit_name = "");

// "12.0 MiB", "3.2 GiB": sizes in messages.
std::string human_bytes(uint64_t bytes);

}  // namespace xai
