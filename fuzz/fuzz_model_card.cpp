// libFuzzer target: the model card parser. A card is accepted (and then valid) or refused with
// xai::Error(model); no other exception, no crash.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "xai/error.hpp"
#include "xai/model_card.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const xai::ModelCard card = xai::parse_model_card(text, "card.json");
    card.validate();  // whatever was accepted is consistent
    if (card.input_height < 1 || card.input_height > xai::ModelCard::kMaxInputSide) std::abort();
  } catch (const xai::Error& e) {
    if (e.code() != xai::ExitCode::model) std::abort();
  }
  return 0;
}
