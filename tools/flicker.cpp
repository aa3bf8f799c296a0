// flicker: how much a stylized video flickers. For each pair of consecutive
// output frames, the mean absolute difference between output i and output i-1
// warped onto it by the optical flow of the INPUT frames, over the pixels where
// that flow is reliable (stylize::warped_difference, io/flow.hpp); prints the
// mean over the pairs. For scripts/bench.sh and README's video numbers; not installed.
//
//   flicker --input in/f_%03d.png --output out/frame_%05d.png
#include <cstdio>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "stylize/errors.hpp"
#include "stylize/io/flow.hpp"
#include "stylize/io/video_io.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Mean warped difference between consecutive frames of a stylized video"};
  std::string input, output;
  app.add_option("--input", input, "the input video: file, folder or frame pattern")->required();
  app.add_option("--output", output, "the stylized video: file, folder or frame pattern")->required();
  CLI11_PARSE(app, argc, argv);
  try {
    const auto outputs = stylize::open_frame_source(output);
    torch::Tensor first = *outputs->next();
    const int longest = static_cast<int>(std::max(first.size(2), first.size(3)));
    const auto inputs = stylize::open_frame_source(input, longest);
    torch::Tensor previous_in = *inputs->next(), previous_out = first;
    double sum = 0;
    int pairs = 0;
    while (true) {
      auto in = inputs->next();
      auto out = outputs->next();
      if (!in || !out) break;
      if (in->sizes() != out->sizes()) throw stylize::ImageError("input and output frames differ in size");
      const stylize::FrameMotion motion = stylize::frame_motion(*in, previous_in);
      const double difference = stylize::warped_difference(*out, previous_out, motion);
      std::printf("frame %d: %.5f\n", pairs + 2, difference);
      sum += difference;
      ++pairs;
      previous_in = *in;
      previous_out = *out;
    }
    if (pairs == 0) throw stylize::ImageError("fewer than two frames");
    std::printf("mean warped difference: %.5f over %d frame pairs\n", sum / pairs, pairs);
  } catch (const stylize::Error& e) {
    std::fprintf(stderr, "flicker: %s\n", e.what());
    return 1;
  }
  return 0;
}
