// libFuzzer target: the journal reader used by resume and `merge`: lines parsed, the files a record
// names listed, the containment check merge relies on, one result per input and method, and the
// records written back. Nothing may throw or crash, and a path judged contained must stay inside.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "output/gallery.hpp"
#include "output/results_log.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::vector<xai::Record> records = xai::parse_results(text);
  for (const auto& record : records) {
    for (const auto& file : xai::record_files(record)) {
      if (!xai::is_contained_relative_path(file)) continue;
      const std::string resolved = (std::filesystem::path("/shard") / file).lexically_normal().generic_string();
      if (resolved.rfind("/shard/", 0) != 0) std::abort();
    }
    (void)record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  (void)xai::latest_per_input_and_method(records);
  return 0;
}
