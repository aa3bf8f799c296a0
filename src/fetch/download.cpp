#include "stylize/download.hpp"

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "stylize/digest.hpp"
#include "stylize/errors.hpp"
#include "stylize/weights.hpp"

namespace stylize {
namespace fs = std::filesystem;

namespace {

// Keras's own record of the file (keras/applications/vgg19.py: WEIGHTS_PATH_NO_TOP
// and the file_hash given to get_file; 32 hex digits, so MD5). The size is what
// Keras's downloader reports for it.
constexpr const char* kKerasNotopUrl =
    "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/"
    "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5";
constexpr const char* kKerasNotopMd5 = "253f8cb515780f3b799900260a226db6";
constexpr uint64_t kKerasNotopSize = 80134624;

std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

uint64_t file_size_or_zero(const std::string& path) {
  std::error_code error;
  const auto size = fs::file_size(path, error);
  return error ? 0 : static_cast<uint64_t>(size);
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string megabytes(uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return text;
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// State shared with libcurl's callbacks during one attempt.
struct Attempt {
  const DownloadRequest* request = nullptr;
  CURL* curl = nullptr;
  std::string partial_path;
  uint64_t resume_from = 0;  // bytes asked to skip with a Range request
  FILE* file = nullptr;
  bool started = false;        // the first body bytes arrived and the file is open
  uint64_t base = 0;           // bytes of the file before this attempt's body
  uint64_t written = 0;        // body bytes written in this attempt
  long long range_start = -1;  // from Content-Range
  bool cancelled = false;
  bool bad_range = false;  // 206 for a range other than the one asked for
  std::string write_error;
  DownloadProgress progress;
};

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* attempt = static_cast<Attempt*>(user);
  const std::string line(data, size * count);
  const std::string low = lower(line);
  if (low.rfind("http/", 0) == 0) attempt->range_start = -1;  // a new response (after a redirect)
  if (low.rfind("content-range:", 0) == 0) {
    const auto bytes = low.find("bytes");
    if (bytes != std::string::npos) {
      attempt->range_start = std::strtoll(low.c_str() + bytes + 5, nullptr, 10);
    }
  }
  return size * count;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* attempt = static_cast<Attempt*>(user);
  const size_t bytes = size * count;
  if (!attempt->started) {
    long code = 0;
    curl_easy_getinfo(attempt->curl, CURLINFO_RESPONSE_CODE, &code);
    const char* mode = "wb";
    attempt->base = 0;
    if (code == 206) {
      if (attempt->resume_from == 0 || attempt->range_start != static_cast<long long>(attempt->resume_from)) {
        attempt->bad_range = true;
        return 0;
      }
      mode = "ab";
      attempt->base = attempt->resume_from;
    }  // 200: the server sent the whole file (it ignored or was not asked a Range): start over
    attempt->file = std::fopen(attempt->partial_path.c_str(), mode);
    if (!attempt->file) {
      attempt->write_error = std::strerror(errno);
      return 0;
    }
    curl_off_t length = -1;
    curl_easy_getinfo(attempt->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
    attempt->progress.total =
        length >= 0 ? attempt->base + static_cast<uint64_t>(length) : attempt->request->expected_size;
    attempt->progress.resumed_from = attempt->base;
    attempt->progress.stage = DownloadProgress::Stage::Transferring;
    attempt->started = true;
  }
  if (std::fwrite(data, 1, bytes, attempt->file) != bytes) {
    attempt->write_error = std::strerror(errno);
    return 0;
  }
  attempt->written += bytes;
  attempt->progress.bytes = attempt->base + attempt->written;
  if (attempt->request->progress && !attempt->request->progress(attempt->progress)) {
    attempt->cancelled = true;
    return 0;
  }
  return bytes;
}

// Closes the partial file, flushing it to disk; false if that failed.
bool close_file(Attempt& attempt) {
  if (!attempt.file) return true;
  bool ok = std::fflush(attempt.file) == 0 && ::fsync(::fileno(attempt.file)) == 0;
  ok = std::fclose(attempt.file) == 0 && ok;
  attempt.file = nullptr;
  if (!ok && attempt.write_error.empty()) attempt.write_error = std::strerror(errno);
  return ok;
}

// Loopback addresses never go through a proxy (tests run a server on 127.0.0.1);
// the user's own no_proxy list is kept.
std::string no_proxy_list() {
  std::string list = env_or_empty("no_proxy");
  if (list.empty()) list = env_or_empty("NO_PROXY");
  return list + (list.empty() ? "" : ",") + "localhost,127.0.0.1,::1";
}

std::string http_reason(long code) {
  switch (code) {
    case 401:
    case 403:
      return "HTTP " + std::to_string(code) + " (access denied: the file is not public at this address)";
    case 404:
      return "HTTP 404 (Not Found: the server has no file at this address)";
    case 410:
      return "HTTP 410 (Gone: the file was removed from this address)";
    case 429:
      return "HTTP 429 (Too Many Requests: the server is rate limiting, try again later)";
    default:
      break;
  }
  if (code >= 500) return "HTTP " + std::to_string(code) + " (server error, try again later)";
  return "HTTP " + std::to_string(code);
}

enum class Outcome { Done, Retry, Fatal };

}  // namespace

const std::vector<KnownWeights>& known_weights() {
  static const std::vector<KnownWeights> catalog = [] {
    std::vector<KnownWeights> list;
    KnownWeights keras;
    keras.id = "keras-notop";
    keras.file_name = kDefaultWeightsFileName;
    keras.url = kKerasNotopUrl;
    keras.origin = "Keras applications (keras.applications.VGG19(include_top=False)), the default download";
    keras.format = "keras-hdf5";
    keras.convention = "caffe";
    keras.checksum = kKerasNotopMd5;
    keras.size = kKerasNotopSize;
    keras.size_text = "80 MB";
    keras.direct = true;
    list.push_back(keras);

    KnownWeights timm;
    timm.id = "timm-tv";
    timm.file_name = "vgg19.safetensors";
    timm.url = "https://huggingface.co/timm/vgg19.tv_in1k/resolve/main/model.safetensors";
    timm.origin = "timm vgg19.tv_in1k (torchvision's weights) via scripts/download_models.sh";
    timm.format = "safetensors";
    timm.convention = "torchvision";
    timm.checksum = "11aea017b543ff59233749d8f1cf544cda749378f5790d2fedab841fb86b7669";
    timm.size_text = "575 MB";
    timm.direct = true;
    list.push_back(timm);

    KnownWeights torchvision;
    torchvision.id = "torchvision";
    torchvision.file_name = "vgg19-dcbb9e9d.pth";
    torchvision.url = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth";
    torchvision.origin = "torchvision.models.vgg19(weights=\"IMAGENET1K_V1\")";
    torchvision.format = "pytorch";
    torchvision.convention = "torchvision";
    torchvision.sha256_prefix = "dcbb9e9d";
    torchvision.size_text = "548 MB";
    list.push_back(torchvision);

    KnownWeights caffe;
    caffe.id = "caffe-pth";
    caffe.file_name = "vgg19-d01eb7cb.pth";
    caffe.url = "https://web.eecs.umich.edu/~justincj/models/vgg19-d01eb7cb.pth";
    caffe.origin = "Caffe VGG19 converted to PyTorch (jcjohnson/pytorch-vgg), used by neural-style-pt";
    caffe.format = "pytorch";
    caffe.convention = "caffe";
    caffe.sha256_prefix = "d01eb7cb";
    caffe.size_text = "548 MB";
    list.push_back(caffe);

    KnownWeights matconvnet;
    matconvnet.id = "matconvnet";
    matconvnet.file_name = "imagenet-vgg-verydeep-19.mat";
    matconvnet.url = "https://www.vlfeat.org/matconvnet/models/imagenet-vgg-verydeep-19.mat";
    matconvnet.origin = "MatConvNet pretrained models (used by anishathalye/neural-style)";
    matconvnet.format = "matconvnet";
    matconvnet.convention = "caffe";
    matconvnet.checksum = "106118b7cf60435e6d8e04f6a6dc3657";
    matconvnet.size_text = "about 510 MB";
    list.push_back(matconvnet);
    return list;
  }();
  return catalog;
}

const KnownWeights* find_known_weights(const std::string& file_name) {
  for (const auto& known : known_weights()) {
    if (known.file_name == file_name) return &known;
  }
  return nullptr;
}

std::string DownloadSource::checksum_name() const {
  const auto algorithm = digest_algorithm_for(checksum);
  return algorithm ? digest_name(*algorithm) : "checksum";
}

DownloadSource default_download_source() {
  const KnownWeights& keras = known_weights().front();
  DownloadSource source;
  source.url = keras.url;
  source.checksum = keras.checksum;
  source.size = keras.size;
  source.size_text = keras.size_text;
  source.file_name = keras.file_name;
  if (const std::string url = env_or_empty("STYLIZE_WEIGHTS_URL"); !url.empty()) source.url = url;
  if (const std::string checksum = env_or_empty("STYLIZE_WEIGHTS_CHECKSUM"); !checksum.empty()) {
    source.checksum = checksum;
    source.size = 0;
    source.size_text = "size unknown";
  }
  return source;
}

bool offline_from_environment() {
  const std::string value = lower(env_or_empty("STYLIZE_OFFLINE"));
  return !value.empty() && value != "0" && value != "false" && value != "no";
}

void download_file(const DownloadRequest& request) {
  const auto algorithm = digest_algorithm_for(request.checksum);
  const std::string partial = request.destination + ".partial";
  const std::string by_hand =
      "To install it by hand, download " + request.url + " (for example: curl -L -o '" + request.destination + "' '" +
      request.url + "') and save it as " + request.destination +
      (algorithm ? "; its " + digest_name(*algorithm) + " must be " + lower(request.checksum) : std::string());
  auto failure = [&](const std::string& reason) {
    return DownloadError("cannot download " + request.url + ": " + reason + ". " + by_hand);
  };
  if (!algorithm) {
    throw failure("no valid checksum to verify it with ('" + request.checksum +
                  "' is neither an MD5 nor a SHA-256 in hex)");
  }
  const std::string scheme = lower(request.url.substr(0, request.url.find("://") + 3));
  if (scheme != "http://" && scheme != "https://") throw failure("only http:// and https:// addresses are supported");
  std::error_code error;
  const fs::path directory = fs::path(request.destination).parent_path();
  std::vector<fs::path> created;  // directories this call makes, deepest first
  for (fs::path p = directory; !p.empty() && !fs::exists(p, error); p = p.parent_path()) {
    created.push_back(p);
    if (p == p.parent_path()) break;
  }
  if (!created.empty()) fs::create_directories(directory, error);
  if (error) throw failure("cannot create the directory " + directory.string() + ": " + error.message());

  global_init();
  // Leaves no empty partial file behind (a failure before any data arrived),
  // nor the directories made for it.
  auto drop_empty_partial = [&] {
    std::error_code ignored;
    if (fs::exists(partial, ignored) && file_size_or_zero(partial) == 0) fs::remove(partial, ignored);
    for (const auto& made : created) {
      if (!fs::is_empty(made, ignored) || ignored) break;
      fs::remove(made, ignored);
    }
  };
  std::string last_reason = "no attempt was made";
  const int attempts = std::max(1, request.max_attempts);
  for (int number = 1; number <= attempts; ++number) {
    if (number > 1 && request.retry_delay_ms > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(request.retry_delay_ms * (number - 1)));
    }
    Attempt attempt;
    attempt.request = &request;
    attempt.partial_path = partial;
    attempt.resume_from = file_size_or_zero(partial);
    attempt.progress.url = request.url;
    attempt.progress.destination = request.destination;
    attempt.progress.attempt = number;
    attempt.progress.total = request.expected_size;
    attempt.progress.bytes = attempt.resume_from;
    attempt.progress.resumed_from = attempt.resume_from;
    if (request.progress && !request.progress(attempt.progress)) {
      throw DownloadError("download of " + request.url + " cancelled");
    }

    Outcome outcome = Outcome::Done;
    const bool already_complete = request.expected_size > 0 && attempt.resume_from >= request.expected_size;
    if (!already_complete) {
      CURL* curl = curl_easy_init();
      if (!curl) throw failure("libcurl could not start");
      attempt.curl = curl;
      char error_buffer[CURL_ERROR_SIZE] = "";
      const std::string range = std::to_string(attempt.resume_from) + "-";
      const std::string no_proxy = no_proxy_list();
      curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
      curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
      curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
#if LIBCURL_VERSION_NUM >= 0x075500
      curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
      curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
      curl_easy_setopt(curl, CURLOPT_PROTOCOLS, CURLPROTO_HTTP | CURLPROTO_HTTPS);
      curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS, CURLPROTO_HTTP | CURLPROTO_HTTPS);
#endif
      curl_easy_setopt(curl, CURLOPT_FAILONERROR, 1L);
      curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(curl, CURLOPT_NOPROXY, no_proxy.c_str());
      curl_easy_setopt(curl, CURLOPT_USERAGENT, "stylize (libcurl)");
      curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, request.connect_timeout_s);
      curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
      curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, request.low_speed_timeout_s);
      curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
      curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
      curl_easy_setopt(curl, CURLOPT_HEADERDATA, &attempt);
      curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
      curl_easy_setopt(curl, CURLOPT_WRITEDATA, &attempt);
      if (attempt.resume_from > 0) curl_easy_setopt(curl, CURLOPT_RANGE, range.c_str());
      const CURLcode code = curl_easy_perform(curl);
      long http_code = 0;
      curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http_code);
      curl_easy_cleanup(curl);
      const bool closed = close_file(attempt);

