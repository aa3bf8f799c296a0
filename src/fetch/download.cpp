#include "stylize/fetch/download.hpp"

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
#include <optional>
#include <thread>
#include <vector>

#include "stylize/errors.hpp"
#include "stylize/fetch/digest.hpp"

namespace stylize {
namespace fs = std::filesystem;

namespace {

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

// State shared with libcurl's write callback during one attempt.
struct Attempt {
  const DownloadRequest* request = nullptr;
  CURL* curl = nullptr;
  std::string partial_path;
  uint64_t resume_from = 0;  // bytes of the partial file libcurl is asked to skip
  FILE* file = nullptr;
  bool started = false;  // the first body bytes arrived and the file is open
  uint64_t written = 0;  // body bytes written in this attempt
  bool cancelled = false;
  std::string write_error;
  DownloadProgress progress;
};

// libcurl delivers the body only once the response is usable: the whole file
// (no resume asked), or the part after resume_from (a 206 whose Content-Range
// starts there; libcurl refuses any other answer with CURLE_RANGE_ERROR).
size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* attempt = static_cast<Attempt*>(user);
  const size_t bytes = size * count;
  if (!attempt->started) {
    attempt->file = std::fopen(attempt->partial_path.c_str(), attempt->resume_from > 0 ? "ab" : "wb");
    if (!attempt->file) {
      attempt->write_error = std::strerror(errno);
      return 0;
    }
    curl_off_t length = -1;
    curl_easy_getinfo(attempt->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
    attempt->progress.total =
        length >= 0 ? attempt->resume_from + static_cast<uint64_t>(length) : attempt->request->expected_size;
    attempt->progress.stage = DownloadProgress::Stage::Transferring;
    attempt->started = true;
  }
  if (std::fwrite(data, 1, bytes, attempt->file) != bytes) {
    attempt->write_error = std::strerror(errno);
    return 0;
  }
  attempt->written += bytes;
  attempt->progress.bytes = attempt->resume_from + attempt->written;
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

// What one transfer left: the partial file complete as far as the server goes
// (Done), worth another attempt (Retry), the partial file useless: start over
// at once (Restart), or no point in trying again (Fatal).
enum class Outcome { Done, Retry, Restart, Fatal };

struct Transfer {
  Outcome outcome = Outcome::Done;
  std::string reason;  // why, unless Done
  // Done, and the server announced the length it sent (Content-Length): the
  // file ends there, on the server too; not a transfer cut short.
  bool length_announced = false;
};

// libcurl's options for one transfer of the request into the attempt's
// partial file, resuming it. The strings passed must outlive the transfer.
void set_transfer_options(CURL* curl, Attempt& attempt, const std::string& no_proxy, char* error_buffer) {
  const DownloadRequest& request = *attempt.request;
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
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &attempt);
  curl_easy_setopt(curl, CURLOPT_RESUME_FROM_LARGE, static_cast<curl_off_t>(attempt.resume_from));
}

// What a transfer that libcurl ended with an error (not a refused resume)
// means for the next attempt.
Transfer failed_transfer(CURLcode code, long http_code, const char* error_buffer) {
  if (code == CURLE_HTTP_RETURNED_ERROR) {
    const bool transient = http_code >= 500 || http_code == 408 || http_code == 429;
    return {transient ? Outcome::Retry : Outcome::Fatal, http_reason(http_code)};
  }
  std::string reason = curl_easy_strerror(code);
  if (*error_buffer) reason += std::string(" (") + error_buffer + ")";
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return {Outcome::Fatal, reason + " - no network? Behind a proxy, set https_proxy"};
    case CURLE_COULDNT_CONNECT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_TOO_MANY_REDIRECTS:
      return {Outcome::Fatal, reason};
    default:  // cut off, timed out, reset: resume in the next attempt
      return {Outcome::Retry, reason};
  }
}

// One libcurl transfer of request.url into the partial file, resuming it.
// Throws FetchError when the callback cancels or the file cannot be written.
Transfer transfer(Attempt& attempt, const std::function<FetchError(const std::string&)>& failure) {
  const DownloadRequest& request = *attempt.request;
  CURL* curl = curl_easy_init();
  if (!curl) throw failure("libcurl could not start");
  attempt.curl = curl;
  char error_buffer[CURL_ERROR_SIZE] = "";
  const std::string no_proxy = no_proxy_list();
  set_transfer_options(curl, attempt, no_proxy, error_buffer);
  const CURLcode code = curl_easy_perform(curl);
  long http_code = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http_code);
  curl_off_t announced = -1;
  curl_easy_getinfo(curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &announced);
  curl_easy_cleanup(curl);
  const bool closed = close_file(attempt);

