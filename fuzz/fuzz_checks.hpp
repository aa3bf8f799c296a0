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
  std::string error;      // the ImageError's message, when refused
};

// Accepted inputs must decode to a (1, 3, H, W) float32 image in [0, 1] of at
// most `max_pixels` pixels; the others must be refused with an ImageError.
inline ImageOutcome check_image(const std::string& bytes, int64_t max_pixels = kFuzzMaxPixels) {
  ImageOutcome outcome;
  try {
    const torch::Tensor image = decode_image(bytes, "fuzz image", max_pixels);
    outcome.decoded = true;
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

}  // namespace stylize::fuzz
