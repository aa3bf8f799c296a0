// The one way stylize writes a finished file (images, reports, checkpoint
// records): to a temporary file in the same directory, flushed to disk, then
// renamed over the target. A reader never sees a half-written file, and a
// failed or killed write leaves the old file (or none) in place.
#pragma once

#include <string>
#include <string_view>

namespace stylize {

// Writes `bytes` to `path` atomically. The temporary file is named
// ".<name>.tmp<pid>-<n>" beside the target and removed on every failure path.
// Throws OutputError "cannot write <what> '<path>': <reason>" (`what` may be
// empty, e.g. "output").
void write_file_atomically(const std::string& path, std::string_view bytes, const std::string& what = "");

}  // namespace stylize
