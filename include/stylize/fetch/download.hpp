// A resumable, verified HTTP(S) download on libcurl. It knows nothing about
// what it downloads (the CLI asks it for the VGG19 weights). Nothing here
// prints: progress goes through a callback, failures are thrown as FetchError
// whose message names the URL, the reason and the exact path to save the file
// to by hand.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace stylize {

// Reported while a download runs. Called from the downloading thread.
struct DownloadProgress {
  enum class Stage { Starting, Transferring, Verifying, Done };
  Stage stage = Stage::Starting;
  std::string url;
  std::string destination;
  uint64_t bytes = 0;         // of the file so far, counting a resumed part
  uint64_t total = 0;         // expected size, 0 when unknown
  uint64_t resumed_from = 0;  // bytes already there when this attempt started
  int attempt = 1;
  std::string retry_reason;  // after the first attempt: why the one before ended (a cut-off, an HTTP 503)
};
// Returns false to cancel the download (the partial file is kept for resuming).
using DownloadCallback = std::function<bool(const DownloadProgress&)>;

struct DownloadRequest {
  std::string url;             // http:// or https://
  std::string destination;     // final path; the data goes to destination + ".partial" until verified
  std::string checksum;        // MD5 or SHA-256 in hex; required
  uint64_t expected_size = 0;  // 0: not checked
  int max_attempts = 3;        // transfers cut off half way are resumed up to this many times
  int retry_delay_ms = 1000;   // pause before a new attempt, times the attempt number
  long connect_timeout_s = 30;
  long low_speed_timeout_s = 60;  // give up an attempt slower than 1 KB/s for this long
  DownloadCallback progress;      // may be empty
};

// Downloads request.url to request.destination: resumes an existing .partial
// file (libcurl's resume; a server that cannot resume it makes the download
// start over), retries transfers that break off, verifies the size and
// checksum, and only then renames the .partial file to the destination
// (atomic: a reader never sees a half-written or unverified file). A file whose
// checksum is wrong is deleted. Creates the destination's directory.
// Throws FetchError.
void download_file(const DownloadRequest& request);

}  // namespace stylize