      if (attempt.cancelled) {
        drop_empty_partial();
        throw DownloadError("download of " + request.url + " cancelled; " +
                            (fs::exists(partial, error)
                                 ? "the partial file " + partial + " is kept and resumed next time"
                                 : std::string("nothing was written")));
      }
      if (!attempt.write_error.empty() || !closed) {
        drop_empty_partial();
        throw failure("cannot write " + partial + ": " + attempt.write_error);
      }
      if (attempt.bad_range) {
        fs::remove(partial, error);
        last_reason = "the server answered the resume request with the wrong part of the file";
        outcome = Outcome::Retry;
      } else if (code == CURLE_OK) {
        if (!attempt.started) {  // an empty file
          if (FILE* empty = std::fopen(partial.c_str(), "wb")) std::fclose(empty);
        }
        outcome = Outcome::Done;
      } else if (code == CURLE_HTTP_RETURNED_ERROR) {
        last_reason = http_reason(http_code);
        if (http_code == 416 && attempt.resume_from > 0) {
          fs::remove(partial, error);  // the partial file does not fit the server's file: start over
          last_reason = "the server refused to resume the partial file (HTTP 416)";
          outcome = Outcome::Retry;
        } else {
          outcome = http_code >= 500 || http_code == 408 || http_code == 429 ? Outcome::Retry : Outcome::Fatal;
        }
      } else {
        last_reason = curl_easy_strerror(code);
        if (*error_buffer) last_reason += std::string(" (") + error_buffer + ")";
        switch (code) {
          case CURLE_COULDNT_RESOLVE_HOST:
          case CURLE_COULDNT_RESOLVE_PROXY:
            last_reason += " - no network? Behind a proxy, set https_proxy";
            outcome = Outcome::Fatal;
            break;
          case CURLE_COULDNT_CONNECT:
          case CURLE_UNSUPPORTED_PROTOCOL:
          case CURLE_URL_MALFORMAT:
          case CURLE_PEER_FAILED_VERIFICATION:
          case CURLE_SSL_CACERT_BADFILE:
          case CURLE_TOO_MANY_REDIRECTS:
            outcome = Outcome::Fatal;
            break;
          default:  // cut off, timed out, reset: resume in the next attempt
            outcome = Outcome::Retry;
        }
      }
    }
    if (outcome == Outcome::Fatal) {
      drop_empty_partial();
      const uint64_t kept = file_size_or_zero(partial);
      throw failure(last_reason + (kept > 0 ? " (the " + megabytes(kept) + " already downloaded in " + partial +
                                                  " are kept; running again resumes)"
                                            : std::string()));
    }
    if (outcome == Outcome::Retry) continue;

    // Complete as far as the transfer goes: check size, then checksum.
    const uint64_t size = file_size_or_zero(partial);
    if (request.expected_size > 0 && size < request.expected_size) {
      last_reason = "the transfer ended after " + std::to_string(size) + " of " +
                    std::to_string(request.expected_size) + " bytes";
      continue;  // resume
    }
    if (request.expected_size > 0 && size > request.expected_size) {
      fs::remove(partial, error);
      last_reason = "the server sent " + std::to_string(size) + " bytes, expected " +
                    std::to_string(request.expected_size) + " (a different file?)";
      if (attempt.resume_from > 0) continue;  // a stale partial file: start over once
      drop_empty_partial();
      throw failure(last_reason);
    }
    DownloadProgress verifying = attempt.progress;
    verifying.stage = DownloadProgress::Stage::Verifying;
    verifying.bytes = size;
    verifying.total = size;
    if (request.progress) request.progress(verifying);
    const std::string found = file_digest(partial, *algorithm);
    if (found != lower(request.checksum)) {
      fs::remove(partial, error);
      last_reason = "the downloaded file's " + digest_name(*algorithm) + " is " + found + ", expected " +
                    lower(request.checksum) + " (corrupt download or a different file; it was deleted)";
      if (attempt.resume_from > 0) continue;  // perhaps a stale partial file: start over once
      drop_empty_partial();
      throw failure(last_reason);
    }
    fs::rename(partial, request.destination, error);
    if (error) {
      throw failure("cannot move the verified file " + partial + " to " + request.destination + ": " + error.message());
    }
    verifying.stage = DownloadProgress::Stage::Done;
    if (request.progress) request.progress(verifying);
    return;
  }
  drop_empty_partial();
  const uint64_t kept = file_size_or_zero(partial);
  throw failure(last_reason + " (gave up after " + std::to_string(attempts) + " attempts" +
                (kept > 0 ? "; the " + megabytes(kept) + " downloaded so far are kept in " + partial +
                                " and running again resumes)"
                          : ")"));
}

std::string resolve_or_download_weights(const std::string& explicit_path, bool offline,
                                        const DownloadCallback& progress) {
  if (auto found = find_weights(explicit_path)) return *found;
  std::string looked;
  for (const auto& candidate : default_weights_candidates()) looked += (looked.empty() ? "" : ", ") + candidate;
  if (offline || offline_from_environment()) {
    throw WeightsError("no VGG19 weights found (looked for " + looked +
                       ") and offline mode (--offline or STYLIZE_OFFLINE) forbids downloading them. To get them: " +
                       how_to_get_weights());
  }
  const std::string cache = weights_cache_dir();
  if (cache.empty()) {
    throw WeightsError("no VGG19 weights found (looked for " + looked +
                       ") and neither XDG_CACHE_HOME nor HOME is set, so there is no cache to download them to. "
                       "To get them: " +
                       how_to_get_weights());
  }
  const DownloadSource source = default_download_source();
  DownloadRequest request;
  request.url = source.url;
  request.destination = (fs::path(cache) / source.file_name).string();
  request.checksum = source.checksum;
  request.expected_size = source.size;
  request.progress = progress;
  download_file(request);
  return request.destination;
}

}  // namespace stylize
