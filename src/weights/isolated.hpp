// Running a weights reader in a child process (internal to the weights wing).
//
// libhdf5 trusts the structure of the file it reads: fuzzing the Keras reader
// found corrupt global heaps that make it copy past its buffers, crash, leak or
// loop forever (tests/fuzz_regressions/fuzz_keras_h5/). Such a file must give a
// WeightsError, not a crashed or hung stylize, so the Keras reader runs in a
// forked child that sends the weights back through a pipe; a child that
// crashes, or runs past its time, means a corrupt file.
#pragma once

#include <functional>
#include <string>

#include "stylize/weights/weights.hpp"

namespace stylize::detail {

// Runs `read` in a child process and returns what it read, or throws the
// WeightsError it threw. A child that dies, or uses more than `cpu_seconds` of
// CPU time (or four times that in wall time), is reported as a WeightsError
// "cannot read weights file '<name>': ..., the file is corrupt".
VggWeights read_in_child(const std::string& name, double cpu_seconds, const std::function<VggWeights()>& read);

}  // namespace stylize::detail
