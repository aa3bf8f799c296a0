// Weights from the command line: `stylize weights ...`, the first-run download
// (from a server on 127.0.0.1; in-process through cli::find_or_download_weights
// and end to end) and runs with no weights and no network.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "cli/weights_command.hpp"
#include "cli/weights_source.hpp"
#include "stylize/errors.hpp"
#include "stylize/fetch/digest.hpp"
#include "stylize/io/image_io.hpp"
#include "stylize/weights/catalog.hpp"
#include "test_http_server.hpp"
#include "test_util.hpp"

namespace stylize {
namespace {

namespace fs = std::filesystem;
using test::fixture;

test::CommandResult stylize_command(const std::string& arguments, const std::string& environment = "") {
  return test::run_command("env " + environment + " " + STYLIZE_BINARY + " " + arguments);
}

// stylize as a user without any weights runs it: in `dir`, with `cache` as
// XDG_CACHE_HOME, whatever is installed on this machine (test::isolated_environment).
test::CommandResult stylize_without_weights(const std::string& arguments, const test::TempDir& dir,
                                            const std::string& cache, const std::string& environment = "") {
  return test::run_command(test::isolated_environment(dir.path().string(), cache) + " env " + environment + " " +
                           STYLIZE_ISOLATED_BINARY + " " + arguments);
}

// Every file under `root`, for "nothing was left behind" checks.
std::vector<std::string> files_under(const fs::path& root) {
  std::vector<std::string> files;
  std::error_code error;
  if (!fs::exists(root, error)) return files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) files.push_back(entry.path().string());
  return files;
}

// Parses `args` (after "weights") as stylize weights does, without running the command.
cli::WeightsParams parse_weights_flags(const std::vector<std::string>& args) {
  cli::WeightsParams params;
  CLI::App app;
  cli::build_weights_parser(app, params);
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them last first
  app.parse(reversed);
  return params;
}

// The parser of stylize weights, in process: each command's arguments, the
// arguments a command needs, and the words that name no command.
TEST(WeightsArgs, ParsesEachCommandsArgumentsAndSaysWhichCommandsThereAre) {
  cli::WeightsParams p = parse_weights_flags({"stats", "w.safetensors", "a.png", "b.png", "--size", "64"});
  EXPECT_EQ(p.command, "stats");
  EXPECT_EQ(p.path, "w.safetensors");
  EXPECT_EQ(p.images, (std::vector<std::string>{"a.png", "b.png"}));
  EXPECT_EQ(p.size, 64);
  p = parse_weights_flags({"verify"});
  EXPECT_EQ(p.command, "verify");
  EXPECT_EQ(p.path, "") << "every known file";
  p = parse_weights_flags({"download", "--offline", "-q"});
  EXPECT_EQ(p.command, "download");
  EXPECT_TRUE(p.offline && p.quiet);
  EXPECT_EQ(parse_weights_flags({"info", "w.h5"}).path, "w.h5");
  EXPECT_EQ(parse_weights_flags({"list"}).command, "list");
  EXPECT_THROW(parse_weights_flags({"info"}), CLI::RequiredError);
  EXPECT_THROW(parse_weights_flags({"stats", "w.safetensors"}), CLI::RequiredError);
  EXPECT_THROW(parse_weights_flags({"stats", "w.safetensors", "a.png", "--size", "8"}), CLI::ValidationError);

  cli::WeightsParams unused;
  CLI::App app;
  cli::build_weights_parser(app, unused);
  const std::string commands = "list, verify, info, stats or download (see stylize weights --help)";
  EXPECT_EQ(cli::missing_command(app, {}), "stylize weights: give a command: " + commands);
  EXPECT_EQ(cli::missing_command(app, {"--offline"}), "stylize weights: give a command: " + commands);
  EXPECT_EQ(cli::missing_command(app, {"lsit"}), "stylize weights: unknown command 'lsit'; use " + commands);
  for (const std::vector<std::string>& fine :
       std::vector<std::vector<std::string>>{{"list"}, {"--help"}, {"stats", "w", "a.png"}, {"--version"}}) {
    EXPECT_EQ(cli::missing_command(app, fine), "") << fine[0];
  }
}

TEST(WeightsCommand, InfoShowsFormatConventionAndShapesOrTheError) {
  const test::CommandResult r = stylize_command("weights info " + fixture("keras2_vgg19_notop_tiny.h5"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* needle : {"keras-hdf5", "caffe: BGR, 0-255, minus the mean (103.939, 116.779, 123.68)",
                             "keras.keras_version = 2.9.0", "conv1_1   (4,3,3,3)", "conv5_4   (8,8,3,3)"}) {
    EXPECT_NE(r.output.find(needle), std::string::npos) << needle << "\n" << r.output;
  }
  const test::CommandResult converted =
      stylize_command("weights info " + fixture("vgg19_matconvnet_tiny.converted.safetensors"));
  ASSERT_EQ(converted.exit_code, 0) << converted.output;
  EXPECT_NE(converted.output.find("stylize.source_format = matconvnet"), std::string::npos) << converted.output;

  // Bad files exit with the weights code, bad subcommands with the usage code.
  const test::CommandResult broken = stylize_command("weights info " + fixture("keras_vgg19_missing_layer_tiny.h5"));
  EXPECT_EQ(broken.exit_code, 4) << broken.output;
  EXPECT_NE(broken.output.find("block4_conv2"), std::string::npos) << broken.output;
  // Issue 19: an unknown command is named, with the ones there are (CLI11 said "A subcommand is required").
  const test::CommandResult unknown = stylize_command("weights frobnicate");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.output.find("unknown command 'frobnicate'; use list, verify, info, stats or download"),
            std::string::npos)
      << unknown.output;
  // CLI11's errors read as stylize's own, and --version works as in the other commands.
  const test::CommandResult no_path = stylize_command("weights info");
  EXPECT_EQ(no_path.exit_code, 2) << no_path.output;
  EXPECT_NE(no_path.output.find("error: path is required: stylize weights info PATH, the weights file (safetensors or "
                                "Keras .h5)\nstylize weights --help lists the flags"),
            std::string::npos)
      << no_path.output;
  const test::CommandResult no_images = stylize_command("weights stats " + fixture("vgg19_tiny.safetensors"));
  EXPECT_EQ(no_images.exit_code, 2) << no_images.output;
  EXPECT_NE(no_images.output.find("error: images is required: stylize weights stats IMAGES, the images to compute"),
            std::string::npos)
      << no_images.output;
  const test::CommandResult version = stylize_command("weights --version");
  EXPECT_EQ(version.exit_code, 0) << version.output;
  EXPECT_NE(version.output.find("stylize "), std::string::npos) << version.output;
  // The commands stylize --help names are the ones there are.
  const test::CommandResult help = stylize_command("weights --help");
  ASSERT_NE(help.output.find("Subcommands:"), std::string::npos) << help.output;
  const std::string commands = help.output.substr(help.output.find("Subcommands:"));
  std::vector<std::string> names;
  std::istringstream lines(commands);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("  ", 0) == 0) names.push_back(line.substr(2, line.find(' ', 2) - 2));
  }
  ASSERT_EQ(names.size(), 5u) << commands;
  std::string joined;
  for (const auto& name : names) joined += (joined.empty() ? "" : "|") + name;
  EXPECT_NE(stylize_command("--help").output.find("stylize weights " + joined + " "), std::string::npos) << joined;
  const test::CommandResult none = stylize_command("weights");
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.output.find("give a command: list, verify, info, stats or download"), std::string::npos)
      << none.output;
  const test::CommandResult flags_only = stylize_command("weights --offline");  // download's flag, no command
  EXPECT_EQ(flags_only.exit_code, 2);
  EXPECT_NE(flags_only.output.find("give a command: list, verify, info, stats or download"), std::string::npos)
      << flags_only.output;
}

