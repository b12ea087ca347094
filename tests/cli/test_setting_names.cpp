// The command line's names for the library's settings (src/cli/setting_names.cpp): the library names a
// setting by its key (setting_name, xai/error.hpp), the CLI installs a table that gives each key's flag.
// Every key a library source names has a row, every row's flag is one the command line has, and until
// the table is installed the library speaks its own terms.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli/setting_names.hpp"
#include "cli_fixture.hpp"
#include "output/render.hpp"
#include "xai/error.hpp"

namespace {

namespace fs = std::filesystem;
using namespace xai::e2e;

// Every key the library names as setting_name("KEY"), with a file that names it: the sources under src/
// (the CLI's own, src/cli/, aside) and the public headers.
std::map<std::string, std::string> keys_named_by_the_library() {
  const fs::path root = XAI_SOURCE_DIR;
  const std::regex call(R"re(setting_name\(\s*"([^"]*)"\s*\))re");
  std::map<std::string, std::string> keys;
  for (const fs::path& dir : {root / "src", root / "include"})
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
      const fs::path& path = entry.path();
      if (!entry.is_regular_file() || (path.extension() != ".cpp" && path.extension() != ".hpp")) continue;
      const fs::path relative = path.lexically_relative(root);
      if (relative.string().rfind("src/cli/", 0) == 0) continue;
      const std::string text = read_bytes(path);
      for (std::sregex_iterator m(text.begin(), text.end(), call), end; m != end; ++m)
        keys.emplace((*m)[1].str(), relative.string());
    }
  return keys;
}

// The subcommands listed in the top-level --help, under "Subcommands:".
std::vector<std::string> subcommands_in_help(const std::string& help) {
  std::vector<std::string> names;
  std::istringstream lines(help);
  bool listed = false;
  const std::regex subcommand(R"(^  ([a-z][a-z0-9-]*)\s)");
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("Subcommands:", 0) == 0) {
      listed = true;
      continue;
    }
    std::smatch m;
    if (listed && std::regex_search(line, m, subcommand)) names.push_back(m[1]);
  }
  return names;
}

// Puts the library back on its own terms, however the test ends (the other tests in this binary
// expect "samples must be at least 2", not "--samples ...").
struct NamerReset {
  ~NamerReset() { xai::set_setting_namer(nullptr); }
};

TEST(SettingNames, EveryKeyTheLibraryNamesHasAFlag) {
  const auto named = keys_named_by_the_library();
  ASSERT_GT(named.size(), 40u) << "the scan of " << XAI_SOURCE_DIR << " found too few setting_name(\"KEY\") calls";
  const auto& table = xai::cli::setting_flags_by_key();
  for (const auto& [key, file] : named)
    EXPECT_EQ(table.count(key), 1u) << file << " names the setting \"" << key
                                    << "\", which src/cli/setting_names.cpp does not map to a flag";
  // And no row for a key the library no longer names (the methods' settings are declared, named or not).
  for (const auto& [key, flag] : xai::cli::undeclared_setting_flags())
    EXPECT_EQ(named.count(key), 1u) << "src/cli/setting_names.cpp maps \"" << key << "\" (" << flag
                                    << "), which no library source names";
}

class SettingFlags : public CliTest {};

TEST_F(SettingFlags, EveryFlagInTheTableIsOneTheCommandLineHas) {
  use_server();
  const RunResult top = xai({"--help"});
  ASSERT_EQ(top.code, 0) << top;
  const std::vector<std::string> subcommands = subcommands_in_help(top.out);
  ASSERT_GE(subcommands.size(), 5u) << top.out;
  const std::vector<std::string> top_flags = options_in_help(top.out);
  std::set<std::string> flags(top_flags.begin(), top_flags.end());
  for (const auto& sub : subcommands) {
    const RunResult help = xai({sub, "--help"});
    ASSERT_EQ(help.code, 0) << help;
    const std::vector<std::string> options = options_in_help(help.out);
    EXPECT_FALSE(options.empty()) << sub << " --help\n" << help.out;
    flags.insert(options.begin(), options.end());
  }
  for (const auto& [key, name] : xai::cli::setting_flags_by_key()) {
    const std::string flag = name.substr(0, name.find(' '));  // "--frames" of "--frames all"
    EXPECT_EQ(flag.rfind("--", 0), 0u) << key << " -> \"" << name << "\" does not start with a flag";
    EXPECT_EQ(flags.count(flag), 1u) << key << " -> \"" << name << "\": no subcommand's --help lists " << flag;
  }
}

TEST(SettingNames, TheLibrarySpeaksItsOwnTermsUntilTheCliInstallsItsTable) {
  NamerReset reset;
  xai::set_setting_namer(nullptr);
  EXPECT_EQ(xai::setting_name("samples"), "samples");
  EXPECT_EQ(xai::setting_name("max_decoded_bytes"), "max_decoded_bytes");
  try {
    xai::parse_colormap("rainbow");
    ADD_FAILURE() << "rainbow accepted";
  } catch (const xai::Error& e) {
    EXPECT_EQ(std::string(e.what()), "colormap rainbow: expected jet, turbo, viridis or inferno");
  }

  xai::cli::name_settings_by_flags();
  EXPECT_EQ(xai::setting_name("samples"), "--samples");
  EXPECT_EQ(xai::setting_name("max_decoded_bytes"), "--max-image-memory");
  EXPECT_EQ(xai::setting_name("all_frames"), "--frames all");
  EXPECT_EQ(xai::setting_name("no_such_setting"), "no_such_setting") << "unknown keys come back unchanged";
  try {
    xai::parse_colormap("rainbow");
    ADD_FAILURE() << "rainbow accepted";
  } catch (const xai::Error& e) {
    EXPECT_EQ(std::string(e.what()), "--colormap rainbow: expected jet, turbo, viridis or inferno");
  }

  xai::set_setting_namer(nullptr);
  EXPECT_EQ(xai::setting_name("samples"), "samples");
}

}  // namespace
