// `stylize weights list|verify|info|download`, and the download progress display.
#include "weights_command.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "stylize/digest.hpp"
#include "stylize/download.hpp"
#include "stylize/errors.hpp"
#include "stylize/weights.hpp"

namespace stylize::cli {
namespace {

namespace fs = std::filesystem;

constexpr int kOk = 0;
constexpr int kUsageError = 2;
constexpr int kWeightsError = 4;  // as main.cpp: weights missing, unreadable, unverified

std::string megabytes(uint64_t bytes) {
  char text[32];
  if (bytes < 1000000) {
    std::snprintf(text, sizeof text, "%.0f KB", static_cast<double>(bytes) / 1e3);
  } else {
    std::snprintf(text, sizeof text, "%.1f MB", static_cast<double>(bytes) / 1e6);
  }
  return text;
}

// Renders download progress on stderr: a bar redrawn in place on a terminal,
// a line every 10% otherwise (logs, CI).
class ProgressDisplay {
 public:
  explicit ProgressDisplay(bool quiet) : quiet_(quiet), tty_(::isatty(STDERR_FILENO) == 1) {}

  bool update(const DownloadProgress& p) {
    if (quiet_) return true;
    using Clock = std::chrono::steady_clock;
    const auto now = Clock::now();
    switch (p.stage) {
      case DownloadProgress::Stage::Starting:
        end_bar();
        if (p.attempt == 1) {
          spdlog::info("downloading the VGG19 weights from {}", p.url);
          spdlog::info("to {}", p.destination);
        } else {
          spdlog::info("the transfer broke off; attempt {}", p.attempt);
        }
        if (p.resumed_from > 0) spdlog::info("resuming after the {} already downloaded", megabytes(p.resumed_from));
        next_percent_ = 10;
        started_ = now;
        break;
      case DownloadProgress::Stage::Transferring: {
        const double seconds = std::chrono::duration<double>(now - started_).count();
        const double rate = seconds > 0 ? static_cast<double>(p.bytes - p.resumed_from) / seconds : 0.0;
        if (tty_) {
          if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100) && p.bytes != p.total) break;
          last_draw_ = now;
          draw_bar(p, rate);
        } else if (p.total > 0) {
          const int percent = static_cast<int>(100 * p.bytes / p.total);
          if (percent >= next_percent_) {
            std::fprintf(stderr, "downloaded %d%% (%s of %s)\n", percent, megabytes(p.bytes).c_str(),
                         megabytes(p.total).c_str());
            next_percent_ = percent / 10 * 10 + 10;
          }
        }
        break;
      }
      case DownloadProgress::Stage::Verifying:
        end_bar();
        spdlog::info("checking the checksum of {}", megabytes(p.bytes));
        break;
      case DownloadProgress::Stage::Done:
        spdlog::info("verified and saved {}", p.destination);
        break;
    }
    return true;
  }

 private:
  void draw_bar(const DownloadProgress& p, double rate) {
    constexpr int kWidth = 30;
    std::string bar;
    if (p.total > 0) {
      const int filled = static_cast<int>(kWidth * std::min<uint64_t>(p.bytes, p.total) / p.total);
      bar = "[" + std::string(filled, '=') + (filled < kWidth ? ">" : "") +
            std::string(std::max(0, kWidth - filled - 1), ' ') + "]";
      std::fprintf(stderr, "\r%3d%% %s %s / %s  %.1f MB/s ", static_cast<int>(100 * p.bytes / p.total), bar.c_str(),
                   megabytes(p.bytes).c_str(), megabytes(p.total).c_str(), rate / 1e6);
    } else {
      std::fprintf(stderr, "\r%s  %.1f MB/s ", megabytes(p.bytes).c_str(), rate / 1e6);
    }
    std::fflush(stderr);
    drawn_ = true;
  }
  void end_bar() {
    if (drawn_) std::fputc('\n', stderr);
    drawn_ = false;
  }

  bool quiet_;
  bool tty_;
  bool drawn_ = false;
  int next_percent_ = 10;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_draw_{};
};

std::string describe_convention(const InputConvention& c) {
  char text[200];
  if (c.bgr) {
    std::snprintf(text, sizeof text, "%s: BGR, 0-%g, minus the mean (%g, %g, %g) in BGR order%s", c.name.c_str(),
                  c.scale, c.mean[0], c.mean[1], c.mean[2], c.std[0] == 1.0f ? ", no std" : "");
  } else {
    std::snprintf(text, sizeof text, "%s: RGB, 0-%g, mean (%g, %g, %g), std (%g, %g, %g)", c.name.c_str(), c.scale,
                  c.mean[0], c.mean[1], c.mean[2], c.std[0], c.std[1], c.std[2]);
  }
  return text;
}

// Directories searched for weights, in order (from default_weights_candidates()).
std::vector<std::string> search_directories() {
  const char* env = std::getenv("STYLIZE_WEIGHTS");
  std::vector<std::string> directories;
  for (const auto& candidate : default_weights_candidates()) {
    if (env && candidate == env) continue;
    const std::string directory = fs::path(candidate).parent_path().string();
    if (std::find(directories.begin(), directories.end(), directory) == directories.end()) {
      directories.push_back(directory);
    }
  }
  return directories;
}