  const std::string& partial = attempt.partial_path;
  if (attempt.cancelled) {
    throw FetchError("download of " + request.url + " cancelled; " +
                     (file_size_or_zero(partial) > 0 ? "the partial file " + partial + " is kept and resumed next time"
                                                     : std::string("nothing was written")));
  }
  if (!attempt.write_error.empty() || !closed) throw failure("cannot write " + partial + ": " + attempt.write_error);
  if (attempt.resume_from > 0 && (code == CURLE_RANGE_ERROR || http_code == 416)) {
    // The server cannot resume (no byte ranges, another part of the file) or
    // the partial file does not fit its file (416): start over.
    std::error_code ignored;
    fs::remove(partial, ignored);
    return {Outcome::Restart, http_code == 416 ? "the server refused to resume the partial file (HTTP 416)"
                                               : "the server cannot resume the partial file"};
  }
  if (code != CURLE_OK) return failed_transfer(code, http_code, error_buffer);
  if (!attempt.started && attempt.resume_from == 0) {  // an empty file
    if (FILE* empty = std::fopen(partial.c_str(), "wb")) std::fclose(empty);
  }
  return {Outcome::Done, "", announced >= 0};
}

// The directories above `file` that do not exist yet, created; deepest first,
// for drop_empty_partial to remove again. Throws through `failure`.
std::vector<fs::path> create_directories_for(const std::string& file,
                                             const std::function<FetchError(const std::string&)>& failure) {
  std::error_code error;
  const fs::path directory = fs::path(file).parent_path();
  std::vector<fs::path> created;
  for (fs::path p = directory; !p.empty() && !fs::exists(p, error); p = p.parent_path()) {
    created.push_back(p);
    if (p == p.parent_path()) break;
  }
  if (!created.empty()) fs::create_directories(directory, error);
  if (error) throw failure("cannot create the directory " + directory.string() + ": " + error.message());
  return created;
}

// What the partial file is once a transfer is done as far as the server goes.
struct Check {
  // Verified: the file asked for. Short: the transfer ended early (resume it).
  // Wrong: another file, deleted (start over, or give up).
  enum class Verdict { Verified, Short, Wrong } verdict = Verdict::Verified;
  std::string reason;  // unless Verified
  uint64_t size = 0;
};

// Checks the partial file's size, then its digest (saying so through the
// request's progress callback, as the digest of a large file takes a while).
Check check_partial_file(const DownloadRequest& request, const std::string& partial, DigestAlgorithm algorithm,
                         bool length_announced, DownloadProgress progress) {
  Check check;
  check.size = file_size_or_zero(partial);
  const uint64_t size = check.size, expected = request.expected_size;
  // Not the file asked for: deleted.
  const auto wrong = [&](const std::string& reason) {
    std::error_code ignored;
    fs::remove(partial, ignored);
    check.verdict = Check::Verdict::Wrong;
    check.reason = reason;
    return check;
  };
  if (expected > 0 && size < expected && !length_announced) {
    check.verdict = Check::Verdict::Short;
    check.reason = "the transfer ended after " + std::to_string(size) + " of " + std::to_string(expected) + " bytes";
    return check;
  }
  if (expected > 0 && size < expected) {
    // All the server announced arrived: its file is shorter, and resuming would never complete it.
    return wrong("the server's file is " + std::to_string(size) + " bytes, expected " + std::to_string(expected) +
                 " (a different or truncated file?)");
  }
  if (expected > 0 && size > expected) {
    return wrong("the server sent " + std::to_string(size) + " bytes, expected " + std::to_string(expected) +
                 " (a different file?)");
  }
  progress.stage = DownloadProgress::Stage::Verifying;
  progress.bytes = size;
  progress.total = size;
  if (request.progress) request.progress(progress);
  const std::string found = file_digest(partial, algorithm);
  if (found != lower(request.checksum)) {
    return wrong("the downloaded file's " + digest_name(algorithm) + " is " + found + ", expected " +
                 lower(request.checksum) + " (corrupt download or a different file; it was deleted)");
  }
  return check;
}

}  // namespace

namespace {

// The partial file a download writes, and the directories made for it: what
// a failure before any data arrived must not leave behind.
struct PartialFile {
  std::string path;
  std::vector<fs::path> created;

  // Removes the partial file when it is empty, then the directories made for
  // it that are empty.
  void drop_if_empty() const {
    std::error_code ignored;
    if (fs::exists(path, ignored) && file_size_or_zero(path) == 0) fs::remove(path, ignored);
    for (const auto& made : created) {
      if (!fs::is_empty(made, ignored) || ignored) break;
      fs::remove(made, ignored);
    }
  }