// The columns of `layer`'s row in `stylize weights stats` output (empty if none).
std::vector<std::string> stats_row(const std::string& output, const std::string& layer) {
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::vector<std::string> row;
    for (std::string word; words >> word;) row.push_back(word);
    if (!row.empty() && row.front() == layer) return row;
  }
  return {};
}

TEST(WeightsCommand, StatsPrintsEachLayersMagnitudes) {
  // vgg19_tiny_rescaled has conv1_1's filters and bias times a = 0.403358727 (its
  // metadata), so its relu1_1 features are a times the original's: mean square
  // a^2, Gram entries' mean square a^4 (printed to 4 digits).
  const auto stats = [](const std::string& weights) {
    return stylize_command("weights stats " + fixture(weights) + " " + fixture("batch_seed.ppm") + " --size 32");
  };
  const test::CommandResult original = stats("vgg19_tiny.safetensors");
  const test::CommandResult rescaled = stats("vgg19_tiny_rescaled.safetensors");
  ASSERT_EQ(original.exit_code, 0) << original.output;
  ASSERT_EQ(rescaled.exit_code, 0) << rescaled.output;
  for (const char* layer : {"relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1", "relu5_2"}) {
    EXPECT_EQ(stats_row(original.output, layer).size(), 7u) << layer << "\n" << original.output;
  }
  const std::vector<std::string> a = stats_row(original.output, "relu1_1"), b = stats_row(rescaled.output, "relu1_1");
  ASSERT_EQ(a.size(), 7u);
  ASSERT_EQ(b.size(), 7u);
  const double a2 = 0.403358727 * 0.403358727;
  EXPECT_NEAR(std::stod(b[2]) / std::stod(a[2]), a2, a2 * 2e-3) << "mean F^2";
  EXPECT_NEAR(std::stod(b[6]) / std::stod(a[6]), a2 * a2, a2 * a2 * 2e-3) << "Gram ratio to Keras";
  EXPECT_EQ(a[3], b[3]) << "the share of zeros does not change";
  // No images: a usage error.
  EXPECT_EQ(stylize_command("weights stats " + fixture("vgg19_tiny.safetensors")).exit_code, 2);
}