struct CheckResult {
  bool ok = true;    // no mismatch found
  std::string text;  // "verified (MD5 ...)"
};

// Compares a file with what is published about it: the catalog entry of its
// name, or, for a file of unknown name, any catalog checksum.
CheckResult check_file(const std::string& path, const KnownWeights* known) {
  CheckResult result;
  if (known && !known->checksum.empty()) {
    const DigestAlgorithm algorithm = *digest_algorithm_for(known->checksum);
    const std::string found = file_digest(path, algorithm);
    result.ok = found == known->checksum;
    result.text = result.ok ? "verified (" + digest_name(algorithm) + " " + found + " as published)"
                            : "CHECKSUM MISMATCH: " + digest_name(algorithm) + " is " + found + ", expected " +
                                  known->checksum + " (corrupt or a different file: delete it and get it again)";
    return result;
  }
  if (known && !known->sha256_prefix.empty()) {
    const std::string found = file_digest(path, DigestAlgorithm::Sha256);
    result.ok = found.rfind(known->sha256_prefix, 0) == 0;
    result.text = result.ok ? "verified (SHA-256 starts with " + known->sha256_prefix + ", as its name says)"
                            : "CHECKSUM MISMATCH: SHA-256 is " + found + ", expected it to start with " +
                                  known->sha256_prefix + " (corrupt or a different file: get it again)";
    return result;
  }
  const std::string md5 = file_digest(path, DigestAlgorithm::Md5);
  const std::string sha256 = file_digest(path, DigestAlgorithm::Sha256);
  for (const auto& entry : known_weights()) {
    if (entry.checksum == md5 || entry.checksum == sha256 ||
        (!entry.sha256_prefix.empty() && sha256.rfind(entry.sha256_prefix, 0) == 0 &&
         fs::path(path).filename().string().find(entry.sha256_prefix) != std::string::npos)) {
      result.text = "verified: identical to " + entry.file_name + " (" + entry.origin + ")";
      return result;
    }
  }
  result.text = "no published checksum to compare with (MD5 " + md5 + ", SHA-256 " + sha256 + ")";
  return result;
}

// Whether stylize can read the file, as a line of text; sets `ok` false if not.
std::string check_readable(const std::string& path, bool& ok) {
  try {
    const VggWeights weights = load_vgg19_weights(path, 16);
    return "readable: VGG19, " + weights.format + ", " + weights.convention.name + " input convention";
  } catch (const WeightsError& e) {
    ok = false;
    return std::string("UNREADABLE: ") + e.what();
  }
}

bool is_direct_format(const std::string& path) {
  const KnownWeights* known = find_known_weights(fs::path(path).filename().string());
  return !known || known->direct;
}

int run_list() {
  std::string used;
  try {
    if (auto found = find_weights("")) used = *found;
  } catch (const WeightsError&) {
  }
  const auto directories = search_directories();
  std::printf("Known VGG19 weights files (README, \"Weights\"); stylize looks in: %s%s\n",
              std::getenv("STYLIZE_WEIGHTS") ? "$STYLIZE_WEIGHTS, " : "",
              [&] {
                std::string text;
                for (const auto& d : directories) text += (text.empty() ? "" : ", ") + d + "/";
                return text;
              }()
                  .c_str());
  for (const auto& known : known_weights()) {
    std::printf("\n%s  (%s; %s, %s convention, %s)\n", known.file_name.c_str(), known.origin.c_str(),
                known.format.c_str(), known.convention.c_str(), known.size_text.c_str());
    bool any = false;
    for (const auto& directory : directories) {
      const std::string path = (fs::path(directory) / known.file_name).string();
      std::error_code error;
      if (!fs::is_regular_file(path, error)) continue;
      any = true;
      std::string status;
      try {
        status = check_file(path, &known).text;
      } catch (const WeightsError& e) {
        status = e.what();
      }
      std::printf("  %s  %s%s\n", path.c_str(), status.c_str(), path == used ? "  [used by default]" : "");
      if (!known.direct)
        std::printf("    convert it for stylize: /usr/bin/python3 scripts/convert_weights.py '%s' vgg19.safetensors\n",
                    path.c_str());
    }
    if (!any) {
      std::printf("  not found%s; from %s\n", known.direct ? "" : " (not read directly: convert it)",
                  known.url.c_str());
    }
  }
  if (const char* env = std::getenv("STYLIZE_WEIGHTS"); env && *env) {
    std::printf("\n$STYLIZE_WEIGHTS = %s  %s\n", env, fs::exists(env) ? "" : "(file not found)");
  }
  if (!used.empty()) {
    std::printf("\nstylize uses: %s\n", used.c_str());
  } else {
    std::printf("\nNo weights found: the first run downloads %s (%s) into %s%s\n",
                default_download_source().url.c_str(), default_download_source().size_text.c_str(),
                weights_cache_dir().c_str(), offline_from_environment() ? " (but STYLIZE_OFFLINE is set)" : "");
  }
  return kOk;
}

