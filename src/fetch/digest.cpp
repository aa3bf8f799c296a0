#include "stylize/fetch/digest.hpp"

#include <openssl/evp.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

#include "stylize/errors.hpp"

namespace stylize {

struct Digest::Context {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Context() { EVP_MD_CTX_free(ctx); }
};

Digest::Digest(DigestAlgorithm algorithm) : algorithm_(algorithm), context_(std::make_unique<Context>()) {
  const EVP_MD* md = algorithm == DigestAlgorithm::Md5 ? EVP_md5() : EVP_sha256();
  if (!context_->ctx || EVP_DigestInit_ex(context_->ctx, md, nullptr) != 1) {
    throw FetchError("cannot compute " + digest_name(algorithm) + ": OpenSSL refused to start the digest");
  }
}

Digest::~Digest() = default;

void Digest::update(const void* data, size_t size) { EVP_DigestUpdate(context_->ctx, data, size); }

std::string Digest::hex() {
  unsigned char value[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(context_->ctx, value, &length);
  static const char kHex[] = "0123456789abcdef";
  std::string text;
  for (unsigned int i = 0; i < length; ++i) {
    text += kHex[value[i] >> 4];
    text += kHex[value[i] & 15];
  }
  return text;
}

std::string digest_name(DigestAlgorithm algorithm) { return algorithm == DigestAlgorithm::Md5 ? "MD5" : "SHA-256"; }

std::optional<DigestAlgorithm> digest_algorithm_for(const std::string& checksum) {
  for (char c : checksum) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  if (checksum.size() == 32) return DigestAlgorithm::Md5;
  if (checksum.size() == 64) return DigestAlgorithm::Sha256;
  return std::nullopt;
}

std::string file_digest(const std::string& path, DigestAlgorithm algorithm) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw FetchError("cannot read '" + path + "' to check its checksum: " + std::strerror(errno));
  Digest digest(algorithm);
  std::vector<char> buffer(1 << 20);
  while (file) {
    file.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    digest.update(buffer.data(), static_cast<size_t>(file.gcount()));
  }
  if (file.bad()) throw FetchError("cannot read '" + path + "' to check its checksum: read error");
  return digest.hex();
}

}  // namespace stylize
