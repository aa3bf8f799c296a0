// The one way stylize writes a finished file (images, reports, checkpoint
// records): to a temporary file in the same directory, flushed to disk, then
// renamed over the target, and the directory flushed. A reader never sees a
// half-written file, and a failed or killed write leaves the old file (or none)
// in place. A symbolic link is followed (the file it points to is replaced, the
// link kept); a named pipe or a device (/dev/null) is written into, as a shell
// redirection would, never replaced.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace stylize {

// Writes `bytes` to `path` atomically and durably (fsync of the file before the
// rename, of the directory after). The temporary file is temporary_path(path, n);
// it is removed on every failure path. Throws OutputError "cannot write <what>
// '<path>': <reason>" (`what` may be empty, e.g. "output").
void write_file_atomically(const std::string& path, std::string_view bytes, const std::string& what = "");

// Where write_file_atomically's producer puts the bytes of the file, in order.
// It never fails or throws: it keeps the first error writing them, drops what
// comes after it, and write_file_atomically throws it once the producer has
// returned. So a producer that must not be stopped half-way (torch::save's
// archive writer aborts the process when its output fails) always finishes.
using ByteSink = std::function<void(const void* data, size_t size)>;

// The same for a file made piece by piece, never held in memory whole: what
// `produce` gives its sink. When `produce` throws, the temporary file is
// removed and the exception goes on, the old file (or none) left in place.
void write_file_atomically(const std::string& path, const std::function<void(const ByteSink&)>& produce,
                           const std::string& what = "");

// The name of this process's n-th temporary for `path`:
// ".<name>.tmp-stylize-<host>-<pid>-<n>" beside it.
std::string temporary_path(const std::string& path, unsigned n);

// Removes the temporaries in `path`'s directory (the directory of the file a
// symbolic link there points to) left by killed processes
// (SIGKILL, power loss): those named by temporary_path on this host whose
// process no longer exists. Returns how many it removed.
int remove_stale_temporaries(const std::string& path);

// Bytes of name the files stylize writes beside an output image add to its
// name (out_s2_0300.png.adam beside out.png; out.png.lock, .json).
constexpr size_t kNameRoom = 24;

// Checks before any work that `path` can be written later: not a directory, in
// an existing directory in which a file can be created (it creates and removes
// a probe file), under a file name the folder takes with `name_room` bytes to
// spare. `what` names it in the error ("report"). Throws OutputError.
void check_writable(const std::string& path, const std::string& what, size_t name_room = 0);

// Creates the folders above `path` that do not exist yet (for outputs named by
// a template, which may name folders too) and returns them, outermost first.
// Throws OutputError "cannot create the folder '<folder>' for '<path>': <reason>".
std::vector<std::string> create_parent_folders(const std::string& path);

// The folders a command creates for its outputs. Those still empty when it is
// destroyed (the command failed before writing anything there, e.g. on a
// missing input) are removed again, innermost first; the others are kept.
class OutputFolders {
 public:
  OutputFolders() = default;
  OutputFolders(const OutputFolders&) = delete;
  OutputFolders& operator=(const OutputFolders&) = delete;
  ~OutputFolders();

  // create_parent_folders(path), remembering what it created.
  void create_for(const std::string& path);
  // Keeps every folder created so far, empty or not (the work has begun, and
  // another process may be about to write there).
  void keep() { created_.clear(); }
  // The folders created and not kept, outermost first.
  const std::vector<std::string>& created() const { return created_; }

 private:
  std::vector<std::string> created_;
};

}  // namespace stylize
