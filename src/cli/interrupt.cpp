#include "interrupt.hpp"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <initializer_list>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <csignal>

namespace stylize::cli {
namespace {

std::atomic<int> g_signal{0};
std::atomic<bool> g_run_handlers{false};

// The folders an early signal removes, the newest first: each node is written
// once, before it is published, and never changed or freed (a handler may be
// reading it).
struct FolderNode {
  std::string path;
  const FolderNode* older;
};
std::atomic<const FolderNode*> g_early_folders{nullptr};

constexpr int kStopSignals[] = {SIGINT, SIGTERM, SIGHUP};

// A hangup the process was started ignoring (nohup: how a user asks a run to
// outlive the terminal) stays ignored. SIGINT and SIGTERM are handled even
// where the process started ignoring them (a shell script's background job
// ignores SIGINT): a deliberate kill still stops the run, and it saves. Read
// before the first handler is set (main() sets one first thing).
bool started_ignoring(int signal) {
  static const bool hangup_ignored = [] {
    struct sigaction now {};
    return sigaction(SIGHUP, nullptr, &now) == 0 && now.sa_handler == SIG_IGN;
  }();
  return signal == SIGHUP && hangup_ignored;
}

void set_handler(void (*handler)(int)) {
  struct sigaction action {};
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (const int signal : kStopSignals) {
    if (!started_ignoring(signal)) sigaction(signal, &action, nullptr);
  }
}

void remove_early_folders() {
  // rmdir is async-signal-safe, and removes only empty folders; innermost first.
  for (const FolderNode* node = g_early_folders.load(); node != nullptr; node = node->older) {
    ::rmdir(node->path.c_str());
  }
}

// Ends the process as `signal`'s default action does. As a PID namespace's
// first process (a container started without an init: Kubernetes, docker
// run) the kernel ignores a default action, and the raise returns: then it
// exits with the status a shell gives a process the signal killed.
[[noreturn]] void die_of(int signal) {
  std::signal(signal, SIG_DFL);
  // Delivered now, not once the handler that calls this returns (a handler runs with its signal blocked).
  sigset_t own;
  sigemptyset(&own);
  sigaddset(&own, signal);
  pthread_sigmask(SIG_UNBLOCK, &own, nullptr);
  std::raise(signal);
  ::_exit(128 + signal);
}

extern "C" void on_early_signal(int signal) {
  remove_early_folders();
  die_of(signal);
}

extern "C" void on_signal_while_reading(int signal) {
  remove_early_folders();
  // write and _exit are async-signal-safe; the message is the one run_jobs
  // gives a signal that came before the first iteration.
  static const char kMessage[] = "warning: interrupted before the first iteration; nothing was written\n";
  const ssize_t ignored = ::write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
  (void)ignored;
  ::_exit(128 + signal);
}

extern "C" void on_signal(int signal) {
  int none = 0;
  if (g_signal.compare_exchange_strong(none, signal)) return;  // the first request
  if (signal == SIGINT) die_of(SIGINT);                        // a second Ctrl-C: leave at once, without saving
  // A repeated SIGTERM: the same request, already being served.
}

}  // namespace

void stop_at_once_on_signals() { set_handler(on_early_signal); }

void install_interrupt_handlers() {
  g_run_handlers = true;
  set_handler(on_signal);
  // A closed standard output (`| head`) only loses progress lines.
  std::signal(SIGPIPE, SIG_IGN);
}

void remove_if_stopped_before_the_run(const OutputFolders& folders) {
  if (g_run_handlers) return;
  static std::mutex mutex;
  static std::set<std::string> published;
  const std::lock_guard<std::mutex> lock(mutex);
  bool added = false;
  for (const std::string& folder : folders.created()) {  // outermost first
    if (!published.insert(folder).second) continue;
    g_early_folders = new FolderNode{folder, g_early_folders.load()};  // never freed: a handler may hold it
    added = true;
  }
  if (added) set_handler(on_early_signal);
}

StopWhileReading::StopWhileReading() {
  if (g_run_handlers) return;  // a run's (a batch worker's next job): it saves what it reached
  struct sigaction action {};
  action.sa_handler = on_signal_while_reading;
  sigemptyset(&action.sa_mask);
  for (int i = 0; i < 3; ++i) {
    if (!started_ignoring(kStopSignals[i])) sigaction(kStopSignals[i], &action, &earlier_[i]);
  }
  active_ = true;
}

StopWhileReading::~StopWhileReading() {
  if (!active_) return;
  for (int i = 0; i < 3; ++i) {
    if (!started_ignoring(kStopSignals[i])) sigaction(kStopSignals[i], &earlier_[i], nullptr);
  }
}

int interrupt_signal() { return g_signal.load(); }

void reset_interrupt() { g_signal.store(0); }

}  // namespace stylize::cli
