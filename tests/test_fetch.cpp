// The fetch wing: the downloader against a real HTTP server on 127.0.0.1
// (tests/http_server.py), and the checksums it relies on.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "stylize/errors.hpp"
#include "stylize/fetch/digest.hpp"
#include "stylize/fetch/download.hpp"
#include "test_http_server.hpp"
#include "test_util.hpp"

namespace stylize {
namespace {

namespace fs = std::filesystem;

std::string digest_of(const std::string& bytes, DigestAlgorithm algorithm) {
  Digest digest(algorithm);
  digest.update(bytes.data(), bytes.size());
  return digest.hex();
}

TEST(Digest, Md5AndSha256MatchPublishedVectorsInAnyPieces) {
  // MD5: RFC 1321 test suite.
  EXPECT_EQ(digest_of("", DigestAlgorithm::Md5), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(digest_of("abc", DigestAlgorithm::Md5), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(digest_of("message digest", DigestAlgorithm::Md5), "f96b697d7cb7938d525a2f31aaf161d0");
  EXPECT_EQ(digest_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", DigestAlgorithm::Md5),
            "d174ab98d277d9f5a5611c2c9f419d9f");
  EXPECT_EQ(digest_of("12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                      DigestAlgorithm::Md5),
            "57edf4a22be3c955ac49da2e2107b67a");
  // SHA-256: FIPS 180-2 examples.
  EXPECT_EQ(digest_of("", DigestAlgorithm::Sha256), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(digest_of("abc", DigestAlgorithm::Sha256),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(digest_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", DigestAlgorithm::Sha256),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(digest_of(std::string(1000000, 'a'), DigestAlgorithm::Sha256),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");

  // Fed in pieces of every size, the digests are the same.
  std::string bytes;
  for (int i = 0; i < 1000; ++i) bytes += static_cast<char>((i * 7919) & 0xff);
  for (const DigestAlgorithm algorithm : {DigestAlgorithm::Md5, DigestAlgorithm::Sha256}) {
    Digest pieces(algorithm);
    for (size_t at = 0, step = 1; at < bytes.size(); at += step, step = step % 70 + 1) {
      pieces.update(bytes.data() + at, std::min(step, bytes.size() - at));
    }
    EXPECT_EQ(pieces.hex(), digest_of(bytes, algorithm));
  }
  EXPECT_EQ(digest_algorithm_for("253f8cb515780f3b799900260a226db6"), DigestAlgorithm::Md5);
  EXPECT_EQ(digest_algorithm_for(std::string(64, 'a')), DigestAlgorithm::Sha256);
  EXPECT_FALSE(digest_algorithm_for("xyz").has_value());
  EXPECT_FALSE(digest_algorithm_for(std::string(32, 'g')).has_value());
}

class Download : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(root());
    for (int i = 0; i < 300000; ++i) {  // deterministic, not compressible
      seed = seed * 6364136223846793005ull + 1442695040888963407ull;
      payload += static_cast<char>(seed >> 56);
    }
    test::write_file((root() / "payload.bin").string(), payload);
    md5 = digest_of(payload, DigestAlgorithm::Md5);
    server = std::make_unique<test::HttpServer>(root().string(), dir.file("requests.log"));
    ASSERT_TRUE(server->running()) << "could not start tests/http_server.py with " << STYLIZE_TEST_PYTHON;
    destination = dir.file("cache/stylize/weights.h5");
  }

  fs::path root() const { return dir.path() / "www"; }
  std::string partial() const { return destination + ".partial"; }

  DownloadRequest request(const std::string& path) {
    DownloadRequest r;
    r.url = server->url(path);
    r.destination = destination;
    r.checksum = md5;
    r.expected_size = payload.size();
    r.retry_delay_ms = 0;
    r.progress = [this](const DownloadProgress& p) {
      events.push_back(p);
      return true;
    };
    return r;
  }

  std::string download_error(const DownloadRequest& r) {
    try {
      download_file(r);
    } catch (const FetchError& e) {
      return e.what();
    }
    return "(no FetchError)";
  }

  test::TempDir dir;
  uint64_t seed = 19;
  std::string payload, md5, destination;
  std::unique_ptr<test::HttpServer> server;
  std::vector<DownloadProgress> events;
};

TEST_F(Download, DownloadsVerifiesAndRenames) {
  download_file(request("files/payload.bin"));
  EXPECT_EQ(test::read_file(destination), payload);
  EXPECT_FALSE(fs::exists(partial()));
  EXPECT_EQ(server->requests(), std::vector<std::string>{"GET /files/payload.bin -"});
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(events.front().stage, DownloadProgress::Stage::Starting);
  EXPECT_EQ(events.back().stage, DownloadProgress::Stage::Done);
  uint64_t last = 0;
  for (const auto& e : events) {
    if (e.stage != DownloadProgress::Stage::Transferring) continue;
    EXPECT_EQ(e.total, payload.size());
    EXPECT_GE(e.bytes, last);
    last = e.bytes;
  }
  EXPECT_EQ(last, payload.size());
}

TEST_F(Download, NotFoundSaysWhichUrlWhyAndWhereToPutTheFile) {
  const DownloadRequest r = request("files/missing.bin");
  const std::string message = download_error(r);
  EXPECT_NE(message.find("cannot download " + r.url), std::string::npos) << message;
  EXPECT_NE(message.find("HTTP 404"), std::string::npos) << message;
  EXPECT_NE(message.find("save it as " + destination), std::string::npos) << message;
  EXPECT_NE(message.find(md5), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(destination));
  EXPECT_FALSE(fs::exists(partial()));
  EXPECT_FALSE(fs::exists(dir.file("cache"))) << "a failed download must not leave directories behind";
  EXPECT_EQ(server->requests().size(), 1u) << "a 404 is not retried";
}

TEST_F(Download, WrongChecksumOrSizeDeletesTheFile) {
  DownloadRequest r = request("files/payload.bin");
  r.checksum = std::string(32, '0');
  std::string message = download_error(r);
  EXPECT_NE(message.find("MD5 is " + md5 + ", expected " + r.checksum), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(destination));
  EXPECT_FALSE(fs::exists(partial()));
  EXPECT_EQ(server->requests().size(), 1u) << "a complete download with the wrong checksum is not retried";

  r = request("files/payload.bin");
  r.expected_size = payload.size() - 1;
  message = download_error(r);
  EXPECT_NE(message.find("sent 300000 bytes, expected 299999"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(destination));
  EXPECT_FALSE(fs::exists(partial()));

  // A complete file shorter than expected (a mirror's other file): resuming
  // would never complete it, so it fails at once, with nothing left behind.
  const size_t before = server->requests().size();
  r = request("files/payload.bin");
  r.expected_size = payload.size() + 1;
  message = download_error(r);
  EXPECT_NE(message.find("the server's file is 300000 bytes, expected 300001"), std::string::npos) << message;
  EXPECT_EQ(message.find("gave up after"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(destination));
  EXPECT_FALSE(fs::exists(partial()));
  EXPECT_EQ(server->requests().size(), before + 1) << "not retried";
}

TEST_F(Download, TransferCutOffHalfWayIsResumed) {
  download_file(request("cut-once/payload.bin"));
  EXPECT_EQ(test::read_file(destination), payload);
  EXPECT_FALSE(fs::exists(partial()));
  const std::vector<std::string> expected = {"GET /cut-once/payload.bin -", "GET /cut-once/payload.bin bytes=150000-"};
  EXPECT_EQ(server->requests(), expected);
  bool resumed = false;
  for (const auto& e : events) {
    resumed |= e.attempt == 2 && e.resumed_from == 150000;
    EXPECT_EQ(e.retry_reason.empty(), e.attempt == 1) << e.retry_reason;
  }
  EXPECT_TRUE(resumed);
}

// A retry says why the attempt before ended: a server busy for a moment is
// no transfer broken off (it was said to be).
TEST_F(Download, ARetrySaysWhyTheAttemptBeforeEnded) {
  download_file(request("busy-once/payload.bin"));
  EXPECT_EQ(test::read_file(destination), payload);
  const std::vector<std::string> expected = {"GET /busy-once/payload.bin -", "GET /busy-once/payload.bin -"};
  EXPECT_EQ(server->requests(), expected);
  std::vector<std::string> reasons;
  for (const auto& e : events) {
    if (e.stage == DownloadProgress::Stage::Starting) reasons.push_back(e.retry_reason);
  }
  EXPECT_EQ(reasons, (std::vector<std::string>{"", "HTTP 503 (server error, try again later)"}));
}

TEST_F(Download, InterruptedRunLeavesAPartialFileTheNextRunResumes) {
  DownloadRequest r = request("cut-always/payload.bin");
  r.max_attempts = 1;
  const std::string message = download_error(r);
  EXPECT_NE(message.find("running again resumes"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(destination)) << "an unverified file must never get the final name";
  ASSERT_TRUE(fs::exists(partial()));
  EXPECT_EQ(fs::file_size(partial()), 150000u);

  download_file(request("files/payload.bin"));
  EXPECT_EQ(test::read_file(destination), payload);
  EXPECT_FALSE(fs::exists(partial()));
  EXPECT_EQ(server->requests().back(), "GET /files/payload.bin bytes=150000-");
}

TEST_F(Download, ServerIgnoringRangeStartsOver) {
  fs::create_directories(fs::path(destination).parent_path());
  test::write_file(partial(), payload.substr(0, 1000));
  DownloadRequest r = request("no-range/payload.bin");
  r.max_attempts = 1;  // starting over is not counted as another attempt
  download_file(r);
  EXPECT_EQ(test::read_file(destination), payload);
  const std::vector<std::string> expected = {"GET /no-range/payload.bin bytes=1000-", "GET /no-range/payload.bin -"};
  EXPECT_EQ(server->requests(), expected);
}

TEST_F(Download, PartialFileLongerThanTheServersStartsOver) {
  // The size is not known in advance (a mirror's checksum), so only the server
  // can tell that the partial file is too long: HTTP 416.
  fs::create_directories(fs::path(destination).parent_path());
  test::write_file(partial(), payload + "trailing bytes");
  DownloadRequest r = request("files/payload.bin");
  r.expected_size = 0;
  download_file(r);
  EXPECT_EQ(test::read_file(destination), payload);
  EXPECT_FALSE(fs::exists(partial()));
  const std::vector<std::string> expected = {"GET /files/payload.bin bytes=300014-", "GET /files/payload.bin -"};
  EXPECT_EQ(server->requests(), expected);
}

TEST_F(Download, StalePartialFileIsDiscardedAndDownloadedAgain) {
  fs::create_directories(fs::path(destination).parent_path());
  test::write_file(partial(), std::string(1000, 'x'));  // from another file: the checksum will not match
  download_file(request("files/payload.bin"));
  EXPECT_EQ(test::read_file(destination), payload);
  const std::vector<std::string> expected = {"GET /files/payload.bin bytes=1000-", "GET /files/payload.bin -"};
  EXPECT_EQ(server->requests(), expected);
}

TEST_F(Download, CancelKeepsThePartialFile) {
  DownloadRequest r = request("files/payload.bin");
  r.progress = [](const DownloadProgress& p) { return p.stage != DownloadProgress::Stage::Transferring; };
  const std::string message = download_error(r);
  EXPECT_NE(message.find("cancelled"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(destination));
  EXPECT_TRUE(fs::exists(partial()));
}

TEST_F(Download, RefusesOtherSchemesAndMalformedChecksums) {
  DownloadRequest r = request("files/payload.bin");
  r.url = "file:///etc/hostname";
  EXPECT_NE(download_error(r).find("only http:// and https://"), std::string::npos);
  r = request("files/payload.bin");
  r.checksum = "not-a-checksum";
  EXPECT_NE(download_error(r).find("neither an MD5 nor a SHA-256"), std::string::npos);
  EXPECT_TRUE(server->requests().empty());
}

TEST_F(Download, ConnectionRefusedFailsAtOnceWithoutFiles) {
  DownloadRequest r = request("files/payload.bin");
  r.url = "http://127.0.0.1:1/payload.bin";  // nothing listens on port 1
  const std::string message = download_error(r);
  EXPECT_NE(message.find("cannot download http://127.0.0.1:1/payload.bin"), std::string::npos) << message;
  EXPECT_NE(message.find("save it as " + destination), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(dir.file("cache")));
}

}  // namespace
}  // namespace stylize