TEST(WeightsCommand, VerifyComparesWithThePublishedChecksum) {
  test::TempDir dir;
  // A file with the Keras name but other contents: the MD5 Keras publishes does not match.
  const std::string impostor = dir.file(kDefaultWeightsFileName);
  fs::copy_file(fixture("keras_vgg19_notop_tiny.h5"), impostor);
  const test::CommandResult bad = stylize_command("weights verify " + impostor);
  EXPECT_EQ(bad.exit_code, 4) << bad.output;
  EXPECT_NE(bad.output.find("CHECKSUM MISMATCH"), std::string::npos) << bad.output;
  EXPECT_NE(bad.output.find("253f8cb515780f3b799900260a226db6"), std::string::npos) << bad.output;

  // A file nobody publishes a checksum for: reported as such, and read.
  const test::CommandResult unknown = stylize_command("weights verify " + fixture("keras_vgg19_notop_tiny.h5"));
  EXPECT_EQ(unknown.exit_code, 0) << unknown.output;
  EXPECT_NE(unknown.output.find("no published checksum"), std::string::npos) << unknown.output;
  EXPECT_NE(unknown.output.find("readable: VGG19, keras-hdf5, caffe"), std::string::npos) << unknown.output;

  // A conversion saved as models/vgg19.safetensors, as README says to, is not
  // timm's file of that name: said to be converted (and from what), not corrupt.
  const std::string converted = dir.file("vgg19.safetensors");
  fs::copy_file(fixture("vgg19_matconvnet_tiny.converted.safetensors"), converted);
  const test::CommandResult conversion = stylize_command("weights verify " + converted);
  EXPECT_EQ(conversion.exit_code, 0) << conversion.output;
  EXPECT_NE(conversion.output.find("converted from "), std::string::npos) << conversion.output;
  EXPECT_NE(conversion.output.find("by scripts/convert_weights.py: not a published file"), std::string::npos)
      << conversion.output;
  EXPECT_NE(conversion.output.find("readable: VGG19, safetensors, caffe"), std::string::npos) << conversion.output;
  const test::CommandResult info = stylize_command("weights info " + converted);
  EXPECT_EQ(info.exit_code, 0) << info.output;
  EXPECT_EQ(info.output.find("known as"), std::string::npos) << info.output;

  const test::CommandResult unreadable =
      stylize_command("weights verify " + fixture("keras_vgg19_missing_layer_tiny.h5"));
  EXPECT_EQ(unreadable.exit_code, 4) << unreadable.output;
  EXPECT_NE(unreadable.output.find("UNREADABLE"), std::string::npos) << unreadable.output;
}