  // " (the 12.0 MB already downloaded in X.partial are kept; running again resumes)", or "".
  std::string kept(const std::string& already) const {
    const uint64_t bytes = file_size_or_zero(path);
    if (bytes == 0) return "";
    return " (the " + megabytes(bytes) + " " + already + " in " + path + " are kept; running again resumes)";
  }
};

// Attempt `number` of `request`, resuming the partial file where it ends;
// said through the progress callback, which may cancel the download.
// `retry_reason`: why the attempt before ended ("" for the first).
Attempt start_attempt(const DownloadRequest& request, const std::string& partial, int number,
                      const std::string& retry_reason) {
  Attempt attempt;
  attempt.request = &request;
  attempt.partial_path = partial;
  attempt.resume_from = file_size_or_zero(partial);
  attempt.progress.url = request.url;
  attempt.progress.destination = request.destination;
  attempt.progress.attempt = number;
  attempt.progress.retry_reason = retry_reason;
  attempt.progress.total = request.expected_size;
  attempt.progress.bytes = attempt.resume_from;
  attempt.progress.resumed_from = attempt.resume_from;
  if (request.progress && !request.progress(attempt.progress)) {
    throw FetchError("download of " + request.url + " cancelled");
  }
  return attempt;
}

// Moves the verified partial file to the destination and says it is done.
void install_verified(const DownloadRequest& request, const std::string& partial, const Check& check,
                      DownloadProgress progress, const std::function<FetchError(const std::string&)>& failure) {
  std::error_code error;
  fs::rename(partial, request.destination, error);
  if (error) {
    throw failure("cannot move the verified file " + partial + " to " + request.destination + ": " + error.message());
  }
  progress.stage = DownloadProgress::Stage::Done;
  progress.bytes = check.size;
  progress.total = check.size;
  if (request.progress) request.progress(progress);
}

// What a failed download tells the user to do instead.
std::string install_by_hand(const DownloadRequest& request, const std::optional<DigestAlgorithm>& algorithm) {
  return "To install it by hand, download " + request.url + " (for example: curl -L -o '" + request.destination +
         "' '" + request.url + "') and save it as " + request.destination +
         (algorithm ? "; its " + digest_name(*algorithm) + " must be " + lower(request.checksum) : std::string());
}

// Why a download gave up after all its attempts, and what it kept.
std::string gave_up(const std::string& last_reason, int attempts, const PartialFile& partial) {
  const uint64_t kept = file_size_or_zero(partial.path);
  return last_reason + " (gave up after " + std::to_string(attempts) + " attempts" +
         (kept > 0 ? "; the " + megabytes(kept) + " downloaded so far are kept in " + partial.path +
                         " and running again resumes)"
                   : ")");
}

}  // namespace

void download_file(const DownloadRequest& request) {
  const auto algorithm = digest_algorithm_for(request.checksum);
  const std::string by_hand = install_by_hand(request, algorithm);
  const std::function<FetchError(const std::string&)> failure = [&](const std::string& reason) {
    return FetchError("cannot download " + request.url + ": " + reason + ". " + by_hand);
  };
  if (!algorithm) {
    throw failure("no valid checksum to verify it with ('" + request.checksum +
                  "' is neither an MD5 nor a SHA-256 in hex)");
  }
  const std::string scheme = lower(request.url.substr(0, request.url.find("://") + 3));
  if (scheme != "http://" && scheme != "https://") throw failure("only http:// and https:// addresses are supported");
  const PartialFile partial{request.destination + ".partial", create_directories_for(request.destination, failure)};

  global_init();
  std::string last_reason = "no attempt was made";
  const int attempts = std::max(1, request.max_attempts);
  bool restarted = false;  // a partial file the server could not resume was dropped once
  for (int number = 1; number <= attempts; ++number) {
    if (number > 1 && request.retry_delay_ms > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(request.retry_delay_ms * (number - 1)));
    }
    Attempt attempt = start_attempt(request, partial.path, number, number > 1 || restarted ? last_reason : "");
    Transfer result;  // Done, with no length announced, when the partial file is already complete
    if (request.expected_size == 0 || attempt.resume_from < request.expected_size) {
      try {
        result = transfer(attempt, failure);
      } catch (const FetchError&) {
        partial.drop_if_empty();
        throw;
      }
      if (result.outcome != Outcome::Done) last_reason = result.reason;
    }
    if (result.outcome == Outcome::Restart) {
      // Starting over is not a new attempt (once: then there is no partial file to resume).
      if (!restarted) --number;
      restarted = true;
      continue;
    }
    if (result.outcome == Outcome::Fatal) {
      partial.drop_if_empty();
      throw failure(last_reason + partial.kept("already downloaded"));
    }
    if (result.outcome == Outcome::Retry) continue;

    // Complete as far as the transfer goes: check size, then checksum.
    const Check check =
        check_partial_file(request, partial.path, *algorithm, result.length_announced, attempt.progress);
    if (check.verdict == Check::Verdict::Short) {
      last_reason = check.reason;
      continue;  // resume
    }
    if (check.verdict == Check::Verdict::Wrong) {
      last_reason = check.reason;
      if (attempt.resume_from > 0) continue;  // perhaps a stale partial file: start over once
      partial.drop_if_empty();
      throw failure(last_reason);
    }
    return install_verified(request, partial.path, check, attempt.progress, failure);
  }
  partial.drop_if_empty();
  throw failure(gave_up(last_reason, attempts, partial));
}

}  // namespace stylize
