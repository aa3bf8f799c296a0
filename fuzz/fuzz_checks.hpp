// What a fuzz target requires of every input, shared by the targets in fuzz/
// (which abort when a requirement fails, so libFuzzer saves the input) and by
// tests/test_fuzz_regressions.cpp (which replays the saved inputs in every
// test run). A check returns a description of the broken requirement, or ""
// when the input was handled as documented. Exceptions other than the one the
// library documents are not caught: they are bugs too.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

#include "fuzz_checks_weights.hpp"
#include "stylize/errors.hpp"
#include "stylize/io/icc_container.hpp"
#include "stylize/io/image_io.hpp"

namespace stylize::fuzz {

// fuzz_image decodes with this limit rather than kMaxImagePixels, so that an
// image it accepts decodes well inside the fuzzer's memory and time limits;
// the code that refuses larger images is the same.
constexpr int64_t kFuzzMaxPixels = 4 * 1000 * 1000;

struct ImageOutcome {
  std::string problem;  // "" when handled as documented
  bool decoded = false;
  int64_t height = 0, width = 0;
  bool constant = false;  // every value of the decoded image is the same
  int bit_depth = 0;
  bool profile = false;  // an embedded profile was honoured
  bool warned = false;   // ... or ignored with a warning
  std::string error;     // the ImageError's message, when refused
};

// Accepted inputs must decode to a (1, 3, H, W) float32 image in [0, 1] of at
// most `max_pixels` pixels, with a bit depth of 8, 16 or 32; the others must be
// refused with an ImageError.
inline ImageOutcome check_image(const std::string& bytes, int64_t max_pixels = kFuzzMaxPixels) {
  ImageOutcome outcome;
  try {
    const DecodedImage decoded = read_image_bytes(bytes, "fuzz image", max_pixels);
    const torch::Tensor& image = decoded.pixels;
    outcome.decoded = true;
    outcome.bit_depth = decoded.bit_depth;
    outcome.profile = !decoded.profile.empty();
    outcome.warned = !decoded.warnings.empty();
    if (decoded.bit_depth != 8 && decoded.bit_depth != 16 && decoded.bit_depth != 32) {
      outcome.problem = "decoded with a bit depth of " + std::to_string(decoded.bit_depth);
      return outcome;
    }
    if (image.dim() != 4 || image.size(0) != 1 || image.size(1) != 3 || image.size(2) < 1 || image.size(3) < 1) {
      outcome.problem = "decoded to a tensor of shape " + c10::str(image.sizes()) + ", not (1, 3, H, W)";
      return outcome;
    }
    outcome.height = image.size(2);
    outcome.width = image.size(3);
    if (outcome.height * outcome.width > max_pixels) {
      outcome.problem = "decoded " + std::to_string(outcome.height * outcome.width) + " pixels, more than " +
                        std::to_string(max_pixels);
    } else if (image.scalar_type() != torch::kFloat32) {
      outcome.problem = std::string("decoded to ") + c10::toString(image.scalar_type()) + ", not float32";
    } else {
      const float low = image.min().item<float>();
      const float high = image.max().item<float>();
      if (!(low >= 0.0f && high <= 1.0f)) {
        outcome.problem =
            "decoded values from " + std::to_string(low) + " to " + std::to_string(high) + ", not in [0, 1]";
      }
      outcome.constant = low == high;
    }
  } catch (const ImageError& e) {
    outcome.error = e.what();
  }
  return outcome;
}

struct IccOutcome {
  std::string problem;   // "" when handled as documented
  size_t found = 0;      // bytes of the profile read from the input
  bool refused = false;  // read_icc_profile threw ImageError
  bool embedded = false;
};

// The ICC profile reader must return at most kMaxIccProfileBytes or refuse
// with an ImageError; embedding a profile must fail with an OutputError or
// give bytes from which exactly that profile reads back.
inline IccOutcome check_icc_profile(const std::string& bytes) {
  IccOutcome outcome;
  try {
    outcome.found = read_icc_profile(bytes).size();
    if (outcome.found > kMaxIccProfileBytes)
      outcome.problem = "read a profile of " + std::to_string(outcome.found) + " bytes";
  } catch (const ImageError&) {
    outcome.refused = true;
  }
  // An odd size, so chunk padding is exercised; not a valid profile (the
  // containers do not look inside it).
  const std::string icc(301, '\x5a');
  std::string embedded;
  try {
    embedded = embed_icc_profile(bytes, icc);
  } catch (const OutputError&) {
    return outcome;
  }
  outcome.embedded = true;
  try {
    const std::string back = read_icc_profile(embedded);
    if (back != icc) outcome.problem = "an embedded profile of 301 bytes read back as " + std::to_string(back.size());
  } catch (const ImageError& e) {
    outcome.problem = std::string("an embedded profile did not read back: ") + e.what();
  }
  return outcome;
}

}  // namespace stylize::fuzz
