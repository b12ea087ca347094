#include "cli/decoder_noise_filter.hpp"

#include <algorithm>
#include <iostream>
#include <mutex>
#include <opencv2/core/utils/logger.hpp>
#include <streambuf>
#include <string>

namespace xai::cli {
namespace {

constexpr const char* kNoisePrefix = "imdecode_(";

class DecoderNoiseFilter : public std::streambuf {
 public:
  explicit DecoderNoiseFilter(std::streambuf* target) : target_(target) {}

 protected:
  int_type overflow(int_type ch) override {
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
      const char c = traits_type::to_char_type(ch);
      put(&c, 1);
    }
    return traits_type::not_eof(ch);
  }
  std::streamsize xsputn(const char* data, std::streamsize n) override {
    put(data, static_cast<size_t>(n));
    return n;
  }
  // std::cerr flushes after every insertion: pass a partial line on now (a progress bar ends in '\r',
  // not '\n') unless it may still turn out to be decoder noise.
  int sync() override {
    Line& line = current();
    if (line.text.empty()) return 0;
    if (may_be_noise(line.text)) return 0;
    line.after_noise = false;
    forward(line.text);
    line.text.clear();
    return 0;
  }

 private:
  struct Line {
    std::string text;
    bool after_noise = false;  // the empty line OpenCV writes after its message is noise too
  };
  static Line& current() {
    thread_local Line line;
    return line;
  }
  static bool may_be_noise(const std::string& text) {
    const std::string prefix = kNoisePrefix;
    const size_t n = std::min(prefix.size(), text.size());
    return text.compare(0, n, prefix, 0, n) == 0;
  }

  void put(const char* data, size_t n) {
    Line& line = current();
    for (size_t i = 0; i < n; ++i) {
      line.text += data[i];
      if (data[i] != '\n') continue;
      const bool noise = line.text.rfind(kNoisePrefix, 0) == 0 || (line.after_noise && line.text == "\n");
      line.after_noise = line.text.rfind(kNoisePrefix, 0) == 0;
      if (!noise) forward(line.text);
      line.text.clear();
    }
  }

  void forward(const std::string& text) {
    std::lock_guard<std::mutex> lock(mutex_);
    target_->sputn(text.data(), static_cast<std::streamsize>(text.size()));
    target_->pubsync();
  }

  std::streambuf* target_;
  std::mutex mutex_;
};

}  // namespace

void filter_decoder_noise() {
  // Never destroyed: std::cerr may still be flushed after static destructors have run.
  static auto* filter = new DecoderNoiseFilter(std::cerr.rdbuf());
  std::cerr.rdbuf(filter);
  cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
}

}  // namespace xai::cli
