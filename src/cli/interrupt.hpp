// SIGINT, SIGTERM and SIGHUP ask a run to stop: the optimizer finishes its iteration
// (in tiles: abandons it before the next tile, Stylizer::set_stop_check), stylize
// saves the image with its checkpoint record and exits 128 + signal.
// One request is one request however often it arrives: schedulers may signal
// a task's processes more than once (Slurm's --signal and then its time
// limit, a requeue after a preemption notice, kubectl delete twice), and a
// repeated SIGTERM must not kill the run before it has saved. Only a second
// Ctrl-C (SIGINT after any signal) leaves at once without saving, as a person
// at a terminal expects.
#pragma once

#include <signal.h>

#include "stylize/io/file.hpp"

namespace stylize::cli {

// From the start of main() until the handlers below: a signal ends the
// command at once, as its default action does, also where the kernel gives
// it none (a container's first process, whose default actions it ignores).
void stop_at_once_on_signals();

// Installs the handlers. load_weights_for() calls it once the weights are
// found: a download before that point stops at once, a run after it saves.
void install_interrupt_handlers();

// Until then, a signal stops the command at once, as the signal's default
// does, but first removes the output folders it made for the run, where still
// empty (those `folders` has created so far, and those given before;
// destructors do not run then). Called after each creation; each folder is
// added once.
void remove_if_stopped_before_the_run(const OutputFolders& folders);

// While it lives (the inputs are read, before the weights and the run), a
// signal ends the command at once, with the status (128 + signal) and the
// warning of a run interrupted before its first iteration, after removing the
// folders remove_if_stopped_before_the_run was given: a read of a pipe that
// never delivers would not return to look at a flag. Then the handlers there
// were are back.
class StopWhileReading {
 public:
  StopWhileReading();
  ~StopWhileReading();
  StopWhileReading(const StopWhileReading&) = delete;
  StopWhileReading& operator=(const StopWhileReading&) = delete;

 private:
  struct sigaction earlier_[3];
  bool active_ = false;
};

// The first signal received (SIGINT, SIGTERM or SIGHUP), or 0.
int interrupt_signal();

// For the tests: forgets a received signal.
void reset_interrupt();

}  // namespace stylize::cli