TEST(WeightsCommand, ListShowsWhereKnownFilesAreAndWhetherTheyVerify) {
  test::TempDir dir;
  const std::string cache = dir.file("cache");
  const test::CommandResult none = stylize_without_weights("weights list", dir, cache);
  EXPECT_EQ(none.output.find("stylize uses: "), std::string::npos) << none.output;
  EXPECT_NE(none.output.find("No weights found: the first run downloads "), std::string::npos) << none.output;
  // A STYLIZE_WEIGHTS naming no file: a run fails, and downloads nothing (the
  // list said it would download).
  const std::string missing = dir.file("nope.safetensors");
  const test::CommandResult named = stylize_without_weights("weights list", dir, cache, "STYLIZE_WEIGHTS=" + missing);
  EXPECT_NE(named.output.find("$STYLIZE_WEIGHTS = " + missing + "  (file not found)"), std::string::npos)
      << named.output;
  EXPECT_NE(named.output.find("A run fails now (exit 4): cannot read weights file '" + missing), std::string::npos)
      << named.output;
  EXPECT_EQ(named.output.find("first run downloads"), std::string::npos) << named.output;
  fs::create_directories(cache + "/stylize");
  const std::string cached = cache + "/stylize/" + kDefaultWeightsFileName;
  fs::copy_file(fixture("keras_vgg19_notop_tiny.h5"), cached);
  const test::CommandResult r = stylize_without_weights("weights list", dir, cache);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const std::string& needle :
       {std::string("vgg19-dcbb9e9d.pth"), std::string("imagenet-vgg-verydeep-19.mat"), cached + "  CHECKSUM MISMATCH",
        std::string("[used by default]"), "stylize uses: " + cached}) {
    EXPECT_NE(r.output.find(needle), std::string::npos) << needle << "\n" << r.output;
  }
}

// First-run resolution in-process, with the default source redirected to the local server.
class FirstRun : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(find_weights("")) << "test::HiddenWeights must hide every installed weights file";
    fs::create_directories(dir.path() / "www");
    payload = std::string(50000, 'w');
    test::write_file((dir.path() / "www" / "payload.bin").string(), payload);
    md5 = file_digest((dir.path() / "www" / "payload.bin").string(), DigestAlgorithm::Md5);
    server = std::make_unique<test::HttpServer>((dir.path() / "www").string(), dir.file("requests.log"));
    ASSERT_TRUE(server->running()) << "could not start tests/http_server.py with " << STYLIZE_TEST_PYTHON;
  }
  std::string cache() const { return dir.file("xdg"); }

  test::TempDir dir;
  std::string payload, md5;
  std::unique_ptr<test::HttpServer> server;
  test::HiddenWeights hidden{dir.path()};
  test::ScopedEnv xdg{"XDG_CACHE_HOME", dir.file("xdg")};
  test::ScopedEnv online{"STYLIZE_OFFLINE", std::nullopt};
};

TEST_F(FirstRun, OfflineSaysHowToGetTheWeightsAndTouchesNothing) {
  test::ScopedEnv url("STYLIZE_WEIGHTS_URL", server->url("files/payload.bin"));
  for (const bool from_environment : {false, true}) {
    test::ScopedEnv offline("STYLIZE_OFFLINE", from_environment ? std::optional<std::string>("1") : std::nullopt);
    try {
      cli::find_or_download_weights("", /*offline=*/!from_environment, /*quiet=*/true);
      FAIL() << "expected a WeightsError";
    } catch (const WeightsError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("offline mode"), std::string::npos) << message;
      EXPECT_NE(message.find(server->url("files/payload.bin")), std::string::npos) << message;
      EXPECT_NE(message.find(cache() + "/stylize/" + kDefaultWeightsFileName), std::string::npos) << message;
    }
  }
  EXPECT_TRUE(server->requests().empty());
  EXPECT_FALSE(fs::exists(cache()));
}

