#include "interrupt.hpp"

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

void set_handler(void (*handler)(int)) {
  struct sigaction action {};
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (const int signal : {SIGINT, SIGTERM, SIGHUP}) sigaction(signal, &action, nullptr);
}

extern "C" void on_early_signal(int signal) {
  // rmdir is async-signal-safe, and removes only empty folders; innermost first.
  for (const FolderNode* node = g_early_folders.load(); node != nullptr; node = node->older) {
    ::rmdir(node->path.c_str());
  }
  std::signal(signal, SIG_DFL);
  std::raise(signal);
}

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

int interrupt_signal() { return g_signal.load(); }

void reset_interrupt() { g_signal.store(0); }

}  // namespace stylize::cli
