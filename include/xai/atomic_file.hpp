// Writing output files so that a reader (or a crash) never sees a half-written file:
// the bytes go to a temporary file next to the target, are flushed to disk, and only
// then renamed over the target, which POSIX makes atomic within one file system.
#pragma once

#include <functional>
#include <ostream>
#include <string>

namespace xai {

// Replaces `path` with exactly `bytes`. The temporary file (".NAME.tmp-PID-RANDOM" in
// the same directory) is removed on failure, and an existing target is left untouched.
// Throws output_error("PATH: cannot write (reason)").
void write_file_atomic(const std::string& path, const std::string& bytes);

// Same, with the content streamed by `writer`, so large outputs need not be built in
// memory first. If the writer throws, the temporary file is removed and the writer's
// exception propagates unchanged; stream failures become output_error as above.
void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& writer);

}  // namespace xai
