// Where VGG19 weights come from and where stylize looks for them: the files it
// knows (README, "Weights"), the search order, the download cache, and what to
// download when nothing is found. Nothing here touches the network (the CLI
// combines this with the fetch wing).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace stylize {

// A VGG19 weights file stylize knows about.
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

// File name of the default weights, Keras's VGG19 "notop" file; it is
// downloaded into weights_cache_dir() on first use.
constexpr const char* kDefaultWeightsFileName = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5";

// Where downloaded weights are kept: $XDG_CACHE_HOME/stylize, else
// $HOME/.cache/stylize; empty when neither variable is set.
std::string weights_cache_dir();

// The folders searched for weights, in order: models/ under the current
// directory, then the models/ folders of the installation: <prefix>/share/stylize/models
// and <prefix>/models, where <prefix> is the folder above the running
// executable's (so build/stylize finds the source tree's models/); then
// weights_cache_dir(). Folders that do not exist are listed too.
std::vector<std::string> weights_search_directories();

// Where weights are looked for, in order, when no --weights is given:
// $STYLIZE_WEIGHTS; then in each search directory models/vgg19.safetensors and
// models/<kDefaultWeightsFileName> (only the latter in the cache).
std::vector<std::string> default_weights_candidates();

// The weights file to use: `explicit_path` when given (it must exist), else
// $STYLIZE_WEIGHTS when set (it must exist), else the first existing default
// candidate, else nullopt. Throws WeightsError when a named file is missing.
std::optional<std::string> find_weights(const std::string& explicit_path);

// What is downloaded when no weights are found.
struct DownloadSource {
  std::string url;
  std::string checksum;  // MD5 or SHA-256, hex
  uint64_t size = 0;     // expected bytes, 0: unknown
  std::string size_text;
  std::string file_name;  // name in weights_cache_dir()
};

// The Keras VGG19 notop file. STYLIZE_WEIGHTS_URL replaces the URL (a mirror, or
// a local server in tests); STYLIZE_WEIGHTS_CHECKSUM replaces the checksum (only
// for a mirror serving a different file, and tests; the size check is then dropped).
DownloadSource default_download_source();

// Whether the environment forbids network access (STYLIZE_OFFLINE set to
// anything but "", "0", "false", "no").
bool offline_from_environment();

}  // namespace stylize
