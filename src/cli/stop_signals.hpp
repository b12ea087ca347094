// SIGINT/SIGTERM during a long run (batch, slide): the first asks the run to stop cleanly (what is in
// flight is written, then the journal and the outputs so far); a second ends the process at once.
#pragma once

#include <atomic>

namespace xai::cli {

class StopSignals {
 public:
  StopSignals();   // installs the handlers
  ~StopSignals();  // restores the defaults
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  // The flag a run polls (BatchOptions::stop, SlideOptions::stop): the signal's number once one came.
  const std::atomic<int>* flag() const;
  // "SIGINT" or "SIGTERM", for the message; and the exit code a stopped run returns (128 + signal).
  const char* name() const;
  int exit_code() const;
};

}  // namespace xai::cli
