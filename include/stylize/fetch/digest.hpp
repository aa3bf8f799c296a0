// MD5 and SHA-256 of files, to verify downloaded weights. Keras publishes an
// MD5 for its VGG19 file, Hugging Face a SHA-256 for timm's; a checksum is told
// apart by its length, as Keras's get_file does (32 hex digits: MD5, 64: SHA-256).
// Self-contained implementations (RFC 1321, FIPS 180-4): no OpenSSL dependency
// for two small, well-specified functions. MD5 is used only to check a file
// against the digest its publisher gives, never for security.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace stylize {

enum class DigestAlgorithm { Md5, Sha256 };

// Incremental digest of bytes.
class Digest {
 public:
  explicit Digest(DigestAlgorithm algorithm);
  void update(const void* data, size_t size);
  // Lowercase hex digest; the object must not be updated afterwards.
  std::string hex();
  DigestAlgorithm algorithm() const { return algorithm_; }

 private:
  void block(const unsigned char* data);

  DigestAlgorithm algorithm_;
  std::array<uint32_t, 8> state_{};
  std::array<unsigned char, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t length_ = 0;  // bytes hashed
};

// "MD5" or "SHA-256".
std::string digest_name(DigestAlgorithm algorithm);

// The algorithm a checksum's length implies, or nullopt if it is not 32 or 64
// hex digits.
std::optional<DigestAlgorithm> digest_algorithm_for(const std::string& checksum);

// Lowercase hex digest of a file. Throws WeightsError if it cannot be read.
std::string file_digest(const std::string& path, DigestAlgorithm algorithm);

// Whether `path` has `checksum` (MD5 or SHA-256 by length, case-insensitive).
// Throws WeightsError if the file cannot be read or the checksum is malformed.
bool file_matches_checksum(const std::string& path, const std::string& checksum);

}  // namespace stylize
