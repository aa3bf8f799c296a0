// The `stylize video` sub-command (README, "Video").
#pragma once

#include "params.hpp"

namespace stylize::cli {

// Stylizes every frame of params.run.content_path into params.run.output_path.
// Finished frames are written as they are made (a video file output is
// encoded from them at the end), so an interrupted run keeps them and
// --resume goes on from the first missing one. Returns 0, 7 (a frame's loss
// became NaN; the frames before it are kept) or 128 + a signal (interrupted);
// throws the library's errors for everything else.
int video_command(VideoParams params);

// The seconds each later frame should take, estimated from the first: later
// frames from the previous output (`from_previous`) run `later_iterations` at
// full size, each costing what the first frame's last scale did
// (`last_scale_seconds_per_iteration`); independent frames repeat the first
// frame's schedule and take its time.
double later_frame_seconds(double first_frame_seconds, double last_scale_seconds_per_iteration, int later_iterations,
                           bool from_previous);

// Parses `stylize video ...` (argv[0] is "video") and runs it.
int video_main(int argc, char** argv);

}  // namespace stylize::cli
