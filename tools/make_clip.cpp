// make_clip: writes a short synthetic clip, a camera panning and zooming over
// an image (or over a generated texture), as a video file or numbered frames.
// For trying `stylize video` and for scripts/bench.sh; not installed.
//
//   make_clip -o clip.mp4                                   # texture, 24 frames of 512x288 at 12 fps
//   make_clip --image photo.jpg --pan 3,1 --zoom 1.01 -o frames/f_%04d.png
#include <cstdio>
#include <sstream>
#include <string>

#include <CLI/CLI.hpp>

#include "clip.hpp"
#include "stylize/errors.hpp"
#include "stylize/io/image_io.hpp"
#include "stylize/io/video_io.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Writes a synthetic clip: a camera panning and zooming over an image"};
  std::string image_path, output, pan = "4,1";
  int frames = 24, width = 512, height = 288;
  double zoom = 1.0, fps = 12.0;
  uint64_t seed = 7;
  app.add_option("-o,--output", output, "video file (.mp4, .avi, ...) or frame pattern (out/f_%05d.png)")->required();
  app.add_option("--image", image_path, "image to film (default: a generated texture)");
  app.add_option("--frames", frames, "number of frames")->check(CLI::Range(1, 100000));
  app.add_option("--width", width, "frame width")->check(CLI::Range(16, 8192));
  app.add_option("--height", height, "frame height")->check(CLI::Range(16, 8192));
  app.add_option("--pan", pan, "camera movement per frame in pixels, DX,DY (the content moves the other way)");
  app.add_option("--zoom", zoom, "magnification per frame (1.01: 1% closer each frame)")->check(CLI::Range(0.5, 2.0));
  app.add_option("--fps", fps, "frame rate of a video file")->check(CLI::Range(1.0, 240.0));
  app.add_option("--seed", seed, "seed of the generated texture");
  CLI11_PARSE(app, argc, argv);

  stylize::clip::Motion motion;
  motion.zoom = zoom;
  char comma = 0;
  std::istringstream pan_text(pan);
  if (!(pan_text >> motion.pan_x >> comma >> motion.pan_y) || comma != ',' || !pan_text.eof()) {
    std::fprintf(stderr, "make_clip: --pan expects DX,DY such as 4,1, got '%s'\n", pan.c_str());
    return 2;
  }
  try {
    stylize::check_video_output(output);
    const torch::Tensor image = image_path.empty() ? stylize::clip::texture(height * 2, width * 2, seed)
                                                   : stylize::load_image(image_path, "image");
    const auto clip = stylize::clip::render(image, motion, frames, width, height);
    if (stylize::FramePattern::looks_like_pattern(output)) {
      const stylize::FramePattern pattern(output);
      for (size_t i = 0; i < clip.size(); ++i) stylize::save_image(clip[i], pattern.path(static_cast<int64_t>(i) + 1));
    } else {
      stylize::VideoFileWriter writer(output, fps, width, height);
      for (const torch::Tensor& frame : clip) writer.write(frame);
      writer.finish();
    }
  } catch (const stylize::Error& e) {
    std::fprintf(stderr, "make_clip: %s\n", e.what());
    return 1;
  }
  std::printf("%s: %d frames of %dx%d\n", output.c_str(), frames, width, height);
  return 0;
}
