// Writing output files so that a reader (or a crash) never sees a half-written file:
// the bytes go to a temporary file next to the target, are flushed to disk, and only
// then renamed over the target, which POSIX makes atomic within one file system.
#pragma once

#include <functional>
#include <ostream>
#include <string>

namespace xai {

// When a written file is safe from a power loss, not only from a crash of this process.
//   immediate: the file and its directory entry are synced before the call returns.
//   deferred:  readers and a killed process still see the old file or the whole new one, but the
//              bytes reach the disk only when the caller calls sync_file_system(): a batch run
//              syncs once per batch instead of twice per file, before it records the results.
enum class Durability { immediate, deferred };

// Replaces `path` with exactly `bytes`. The temporary file (".NAME.tmp-PID-RANDOM" in
// the same directory) is removed on failure, and an existing target is left untouched.
// Throws output_error("PATH: cannot write (reason)").
void write_file_atomic(const std::string& path, const std::string& bytes,
                       Durability durability = Durability::immediate);

// Same, with the content streamed by `writer`, so large outputs need not be built in
// memory first. If the writer throws, the temporary file is removed and the writer's
// exception propagates unchanged; stream failures become output_error as above.
void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& writer,
                       Durability durability = Durability::immediate);

// Flushes every deferred write on the file system that holds `path` (syncfs). Throws output_error.
void sync_file_system(const std::string& path);

// Removes the temporary files (".NAME.tmp-PID-RANDOM") under `dir` that a killed process left behind:
// those whose process no longer runs. Returns how many were removed.
size_t remove_stale_temporaries(const std::string& dir);

}  // namespace xai