TEST_F(FirstRun, DownloadsIntoTheCacheOnce) {
  test::ScopedEnv url("STYLIZE_WEIGHTS_URL", server->url("files/payload.bin"));
  test::ScopedEnv checksum("STYLIZE_WEIGHTS_CHECKSUM", md5);
  const std::string expected = cache() + "/stylize/" + kDefaultWeightsFileName;
  EXPECT_EQ(weights_cache_dir(), cache() + "/stylize");
  EXPECT_EQ(cli::find_or_download_weights("", false, true), expected);
  EXPECT_EQ(test::read_file(expected), payload);
  EXPECT_EQ(cli::find_or_download_weights("", false, true), expected);
  EXPECT_EQ(server->requests().size(), 1u) << "the cached file is used without downloading again";
}

TEST_F(FirstRun, AFailedDownloadIsAFetchErrorSayingWhereToPutTheFile) {
  test::ScopedEnv url("STYLIZE_WEIGHTS_URL", server->url("files/missing.bin"));
  test::ScopedEnv checksum("STYLIZE_WEIGHTS_CHECKSUM", md5);
  try {
    cli::find_or_download_weights("", false, true);
    FAIL() << "expected a FetchError";
  } catch (const FetchError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("HTTP 404"), std::string::npos) << message;
    EXPECT_NE(message.find("save it as " + cache() + "/stylize/" + kDefaultWeightsFileName), std::string::npos)
        << message;
  }
}

class FirstRunCli : public ::testing::Test {
 protected:
  void SetUp() override {
    content = dir.file("content.png");
    style = dir.file("style.png");
    output = dir.file("out.png");
    save_image(test::pattern_image(32, 32, 0.3), content);
    save_image(test::pattern_image(32, 32, 1.7), style);
  }
  std::string run_flags() const {
    return "--content " + content + " --style " + style + " -o " + output + " --size 32 --iterations 2 --threads 1";
  }
  std::string cache() const { return dir.file("xdg"); }
  test::CommandResult stylize(const std::string& arguments, const std::string& environment) const {
    return stylize_without_weights(arguments, dir, cache(), environment);
  }
  // Serves the tiny Keras file from a loopback server; `environment` then
  // makes a first run download it from `path` (e.g. "slow/keras_tiny.h5").
  void serve_tiny_keras(const std::string& path) {
    const fs::path www = dir.path() / "www";
    fs::create_directories(www);
    fs::copy_file(fixture("keras_vgg19_notop_tiny.h5"), www / "keras_tiny.h5");
    const std::string md5 = file_digest((www / "keras_tiny.h5").string(), DigestAlgorithm::Md5);
    server = std::make_unique<test::HttpServer>(www.string(), dir.file("requests.log"));
    ASSERT_TRUE(server->running());
    url = server->url(path);
    environment = "-u STYLIZE_WEIGHTS STYLIZE_OFFLINE= XDG_CACHE_HOME=" + cache() + " STYLIZE_WEIGHTS_URL=" + url +
                  " STYLIZE_WEIGHTS_CHECKSUM=" + md5;
  }

  test::TempDir dir;
  std::string content, style, output;
  std::unique_ptr<test::HttpServer> server;
  std::string url, environment;
};

TEST_F(FirstRunCli, DownloadsVerifiedWeightsThenStylizes) {
  ASSERT_NO_FATAL_FAILURE(serve_tiny_keras("cut-once/keras_tiny.h5"));
  const test::CommandResult r = stylize(run_flags(), environment);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string cached = cache() + "/stylize/" + kDefaultWeightsFileName;
  EXPECT_TRUE(fs::exists(cached));
  EXPECT_TRUE(fs::exists(output));
  // Not a terminal: plain lines, no bar drawn with carriage returns.
  for (const std::string& needle :
       {"downloading the VGG19 weights from " + url, std::string("; trying again (attempt 2)"),
        std::string("resuming after"), "verified and saved " + cached}) {
    EXPECT_NE(r.output.find(needle), std::string::npos) << needle << "\n" << r.output;
  }
  EXPECT_EQ(r.output.find('\r'), std::string::npos) << r.output;
  EXPECT_EQ(server->requests().size(), 2u);  // cut off once, resumed once

  // The next run uses the cached file without the network.
  fs::remove(output);
  const test::CommandResult again = stylize(run_flags() + " --offline", environment);
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(server->requests().size(), 2u);
}

