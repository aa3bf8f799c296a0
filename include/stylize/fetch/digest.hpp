// MD5 and SHA-256 of bytes and files (OpenSSL's EVP interface), to verify
// downloads against the digest their publisher gives. Keras publishes an MD5
// for its VGG19 file, Hugging Face a SHA-256 for timm's; a checksum is told
// apart by its length, as Keras's get_file does (32 hex digits: MD5, 64:
// SHA-256). MD5 is used only to compare a file with its published digest,
// never for security.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

namespace stylize {

enum class DigestAlgorithm { Md5, Sha256 };

// Incremental digest of bytes.
class Digest {
 public:
  explicit Digest(DigestAlgorithm algorithm);
  ~Digest();
  Digest(const Digest&) = delete;
  Digest& operator=(const Digest&) = delete;
  void update(const void* data, size_t size);
  // Lowercase hex digest; the object must not be updated afterwards.
  std::string hex();
  DigestAlgorithm algorithm() const { return algorithm_; }

 private:
  struct Context;
  DigestAlgorithm algorithm_;
  std::unique_ptr<Context> context_;
};

// "MD5" or "SHA-256".
std::string digest_name(DigestAlgorithm algorithm);

// The algorithm a checksum's length implies, or nullopt if it is not 32 or 64
// hex digits.
std::optional<DigestAlgorithm> digest_algorithm_for(const std::string& checksum);

// Lowercase hex digest of a file. Throws FetchError if it cannot be read.
std::string file_digest(const std::string& path, DigestAlgorithm algorithm);

}  // namespace stylize
