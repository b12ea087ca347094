// The methods' settings as a user gives them, declared once: how each is spelled (its key in the library's
// messages, its flag on the command line), what values it takes, its help text, what it reads by
// default, and how a given value goes into ExplainOptions. The command line makes its flags, their
// validation and --help from these declarations (src/cli/method_flags.cpp); which methods read a
// setting, and their defaults, come from the methods' own declarations (ExplanationMethod::settings).
// An application with a form or a config file of its own can build it from the same list.
#pragma once

#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "xai/explain_options.hpp"
#include "xai/methods.hpp"
#include "xai/model.hpp"

namespace xai {

// The values a setting takes, and the check of a given value.
struct ValueSpec {
  enum class Type {
    none,     // a switch: given or not
    integer,  // an integer in [low, high], or one of `words`
    real,     // a finite real in the interval (ends open or closed)
    seed,     // an integer in 0..2^64-1
    text,     // one of `words`; empty `words`: any text, parsed when applied
    reals,    // a comma-separated list of reals in the interval
    texts,    // repeatable: one text per occurrence
  };
  Type type = Type::text;
  double low = -std::numeric_limits<double>::infinity();
  double high = std::numeric_limits<double>::infinity();
  bool low_open = false, high_open = false;
  std::vector<std::string> words;
};

// Empty when `text` is a value of `spec`, else why not ("expected an integer >= 2, got '1'").
std::string check_value(const ValueSpec& spec, const std::string& text);
// A short name of the accepted values for --help ("INT >= 2", "REAL in [0, 1]", "slic|slico|mslic").
std::string value_name(const ValueSpec& spec);

struct SettingDeclaration {
  std::string key;   // the library's name (setting_name(key) in messages): "samples", "kernel_width"
  std::string flag;  // the command line's: "--samples"; with a short alias first: "-k,--top-k"
  Setting group;     // what a method declares it reads (ExplanationMethod::settings)
  ValueSpec value;
  std::string help;
  // The value used when the setting is not given, as text ("50"); empty when each method that reads it
  // has its own (ExplanationMethod::use_of gives them) or there is none.
  std::function<std::string(const ExplainOptions& defaults)> default_text;
  // Puts given values (one per occurrence, or the list's items) into `options`; the model resolves
  // label names and stage layers. Throws usage_error naming setting_name(key).
  std::function<void(const std::vector<std::string>& values, ExplainOptions& options, Model& model)> apply;
  // A value that changes the result of a method reading it (tests give each setting this value, and
  // every other setting in `example_needs` that it applies only beside, e.g. --tolerance with --samples auto).
  std::vector<std::string> example;
  std::vector<std::string> example_needs;  // flag, value, flag, value...
  std::vector<std::string> excludes;       // keys of settings that cannot be given with this one

  std::string long_flag() const;  // "--top-k" of "-k,--top-k"
};

// Every setting, in the order --help lists them.
const std::vector<SettingDeclaration>& method_settings();
// Throws std::out_of_range for an undeclared key.
const SettingDeclaration& method_setting(const std::string& key);

}  // namespace xai
