// Where weights are looked for and what is downloaded (weights/catalog.hpp).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "stylize/errors.hpp"
#include "stylize/fetch/digest.hpp"
#include "stylize/weights/catalog.hpp"
#include "test_util.hpp"

namespace stylize {
namespace {

namespace fs = std::filesystem;

TEST(WeightsLookup, CacheCatalogAndOfflineSwitch) {
  // The cache: $XDG_CACHE_HOME/stylize, else ~/.cache/stylize; searched last.
  test::ScopedEnv home("HOME", "/home/someone");
  {
    test::ScopedEnv xdg("XDG_CACHE_HOME", "/var/cache/me");
    EXPECT_EQ(weights_cache_dir(), "/var/cache/me/stylize");
  }
  test::ScopedEnv xdg("XDG_CACHE_HOME", std::nullopt);
  EXPECT_EQ(weights_cache_dir(), "/home/someone/.cache/stylize");
  const auto candidates = default_weights_candidates();
  EXPECT_EQ(candidates.back(), std::string("/home/someone/.cache/stylize/") + kDefaultWeightsFileName);

  // The default download: Keras's notop file and the MD5 Keras publishes for it.
  test::ScopedEnv url("STYLIZE_WEIGHTS_URL", std::nullopt);
  test::ScopedEnv checksum("STYLIZE_WEIGHTS_CHECKSUM", std::nullopt);
  const DownloadSource source = default_download_source();
  EXPECT_EQ(source.url,
            "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/"
            "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5");
  EXPECT_EQ(source.checksum, "253f8cb515780f3b799900260a226db6");
  EXPECT_EQ(digest_algorithm_for(source.checksum), DigestAlgorithm::Md5);
  EXPECT_EQ(source.size, 80134624u);
  EXPECT_EQ(source.file_name, kDefaultWeightsFileName);
  for (const auto& known : known_weights()) {
    EXPECT_TRUE(known.checksum.empty() || digest_algorithm_for(known.checksum)) << known.file_name;
    EXPECT_EQ(find_known_weights(known.file_name), &known);
  }
  // A mirror with another file: its checksum, and no size check.
  {
    test::ScopedEnv mirror("STYLIZE_WEIGHTS_URL", "http://mirror.example/vgg.h5");
    test::ScopedEnv other("STYLIZE_WEIGHTS_CHECKSUM", std::string(64, 'a'));
    EXPECT_EQ(default_download_source().url, "http://mirror.example/vgg.h5");
    EXPECT_EQ(default_download_source().checksum, std::string(64, 'a'));
    EXPECT_EQ(default_download_source().size, 0u);
  }
  // STYLIZE_OFFLINE: anything but empty, 0, false or no.
  for (const auto& [value, offline] : std::vector<std::pair<std::optional<std::string>, bool>>{
           {std::nullopt, false}, {"", false}, {"0", false}, {"false", false}, {"1", true}, {"yes", true}}) {
    test::ScopedEnv env("STYLIZE_OFFLINE", value);
    EXPECT_EQ(offline_from_environment(), offline) << (value ? *value : "(unset)");
  }
}

TEST(WeightsLookup, SearchOrderIsCurrentDirectoryInstallationThenCache) {
  test::ScopedEnv xdg("XDG_CACHE_HOME", "/var/cache/me");
  test::ScopedEnv weights("STYLIZE_WEIGHTS", std::nullopt);
  // The installation prefix is the folder above the running executable's.
  const fs::path prefix = fs::read_symlink("/proc/self/exe").parent_path().parent_path();
  const std::vector<std::string> expected = {"models", (prefix / "share" / "stylize" / "models").string(),
                                             (prefix / "models").string(), "/var/cache/me/stylize"};
  EXPECT_EQ(weights_search_directories(), expected);
  const std::vector<std::string> candidates = default_weights_candidates();
  ASSERT_EQ(candidates.size(), 7u);
  EXPECT_EQ(candidates[0], "models/vgg19.safetensors");
  EXPECT_EQ(candidates[1], std::string("models/") + kDefaultWeightsFileName);
  EXPECT_EQ(candidates[5], (prefix / "models").string() + "/" + kDefaultWeightsFileName);
  EXPECT_EQ(candidates[6], std::string("/var/cache/me/stylize/") + kDefaultWeightsFileName)
      << "only Keras's file there";
  test::ScopedEnv named("STYLIZE_WEIGHTS", "/some/w.safetensors");
  EXPECT_EQ(default_weights_candidates().front(), "/some/w.safetensors");
}

TEST(WeightsLookup, NamedFilesMustExistAndTheFirstCandidateFoundIsUsed) {
  test::TempDir dir;
  try {
    find_weights(dir.file("missing.safetensors"));
    FAIL();
  } catch (const WeightsError& e) {
    EXPECT_NE(std::string(e.what()).find("file not found"), std::string::npos);
  }
  {
    test::ScopedEnv named("STYLIZE_WEIGHTS", dir.file("gone.h5"));
    EXPECT_THROW(find_weights(""), WeightsError);
    EXPECT_EQ(find_weights(test::fixture("vgg19_tiny.safetensors")).value_or(""),
              test::fixture("vgg19_tiny.safetensors"))
        << "--weights comes before STYLIZE_WEIGHTS";
  }
  {
    // A directory is not passed over for the next candidate: the run would
    // use weights the user did not name.
    test::ScopedEnv named("STYLIZE_WEIGHTS", dir.path().string());
    const std::string message = test::error_message<WeightsError>([] { find_weights(""); }, "(found)");
    EXPECT_NE(message.find("STYLIZE_WEIGHTS names '" + dir.path().string() + "', a directory; it names a weights file"),
              std::string::npos)
        << message;
  }
  // With every installed file hidden: nothing; then the cache; then models/ of
  // the current directory before it, vgg19.safetensors first; STYLIZE_WEIGHTS before all.
  test::HiddenWeights hidden(dir.path());
  EXPECT_FALSE(find_weights("").has_value());
  fs::create_directories(dir.path() / "cache" / "stylize");
  const std::string cached = (dir.path() / "cache" / "stylize" / kDefaultWeightsFileName).string();
  test::write_file(cached, "x");
  EXPECT_EQ(find_weights("").value_or(""), cached);
  fs::create_directories(dir.path() / "models");
  test::write_file(dir.file("models/" + std::string(kDefaultWeightsFileName)), "x");
  EXPECT_EQ(find_weights("").value_or(""), std::string("models/") + kDefaultWeightsFileName);
  test::write_file(dir.file("models/vgg19.safetensors"), "x");
  EXPECT_EQ(find_weights("").value_or(""), "models/vgg19.safetensors");
  test::ScopedEnv named("STYLIZE_WEIGHTS", cached);
  EXPECT_EQ(find_weights("").value_or(""), cached) << "STYLIZE_WEIGHTS comes before models/";
}

}  // namespace
}  // namespace stylize
