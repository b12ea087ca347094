// Errors carry the exit code the CLI returns, so every layer of the library can say
// *what kind* of failure happened without knowing about the command line.
#pragma once

#include <functional>
#include <stdexcept>
#include <string>

namespace xai {

// Documented exit codes (README, "Exit codes"). Values are part of the interface.
enum class ExitCode : int {
  ok = 0,
  internal = 1,       // a bug or an unexpected library failure
  usage = 2,          // bad flag, bad value, unknown target class
  input = 3,          // image unreadable, corrupt, empty, unsupported or too large
  model = 4,          // model file missing, not TorchScript, card invalid or inconsistent
  layer = 5,          // unknown layer, layer whose output cannot be captured
  output = 6,         // an output file could not be written
  device = 7,         // requested device (e.g. CUDA) not available
  partial = 8,        // batch: some inputs failed, the others were written
  gate = 9,           // --fail-if: a measured condition failed (or could not be measured)
};

class Error : public std::runtime_error {
 public:
  Error(ExitCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ExitCode code() const noexcept { return code_; }

 private:
  ExitCode code_;
};

// The device ran out of memory for a batch: exit 7 as any device failure, with a type of its own so that
// a caller that chose the batch size itself (the batch tuner) can run the batch again smaller instead.
class DeviceMemoryError : public Error {
 public:
  explicit DeviceMemoryError(const std::string& message) : Error(ExitCode::device, message) {}
};

// Short constructors so call sites read like the failure they report.
inline Error usage_error(const std::string& m) { return Error(ExitCode::usage, m); }
inline Error input_error(const std::string& m) { return Error(ExitCode::input, m); }
inline Error model_error(const std::string& m) { return Error(ExitCode::model, m); }
inline Error layer_error(const std::string& m) { return Error(ExitCode::layer, m); }
inline Error output_error(const std::string& m) { return Error(ExitCode::output, m); }
inline Error device_error(const std::string& m) { return Error(ExitCode::device, m); }

// How messages name a setting. The library names each by its key, the field of the settings structs
// that holds it ("samples", "kernel_width", "max_decoded_bytes", "target_class"), so an embedder reads
// "samples must be at least 2"; an application that exposes the settings under other names installs a
// namer once, before any work starts (the CLI: "--samples must be at least 2"). The namer gets the key and
// returns the name; unknown keys should come back unchanged.
using SettingNamer = std::function<std::string(const std::string& key)>;
void set_setting_namer(SettingNamer namer);
// The setting's name in messages: the installed namer's, else the key itself.
std::string setting_name(const std::string& key);

// Collapses a multi-line message (LibTorch's errors carry stack traces) to its first
// meaningful line, so CLI errors stay one line.
std::string first_line(const std::string& text);

}  // namespace xai
