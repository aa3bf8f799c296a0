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

// A frame just made, as the estimate of the time left sees it.
struct FrameTiming {
  double seconds = 0;                           // of this run's part of it
  double last_scale_seconds_per_iteration = 0;  // measured in that part
  int scales = 1, iterations = 0;               // its schedule
  bool first = false;                           // the video's first frame (not from a previous output)
  bool resumed = false;                         // gone on with from where an interrupted run stopped
};

// The seconds each later frame should take, estimated from `frame`: later
// frames from the previous output (`from_previous`) run `later_iterations` at
// full size, each costing what `frame`'s last scale did, unless `frame` is such
// a frame made whole (its time); independent frames repeat `frame`'s schedule
// and take its time. A resumed frame was made in part: its iterations give the
// estimate, or 0 (not known) for a part of a coarse-to-fine schedule.
double later_frame_seconds(const FrameTiming& frame, int later_iterations, bool from_previous);

// Parses `stylize video ...` (argv[0] is "video") and runs it.
int video_main(int argc, char** argv);

}  // namespace stylize::cli
