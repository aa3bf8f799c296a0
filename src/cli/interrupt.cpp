#include "interrupt.hpp"

#include <signal.h>
#include <atomic>
#include <initializer_list>

#include <csignal>

namespace stylize::cli {
namespace {

std::atomic<int> g_signal{0};

extern "C" void on_signal(int signal) {
  int none = 0;
  if (g_signal.compare_exchange_strong(none, signal)) return;  // the first request
  if (signal == SIGINT) {
    // A second Ctrl-C: leave at once, without saving.
    std::signal(SIGINT, SIG_DFL);
    std::raise(SIGINT);
  }
  // A repeated SIGTERM: the same request, already being served.
}

}  // namespace

void install_interrupt_handlers() {
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (const int signal : {SIGINT, SIGTERM, SIGHUP}) sigaction(signal, &action, nullptr);
  // A closed standard output (`| head`) only loses progress lines.
  std::signal(SIGPIPE, SIG_IGN);
}

int interrupt_signal() { return g_signal.load(); }

void reset_interrupt() { g_signal.store(0); }

}  // namespace stylize::cli
