// Getting weights onto the machine: the catalog of VGG19 files stylize knows,
// the first-run download of the default one (Keras's VGG19 "notop" file) into
// the user's cache, and a resumable, verified HTTP(S) download built on libcurl.
// Nothing here prints: progress goes through a callback, failures are thrown as
// DownloadError (a WeightsError) whose message names the URL, the reason and
// the exact path to save the file to by hand.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace stylize {

// A VGG19 weights file stylize knows about (README, "Weights").
struct KnownWeights {
  std::string id;             // "keras-notop"
  std::string file_name;      // "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
  std::string url;            // where its publisher serves it
  std::string origin;         // who publishes it, for people
  std::string format;         // "keras-hdf5", "safetensors", "pytorch", "matconvnet"
  std::string convention;     // input convention: "caffe" or "torchvision"
  std::string checksum;       // published MD5 (32 hex) or SHA-256 (64 hex) of the whole file; may be empty
  std::string sha256_prefix;  // torch hub style: the file name's hash is the SHA-256's first 8 hex digits
  uint64_t size = 0;          // bytes, 0 when not known exactly
  std::string size_text;      // "80 MB"
  bool direct = false;        // stylize reads it as is; otherwise scripts/convert_weights.py converts it
};

// Every file of the README table, the default download first.
const std::vector<KnownWeights>& known_weights();

// The catalog entry whose file name is `file_name`, or nullptr.
const KnownWeights* find_known_weights(const std::string& file_name);

// What is downloaded when no weights are found.
struct DownloadSource {
  std::string url;
  std::string checksum;  // MD5 or SHA-256, hex
  uint64_t size = 0;     // expected bytes, 0: unknown
  std::string size_text;
  std::string file_name;              // name in weights_cache_dir()
  std::string checksum_name() const;  // "MD5" or "SHA-256"
};

// The Keras VGG19 notop file. STYLIZE_WEIGHTS_URL replaces the URL (a mirror, or
// a local server in tests); STYLIZE_WEIGHTS_CHECKSUM replaces the checksum (only
// for a mirror serving a different file, and tests; the size check is then dropped).
DownloadSource default_download_source();

// Whether the environment forbids network access (STYLIZE_OFFLINE set to
// anything but "", "0", "false", "no").
bool offline_from_environment();

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
// file with an HTTP Range request (starting over if the server ignores it),
// retries transfers that break off, verifies the size and checksum, and only
// then renames the .partial file to the destination (atomic: a reader never
// sees a half-written or unverified file). A file whose checksum is wrong is
// deleted. Creates the destination's directory. Does not consult
// STYLIZE_OFFLINE (see resolve_or_download_weights). Throws DownloadError.
void download_file(const DownloadRequest& request);

// The weights to use: find_weights(explicit_path) when it finds a file;
// otherwise, unless `offline` or STYLIZE_OFFLINE forbid it, downloads
// default_download_source() into weights_cache_dir() and returns its path.
// Throws WeightsError (offline, nowhere to download to) or DownloadError, each
// saying how to place the file by hand.
std::string resolve_or_download_weights(const std::string& explicit_path, bool offline,
                                        const DownloadCallback& progress = {});

}  // namespace stylize