int verify_one(const std::string& path) {
  std::error_code error;
  if (!fs::is_regular_file(path, error)) {
    std::fprintf(stderr, "error: cannot verify '%s': file not found\n", path.c_str());
    return kWeightsError;
  }
  const KnownWeights* known = find_known_weights(fs::path(path).filename().string());
  const CheckResult check = check_file(path, known);
  bool ok = check.ok;
  std::printf("%s\n  %s\n", path.c_str(), check.text.c_str());
  if (ok && is_direct_format(path)) {
    std::printf("  %s\n", check_readable(path, ok).c_str());
  } else if (ok) {
    std::printf("  stylize does not read %s files directly: convert it with scripts/convert_weights.py\n",
                known->format.c_str());
  }
  return ok ? kOk : kWeightsError;
}

int run_verify(const std::string& path) {
  if (!path.empty()) return verify_one(path);
  int status = kOk;
  bool any = false;
  for (const auto& directory : search_directories()) {
    for (const auto& known : known_weights()) {
      const std::string candidate = (fs::path(directory) / known.file_name).string();
      std::error_code error;
      if (!fs::is_regular_file(candidate, error)) continue;
      any = true;
      if (verify_one(candidate) != kOk) status = kWeightsError;
    }
  }
  if (const char* env = std::getenv("STYLIZE_WEIGHTS"); env && *env) {
    any = true;
    if (verify_one(env) != kOk) status = kWeightsError;
  }
  if (!any) {
    std::fprintf(stderr, "error: no weights files found to verify. To get them: %s\n", how_to_get_weights().c_str());
    return kWeightsError;
  }
  return status;
}

int run_info(const std::string& path) {
  const VggWeights weights = load_vgg19_weights(path, 16);
  std::error_code error;
  const auto size = fs::file_size(path, error);
  std::printf("file        %s (%s)\n", path.c_str(), error ? "size unknown" : megabytes(size).c_str());
  std::printf("format      %s\n", weights.format.c_str());
  std::printf("convention  %s\n", describe_convention(weights.convention).c_str());
  for (const auto& [key, value] : weights.metadata) std::printf("metadata    %s = %s\n", key.c_str(), value.c_str());
  if (const KnownWeights* known = find_known_weights(fs::path(path).filename().string())) {
    std::printf("known as    %s (run `stylize weights verify %s` to check it)\n", known->origin.c_str(), path.c_str());
  }
  std::printf("%-9s %-22s %s\n", "layer", "weight (out,in,kh,kw)", "bias");
  for (const auto& conv : weights.convs) {
    const std::string shape = "(" + std::to_string(conv.out_channels) + "," + std::to_string(conv.in_channels) + "," +
                              std::to_string(conv.kernel_h) + "," + std::to_string(conv.kernel_w) + ")";
    std::printf("%-9s %-22s (%zu)\n", conv.name.c_str(), shape.c_str(), conv.bias.size());
  }
  return kOk;
}

}  // namespace

std::string find_or_download_weights(const std::string& explicit_path, bool offline, bool quiet) {
  auto display = std::make_shared<ProgressDisplay>(quiet);
  return resolve_or_download_weights(explicit_path, offline,
                                     [display](const DownloadProgress& p) { return display->update(p); });
}

int weights_main(int argc, char** argv) {
  CLI::App app{"Find, verify, inspect and download the VGG19 weights stylize uses", "stylize weights"};
  app.require_subcommand(1);
  auto* list = app.add_subcommand("list", "Known weights files, where they are, and whether they verify");
  std::string verify_path;
  auto* verify = app.add_subcommand("verify", "Check files against their published checksums and read them");
  verify->add_option("path", verify_path, "File to verify (default: every known file found)");
  std::string info_path;
  auto* info = app.add_subcommand("info", "Format, input convention and layer shapes of a weights file");
  info->add_option("path", info_path, "Weights file (safetensors or Keras .h5)")->required();
  bool offline = false;
  bool quiet = false;
  auto* download = app.add_subcommand("download", "Download the default weights into the cache now, if missing");
  download->add_flag("--offline", offline, "Do not use the network (also STYLIZE_OFFLINE=1)");
  download->add_flag("-q,--quiet", quiet, "Print errors only");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kOk : kUsageError;
  }
  auto logger = spdlog::stderr_color_mt("stylize weights");
  logger->set_pattern("%^%l%$: %v");
  spdlog::set_default_logger(logger);
  try {
    if (list->parsed()) return run_list();
    if (verify->parsed()) return run_verify(verify_path);
    if (info->parsed()) return run_info(info_path);
    if (download->parsed()) {
      const std::string path = find_or_download_weights("", offline, quiet);
      std::printf("%s\n", path.c_str());
      return kOk;
    }
  } catch (const WeightsError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return kWeightsError;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: internal error: %s\n", e.what());
    return 1;
  }
  return kUsageError;
}

}  // namespace stylize::cli
