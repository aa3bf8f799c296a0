// `stylize weights list|verify|info|stats|download`.
#include "weights_command.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "args.hpp"
#include "exit_codes.hpp"
#include "stylize/core/loss_units.hpp"
#include "stylize/core/vgg19.hpp"
#include "stylize/errors.hpp"
#include "stylize/fetch/digest.hpp"
#include "stylize/io/image_io.hpp"
#include "stylize/weights/catalog.hpp"
#include "stylize/weights/safetensors.hpp"
#include "stylize/weights/weights.hpp"
#include "weights_source.hpp"

namespace stylize::cli {
namespace {

namespace fs = std::filesystem;

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

struct CheckResult {
  bool ok = true;    // no mismatch found
  std::string text;  // "verified (MD5 ...)"
};

// The source a safetensors file was converted from by
// scripts/convert_weights.py (its stylize.source metadata), or "".
std::string converted_from(const std::string& path) {
  if (fs::path(path).extension() != ".safetensors") return "";
  try {
    const SafetensorsReader reader = SafetensorsReader::open(path);
    const auto source = reader.metadata().find("stylize.source");
    return source == reader.metadata().end() ? "" : source->second;
  } catch (const WeightsError&) {
    return "";  // unreadable: said by check_readable
  }
}

// The catalog entry a file is held to: its name's, but for a conversion
// (README saves them as models/vgg19.safetensors, the catalog's name for
// timm's file), which no published checksum describes.
const KnownWeights* catalog_entry(const std::string& path) {
  return converted_from(path).empty() ? find_known_weights(fs::path(path).filename().string()) : nullptr;
}

// Compares a file with what is published about it: the catalog entry of its
// name, or, for a file of unknown name, any catalog checksum.
CheckResult check_file(const std::string& path, const KnownWeights* known) {
  CheckResult result;
  if (const std::string source = converted_from(path); !source.empty()) {
    result.text = "converted from " + source +
                  " by scripts/convert_weights.py: not a published file, so no "
                  "published checksum to compare with";
    return result;
  }
  // The cache's default file from a mirror: held to the checksum it was downloaded with.
  const DownloadSource download = default_download_source();
  std::error_code error;
  const char* mirror_checksum = std::getenv("STYLIZE_WEIGHTS_CHECKSUM");
  if (mirror_checksum && *mirror_checksum && !weights_cache_dir().empty() &&
      fs::equivalent(path, fs::path(weights_cache_dir()) / download.file_name, error)) {
    if (const auto algorithm = digest_algorithm_for(download.checksum)) {
      const std::string found = file_digest(path, *algorithm);
      result.ok = found == download.checksum;
      result.text = result.ok
                        ? "verified (" + digest_name(*algorithm) + " " + found + " as STYLIZE_WEIGHTS_CHECKSUM says)"
                        : "CHECKSUM MISMATCH: " + digest_name(*algorithm) + " is " + found + ", expected " +
                              download.checksum +
                              " (STYLIZE_WEIGHTS_CHECKSUM; corrupt or a different file: delete it and get it "
                              "again)";
      return result;
    }
  }
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
  std::string used, unusable;  // the file a run uses, or why a run would fail (STYLIZE_WEIGHTS names no file)
  try {
    if (auto found = find_weights("")) used = *found;
  } catch (const WeightsError& e) {
    unusable = e.what();
  }
  const auto directories = weights_search_directories();
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
        status = check_file(path, catalog_entry(path)).text;
      } catch (const Error& e) {
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
    std::error_code error;
    std::printf("\n$STYLIZE_WEIGHTS = %s  %s\n", env,
                fs::is_directory(env, error) ? "(a directory, not a weights file)"
                : fs::exists(env, error)     ? ""
                                             : "(file not found)");
  }
  if (!used.empty()) {
    std::printf("\nstylize uses: %s\n", used.c_str());
  } else if (!unusable.empty()) {
    std::printf("\nA run fails now (exit %d): %s\n", kWeightsError, unusable.c_str());
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
    std::fprintf(stderr, "error: cannot verify '%s': %s\n", path.c_str(),
                 fs::is_directory(path, error) ? "it is a directory; give a weights file" : "file not found");
    return kWeightsError;
  }
  const KnownWeights* known = catalog_entry(path);
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
  for (const auto& directory : weights_search_directories()) {
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

// `weights download`: the default weights in the cache, checked against the
// digest they are downloaded with (a damaged file is downloaded again), or a
// fresh download; whichever file runs find first (README: --weights,
// $STYLIZE_WEIGHTS, models/, the cache).
int run_download(bool offline, bool quiet) {
  const DownloadSource source = default_download_source();
  const std::string cache = weights_cache_dir();
  const std::string cached = cache.empty() ? "" : (fs::path(cache) / source.file_name).string();
  std::error_code error;
  const auto algorithm = digest_algorithm_for(source.checksum);
  if (!cached.empty() && algorithm && fs::is_regular_file(cached, error)) {
    const std::string digest = file_digest(cached, *algorithm);
    if (digest != source.checksum) {
      const std::string damage = "the cached weights " + cached + " are damaged: their " + digest_name(*algorithm) +
                                 " is " + digest + ", expected " + source.checksum;
      if (offline || offline_from_environment()) {
        throw WeightsError(damage +
                           "; offline mode (--offline or STYLIZE_OFFLINE) forbids downloading them again: "
                           "run `stylize weights download` online, or delete the file");
      }
      if (!quiet) spdlog::warn("{}; downloading them again", damage);
      if (!fs::remove(cached, error) && error) {
        throw OutputError("cannot remove the damaged weights " + cached + ": " + error.message() +
                          "; delete the file and run `stylize weights download` again");
      }
    }
  }
  const std::string path = fs::is_regular_file(cached, error)
                               ? cached
                               : download_default_weights(offline, quiet,
                                                          "the default weights are not in the cache (" +
                                                              (cached.empty() ? "none" : cached) + ")");
  try {
    const std::optional<std::string> used = find_weights("");
    if (!quiet && used && !fs::equivalent(*used, path, error)) {
      spdlog::info("runs use {}, found before the cache's copy (stylize weights list shows the order)", *used);
    }
  } catch (const WeightsError& e) {
    spdlog::warn("{}", e.what());  // runs fail: STYLIZE_WEIGHTS names no weights file
  }
  std::printf("%s\n", path.c_str());
  return kOk;
}

int run_info(const std::string& path) {
  const VggWeights weights = load_vgg19_weights(path, 16);
  std::error_code error;
  const auto size = fs::file_size(path, error);
  std::printf("file        %s (%s)\n", path.c_str(), error ? "size unknown" : human_size(size).c_str());
  std::printf("format      %s\n", weights.format.c_str());
  std::printf("convention  %s\n", describe_convention(weights.convention).c_str());
  for (const auto& [key, value] : weights.metadata) std::printf("metadata    %s = %s\n", key.c_str(), value.c_str());
  if (const KnownWeights* known = catalog_entry(path)) {
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

// Per-layer statistics of a file's features on the images given, and their
// ratios to the Keras network's reference magnitudes that normalized loss
// units assume (core/loss_units.hpp): near 1 for the Keras file on typical
// photos if the references are right.
int run_stats(const std::string& path, const std::vector<std::string>& images, int size) {
  const VggWeights weights = load_vgg19_weights(path, 16);
  const std::vector<std::string> layers = {"relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1", "relu5_2"};
  Vgg19Features net(weights, layers);
  LayerStatisticsAccumulator stats;
  torch::NoGradGuard no_grad;
  for (const auto& image_path : images) {
    const std::vector<torch::Tensor> features = net.forward(load_image(image_path, "image", size));
    for (size_t i = 0; i < layers.size(); ++i) stats.add(layers[i], features[i]);
  }
  std::printf("%s (%s convention), %zu image(s) at longest side %d px\n", path.c_str(), weights.convention.name.c_str(),
              images.size(), size);
  std::printf("%-8s %11s %11s %7s %11s %11s %11s\n", "layer", "mean", "mean F^2", "zeros", "mean G^2", "F^2/Keras",
              "G^2/Keras");
  for (const auto& s : stats.results()) {
    std::printf("%-8s %11.4g %11.4g %6.1f%% %11.4g %11.4g %11.4g\n", s.layer.c_str(), s.mean, s.mean_square,
                100 * s.zero_fraction, s.gram_mean_square, s.content_ratio(), s.style_ratio());
  }
  return kOk;
}

}  // namespace

void build_weights_parser(CLI::App& app, WeightsParams& p) {
  app.description("Find, verify, inspect and download the VGG19 weights stylize uses");
  app.name("stylize weights");
  app.failure_message(usage_failure);  // before the sub-commands, which take it over
  app.set_version_flag("--version", std::string("stylize ") + STYLIZE_VERSION);
  app.require_subcommand(1);
  const auto command = [&app, &p](const char* name, const char* description) {
    CLI::App* sub = app.add_subcommand(name, description);
    sub->callback([&p, name] { p.command = name; });
    return sub;
  };
  command("list", "Known weights files, where they are, and whether they verify");
  command("verify", "Check files against their published checksums and read them")
      ->add_option("path", p.path, "File to verify (default: every known file found)");
  command("info", "Format, input convention and layer shapes of a weights file")
      ->add_option("path", p.path, "Weights file (safetensors or Keras .h5)")
      ->required();
  CLI::App* stats = command("stats",
                            "Per-layer feature statistics of a weights file on some images, against the Keras "
                            "VGG19's that normalized loss units assume");
  stats->add_option("path", p.path, "Weights file")->required();
  stats->add_option("images", p.images, "Images to compute the statistics on (typical photos)")->required();
  stats->add_option("--size", p.size, "Longest side the images are resized to")
      ->check(CLI::Range(16, 4096))
      ->capture_default_str();
  CLI::App* download = command("download", "Download the default weights into the cache now, if missing");
  download->add_flag("--offline", p.offline, "Do not use the network (also STYLIZE_OFFLINE=1)");
  download->add_flag("-q,--quiet", p.quiet, "Print errors only");
}

std::string missing_command(const CLI::App& app, const std::vector<std::string>& args) {
  std::string commands;  // "list, verify, info, stats or download"
  bool known = false;
  const std::vector<const CLI::App*> all = app.get_subcommands([](const CLI::App*) { return true; });
  for (size_t i = 0; i < all.size(); ++i) {
    commands += (i == 0 ? "" : i + 1 == all.size() ? " or " : ", ") + all[i]->get_name();
    known = known || (!args.empty() && all[i]->check_name(args[0]));
  }
  // Only flags (`stylize weights --offline`): a command's flags, but no command.
  bool has_word = false, asks_for_help = false;
  for (const std::string& arg : args) {
    has_word = has_word || arg.empty() || arg[0] != '-';
    asks_for_help = asks_for_help || arg == "-h" || arg == "--help" || arg == "--version";
  }
  if (!has_word && !asks_for_help) {
    return "stylize weights: give a command: " + commands + " (see stylize weights --help)";
  }
  if (!args.empty() && (args[0].empty() || args[0][0] != '-') && !known) {
    return "stylize weights: unknown command '" + args[0] + "'; use " + commands + " (see stylize weights --help)";
  }
  return "";
}

int weights_main(int argc, char** argv) {
  WeightsParams params;
  CLI::App app;
  build_weights_parser(app, params);
  const std::string missing = missing_command(app, std::vector<std::string>(argv + 1, argv + argc));
  if (!missing.empty()) {
    spdlog::error("{}", missing);
    return kUsageError;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kOk : kUsageError;
  }
  try {
    if (params.command == "list") return run_list();
    if (params.command == "verify") return run_verify(params.path);
    if (params.command == "info") return run_info(params.path);
    if (params.command == "stats") return run_stats(params.path, params.images, params.size);
    if (params.command == "download") return run_download(params.offline, params.quiet);
  } catch (const std::exception& e) {
    return report_error(e);
  }
  return kUsageError;
}

}  // namespace stylize::cli