// A hundred array tasks starting together on one cache: one downloads, the
// others wait for its verified file (a lock file in the cache directory).
TEST_F(FirstRunCli, ProcessesStartedTogetherDownloadOnce) {
  // /slow/ takes 2 s, so the four processes overlap.
  ASSERT_NO_FATAL_FAILURE(serve_tiny_keras("slow/keras_tiny.h5"));
  std::string script;
  for (int i = 0; i < 4; ++i) {
    const std::string log = dir.file("run" + std::to_string(i));
    script += "(env " + environment + " " + STYLIZE_BINARY + " weights download >" + log + " 2>&1; echo $? >" + log +
              ".rc) & ";
  }
  const std::string script_file = dir.file("together.sh");
  { std::ofstream(script_file) << script << "wait\n"; }
  const test::CommandResult r = test::run_command("bash " + script_file);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string cached = cache() + "/stylize/" + kDefaultWeightsFileName;
  std::string logs;
  for (int i = 0; i < 4; ++i) {
    const std::string log = test::read_file(dir.file("run" + std::to_string(i)));
    logs += log;
    EXPECT_EQ(test::read_file(dir.file("run" + std::to_string(i) + ".rc")), "0\n") << log;
    EXPECT_NE(log.find(cached + "\n"), std::string::npos) << log;
  }
  EXPECT_EQ(server->requests().size(), 1u) << logs;
  EXPECT_EQ(files_under(cache()), (std::vector<std::string>{cache() + "/stylize", cached}))
      << "no lock, no partial file left\n"
      << logs;
}

// `weights download` checks the file an earlier download left (a disk error,
// a copy cut short) instead of saying it is there.
TEST_F(FirstRunCli, DownloadReplacesADamagedCachedFile) {
  ASSERT_NO_FATAL_FAILURE(serve_tiny_keras("files/keras_tiny.h5"));
  const std::string cached = cache() + "/stylize/" + kDefaultWeightsFileName;
  const std::string good = test::read_file(fixture("keras_vgg19_notop_tiny.h5"));
  fs::create_directories(cache() + "/stylize");
  std::string damaged = good;
  damaged[damaged.size() / 2] ^= 0x5a;
  test::write_file(cached, damaged);

  const test::CommandResult offline = stylize("weights download --offline", environment);
  EXPECT_EQ(offline.exit_code, 4) << offline.output;
  for (const std::string& needle : {"the cached weights " + cached + " are damaged: their MD5 is ",
                                    std::string("offline mode"), std::string("delete the file")}) {
    EXPECT_NE(offline.output.find(needle), std::string::npos) << needle << "\n" << offline.output;
  }
  EXPECT_EQ(test::read_file(cached), damaged) << "offline, the file is left for the user to see";
  EXPECT_TRUE(server->requests().empty());

  const test::CommandResult r = stylize("weights download", environment);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("are damaged"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("downloading them again"), std::string::npos) << r.output;
  EXPECT_EQ(test::read_file(cached), good);
  EXPECT_EQ(server->requests().size(), 1u);

  // A sound cached file is kept, without the network.
  const test::CommandResult again = stylize("weights download", environment);
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find(cached + "\n"), std::string::npos) << again.output;
  EXPECT_EQ(again.output.find("damaged"), std::string::npos) << again.output;
  EXPECT_EQ(server->requests().size(), 1u);
}

