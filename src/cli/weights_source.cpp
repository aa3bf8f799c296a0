#include "weights_source.hpp"

#include <cstdio>
#include <filesystem>
#include <memory>

#include <spdlog/spdlog.h>

#include "stylize/errors.hpp"
#include "stylize/fetch/digest.hpp"
#include "stylize/fetch/download.hpp"
#include "stylize/fetch/download_lock.hpp"
#include "stylize/weights/catalog.hpp"
#include "terminal_bar.hpp"

namespace stylize::cli {

std::string human_size(uint64_t bytes) {
  char text[32];
  if (bytes < 1000000) {
    std::snprintf(text, sizeof text, "%.0f KB", static_cast<double>(bytes) / 1e3);
  } else {
    std::snprintf(text, sizeof text, "%.1f MB", static_cast<double>(bytes) / 1e6);
  }
  return text;
}

namespace {

namespace fs = std::filesystem;

// Renders download progress on stderr: the bar on a terminal, a line every 10% otherwise (logs, CI).
class DownloadDisplay {
 public:
  explicit DownloadDisplay(bool quiet) : quiet_(quiet), bar_(!quiet) {}

  bool update(const DownloadProgress& p) {
    if (quiet_) return true;
    const auto now = std::chrono::steady_clock::now();
    switch (p.stage) {
      case DownloadProgress::Stage::Starting:
        bar_.clear();
        if (p.retry_reason.empty()) {
          spdlog::info("downloading the VGG19 weights from {}", p.url);
          spdlog::info("to {}", p.destination);
        } else {
          spdlog::info("{}; trying again (attempt {})", p.retry_reason, p.attempt);
        }
        if (p.resumed_from > 0) spdlog::info("resuming after the {} already downloaded", human_size(p.resumed_from));
        next_percent_ = 10;
        started_ = now;
        break;
      case DownloadProgress::Stage::Transferring: {
        const double seconds = std::chrono::duration<double>(now - started_).count();
        const double rate = seconds > 0 ? static_cast<double>(p.bytes - p.resumed_from) / seconds : 0.0;
        if (bar_.active()) {
          char detail[96];
          std::snprintf(detail, sizeof detail, "%s%s%s  %.1f MB/s", human_size(p.bytes).c_str(), p.total ? " / " : "",
                        p.total ? human_size(p.total).c_str() : "", rate / 1e6);
          bar_.draw("", p.total > 0 ? static_cast<double>(p.bytes) / p.total : -1, detail, p.bytes == p.total);
        } else if (p.total > 0) {
          const int percent = static_cast<int>(100 * p.bytes / p.total);
          if (percent >= next_percent_) {
            std::fprintf(stderr, "downloaded %d%% (%s of %s)\n", percent, human_size(p.bytes).c_str(),
                         human_size(p.total).c_str());
            next_percent_ = percent / 10 * 10 + 10;
          }
        }
        break;
      }
      case DownloadProgress::Stage::Verifying:
        bar_.clear();
        spdlog::info("checking the checksum of {}", human_size(p.bytes));
        break;
      case DownloadProgress::Stage::Done:
        spdlog::info("verified and saved {}", p.destination);
        break;
    }
    return true;
  }

 private:
  bool quiet_;
  TerminalBar bar_;
  int next_percent_ = 10;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace

std::string how_to_get_weights() {
  const DownloadSource source = default_download_source();
  const std::string cache = weights_cache_dir();
  const auto algorithm = digest_algorithm_for(source.checksum);
  // (The script is in stylize's source folder, not beside an installed binary.)
  return "run `stylize weights download` where there is a network, or download " + source.url + " (" +
         source.size_text + ", " + (algorithm ? digest_name(*algorithm) : std::string("checksum")) + " " +
         source.checksum + ") and save it as " + (cache.empty() ? std::string("models") : cache) + "/" +
         kDefaultWeightsFileName + ", or pass --weights PATH, or set STYLIZE_WEIGHTS=PATH (stylize's source folder " +
         "also has scripts/download_models.sh, for torchvision's weights, 575 MB)";
}

std::string find_or_download_weights(const std::string& explicit_path, bool offline, bool quiet) {
  if (auto found = find_weights(explicit_path)) return *found;
  std::string looked;
  for (const auto& candidate : default_weights_candidates()) looked += (looked.empty() ? "" : ", ") + candidate;
  return download_default_weights(offline, quiet, "no VGG19 weights found (looked for " + looked + ")");
}

std::string download_default_weights(bool offline, bool quiet, const std::string& why) {
  if (offline || offline_from_environment()) {
    throw WeightsError(why +
                       " and offline mode (--offline or STYLIZE_OFFLINE) forbids downloading them. To get them: " +
                       how_to_get_weights());
  }
  const std::string cache = weights_cache_dir();
  if (cache.empty()) {
    throw WeightsError(why +
                       " and neither XDG_CACHE_HOME nor HOME is set, so there is no cache to download them to. "
                       "To get them: " +
                       how_to_get_weights());
  }
  const DownloadSource source = default_download_source();
  DownloadRequest request;
  request.url = source.url;
  request.destination = (fs::path(cache) / source.file_name).string();
  request.checksum = source.checksum;
  request.expected_size = source.size;
  auto display = std::make_shared<DownloadDisplay>(quiet);
  request.progress = [display](const DownloadProgress& p) { return display->update(p); };
  // Many first runs at once (the tasks of an array job on one shared cache):
  // one process downloads, the others wait for it and use its verified file.
  DownloadLockOptions lock;
  lock.on_wait = [quiet](const LockStatus& holder) {
    if (!quiet) {
      spdlog::info("another process is downloading the weights ({}); waiting for it", holder.reason);
    }
  };
  const auto ready = [&request] {
    std::error_code error;
    return fs::exists(request.destination, error);  // download_file() renames it into place only once verified
  };
  if (!fetch_once(
          request.destination, ready, [&request] { download_file(request); }, lock)) {
    spdlog::info("using the weights another process downloaded: {}", request.destination);
  }
  return request.destination;
}

}  // namespace stylize::cli
