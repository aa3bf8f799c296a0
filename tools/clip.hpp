// Synthetic test clips for `stylize video`'s tests and benchmark: a camera
// panning and zooming over a still image (or over a generated texture), so
// that the true motion between frames is known.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/types.h>

namespace stylize::clip {

// A seeded colourful texture, (1, 3, height, width) in [0, 1]: random values
// on grids of 3, 6, 12 and 24 pixels, smoothly interpolated and summed, so it
// has detail at every scale (what optical flow needs to track motion).
torch::Tensor texture(int64_t height, int64_t width, uint64_t seed = 7);

struct Motion {
  double pan_x = 0, pan_y = 0;  // camera movement per frame, in output pixels at the first frame
  double zoom = 1;              // magnification per frame (1.01: 1% closer each frame)
};

// `frames` frames of `width` x `height` pixels of a camera moving over
// `image` ((1, 3, H, W) in [0, 1]): the image is first resized (antialiased)
// so that the whole path fits inside it, then sampled bilinearly. A camera
// panning right by p makes the content move left by p pixels per frame.
std::vector<torch::Tensor> render(const torch::Tensor& image, const Motion& motion, int frames, int64_t width,
                                  int64_t height);

}  // namespace stylize::clip
