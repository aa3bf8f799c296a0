// Where a run's weights come from: the catalog's lookup (weights/catalog.hpp),
// else the default file downloaded into the cache (fetch/download.hpp), with
// its progress on standard error; else a message saying how to get them.
#pragma once

#include <cstdint>
#include <string>

namespace stylize::cli {

// One line a person can follow to get the default weights by hand.
std::string how_to_get_weights();

// A file size for people: "930 KB", "548.1 MB" (decimal units, as downloads are measured).
std::string human_size(uint64_t bytes);

// The weights file for a run: --weights, $STYLIZE_WEIGHTS, models/, the cache,
// else the default weights downloaded into the cache (unless `offline` or
// STYLIZE_OFFLINE), with a progress bar on stderr when it is a terminal and a
// line every 10% otherwise; nothing with `quiet`. Throws WeightsError (no
// weights and no download allowed or possible) or FetchError (the download
// failed), each saying how to get the file.
std::string find_or_download_weights(const std::string& explicit_path, bool offline, bool quiet);

// The default weights downloaded into the cache (or waited for while another
// process downloads them), whatever other file a run would find first; `why`
// begins the message where that is not allowed or possible ("no VGG19 weights
// found (looked for ...)"). Returns the cached file's path.
std::string download_default_weights(bool offline, bool quiet, const std::string& why);

}  // namespace stylize::cli