// A mirror's checksum (STYLIZE_WEIGHTS_CHECKSUM, hex in either case) is the
// one the cache's copy is held to by download, verify and list alike; and
// `weights download` looks after the cache's copy even where runs find
// another file first (it had checked and fetched nothing then).
TEST_F(FirstRunCli, TheCachesCopyIsHeldToTheMirrorsChecksumByEveryCommand) {
  ASSERT_NO_FATAL_FAILURE(serve_tiny_keras("files/keras_tiny.h5"));
  const std::string cached = cache() + "/stylize/" + kDefaultWeightsFileName;
  const test::CommandResult first = stylize("weights download", environment);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  ASSERT_EQ(server->requests().size(), 1u);

  std::string md5 = file_digest(cached, DigestAlgorithm::Md5), upper = md5;
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
  ASSERT_NE(upper, md5);
  const std::string upper_environment = environment.substr(0, environment.size() - md5.size()) + upper;
  for (const std::string mode : {" --offline", ""}) {
    const test::CommandResult kept = stylize("weights download" + mode, upper_environment);
    EXPECT_EQ(kept.exit_code, 0) << mode << "\n" << kept.output;
    EXPECT_EQ(kept.output.find("damaged"), std::string::npos) << kept.output;
  }
  EXPECT_EQ(server->requests().size(), 1u) << "the sound file was downloaded again";

  for (const std::string& env : {environment, upper_environment}) {
    const test::CommandResult verify = stylize("weights verify", env);
    EXPECT_EQ(verify.exit_code, 0) << verify.output;
    EXPECT_NE(verify.output.find("verified (MD5 " + md5 + " as STYLIZE_WEIGHTS_CHECKSUM says)"), std::string::npos)
        << verify.output;
    const test::CommandResult list = stylize("weights list", env);
    EXPECT_EQ(list.exit_code, 0) << list.output;
    EXPECT_EQ(list.output.find("MISMATCH"), std::string::npos) << list.output;
  }

  // With models/vgg19.safetensors found first, the damaged cache's copy is still checked and replaced.
  fs::create_directories(dir.path() / "models");
  fs::copy_file(fixture("vgg19_tiny.safetensors"), dir.path() / "models" / "vgg19.safetensors");
  std::string damaged = test::read_file(cached);
  damaged[damaged.size() / 2] ^= 0x5a;
  test::write_file(cached, damaged);
  const test::CommandResult offline = stylize("weights download --offline", environment);
  EXPECT_EQ(offline.exit_code, 4) << offline.output;
  EXPECT_NE(offline.output.find("the cached weights " + cached + " are damaged"), std::string::npos) << offline.output;
  const test::CommandResult replaced = stylize("weights download", environment);
  EXPECT_EQ(replaced.exit_code, 0) << replaced.output;
  EXPECT_NE(replaced.output.find(cached + "\n"), std::string::npos) << replaced.output;
  EXPECT_NE(replaced.output.find("runs use models/vgg19.safetensors, found before the cache's copy"), std::string::npos)
      << replaced.output;
  EXPECT_EQ(file_digest(cached, DigestAlgorithm::Md5), md5);
  EXPECT_EQ(server->requests().size(), 2u);
}

TEST_F(FirstRunCli, NoWeightsAndOfflineExitsWithInstructionsAndNoFiles) {
  for (const std::string mode : {"--offline", ""}) {
    const std::string environment = std::string("-u STYLIZE_WEIGHTS -u STYLIZE_WEIGHTS_URL XDG_CACHE_HOME=") + cache() +
                                    (mode.empty() ? " STYLIZE_OFFLINE=1" : " STYLIZE_OFFLINE=");
    const test::CommandResult r = stylize(run_flags() + " " + mode, environment);
    EXPECT_EQ(r.exit_code, 4) << r.output;
    for (const std::string& needle :
         {std::string("offline mode"), std::string("https://storage.googleapis.com/tensorflow/keras-applications/"),
          "save it as " + cache() + "/stylize/" + kDefaultWeightsFileName, std::string("--weights PATH")}) {
      EXPECT_NE(r.output.find(needle), std::string::npos) << needle << "\n" << r.output;
    }
  }
  EXPECT_EQ(files_under(cache()), std::vector<std::string>{});
  EXPECT_FALSE(fs::exists(output));
}

TEST_F(FirstRunCli, NoNetworkExitsWithTheUrlAndNoPartialFiles) {
  // Nothing listens on 127.0.0.1:1: the connection is refused, as without a network.
  const std::string environment = "-u STYLIZE_WEIGHTS STYLIZE_OFFLINE= XDG_CACHE_HOME=" + cache() +
                                  " STYLIZE_WEIGHTS_URL=http://127.0.0.1:1/vgg19.h5";
  const test::CommandResult r = stylize(run_flags(), environment);
  EXPECT_EQ(r.exit_code, 4) << r.output;
  EXPECT_NE(r.output.find("cannot download http://127.0.0.1:1/vgg19.h5"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("save it as " + cache() + "/stylize/" + kDefaultWeightsFileName), std::string::npos)
      << r.output;
  EXPECT_EQ(files_under(cache()), std::vector<std::string>{});
  EXPECT_FALSE(fs::exists(output));
}

}  // namespace
}  // namespace stylize
