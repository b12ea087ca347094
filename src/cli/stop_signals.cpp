#include "cli/stop_signals.hpp"

#include <csignal>

namespace xai::cli {
namespace {

std::atomic<int> received{0};

extern "C" void on_stop_signal(int signal) {
  received.store(signal);
  std::signal(signal, SIG_DFL);  // a second one ends the process
}

}  // namespace

StopSignals::StopSignals() {
  received.store(0);
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
}

StopSignals::~StopSignals() {
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
}

const std::atomic<int>* StopSignals::flag() const { return &received; }

const char* StopSignals::name() const { return received.load() == SIGINT ? "SIGINT" : "SIGTERM"; }

int StopSignals::exit_code() const { return 128 + received.load(); }

}  // namespace xai::cli
