// Frames in and out of `stylize video`: a video file (OpenCV's VideoCapture and
// VideoWriter through FFmpeg), a folder of frames, or a numbered file pattern
// such as frames/f_%05d.png. Frames are (1, 3, H, W) float32 RGB tensors in
// [0, 1], as images everywhere in stylize. Only the picture is carried: audio
// and subtitles are not read or written.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/types.h>

#include "stylize/io/color_profile.hpp"

namespace stylize {

// A numbered file pattern with one printf-style integer conversion: %d, %5d
// or %05d (%% is a literal percent sign), e.g. "out/frame_%05d.png".
class FramePattern {
 public:
  // Throws OptionError unless `pattern` has exactly one such conversion.
  explicit FramePattern(const std::string& pattern);
  // Whether `text` is meant as a pattern: it has a % that is not %% (which
  // the constructor then accepts or explains).
  static bool looks_like_pattern(const std::string& text);
  std::string path(int64_t number) const;
  // Whether path(n) is `text` for some n >= 0.
  bool matches(const std::string& text) const;
  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_, prefix_, suffix_;
  int width_ = 0;
  bool zero_pad_ = false;
};

// The image files of a folder in natural order (frame2 before frame10),
// hidden files left out. Throws ImageError for a missing or unreadable folder.
std::vector<std::string> list_frame_files(const std::string& folder);

// "frame2.png" < "frame10.png": digit runs compare as numbers.
bool natural_less(const std::string& a, const std::string& b);

// What is known about a video before its frames are read.
struct VideoInfo {
  double fps = 0;                  // frames per second; 0 when the source does not say (frame files)
  int64_t frame_count = -1;        // -1 when unknown
  bool frame_count_exact = false;  // false for a video file's header, which may be off by a few frames
  // A frame pattern: files that match it past a gap in its numbers, which
  // ends the sequence (f_0001, f_0003: one frame, one left).
  int64_t left_after_gap = 0;
  int width = 0, height = 0;  // of the source's frames, before any resizing
  // The first frame's bits per channel and embedded colour profile (empty:
  // sRGB), which --bit-depth auto and --keep-profile follow; a video file's
  // frames are 8-bit sRGB.
  int bit_depth = 8;
  ColorProfile profile;
};

// Frames read one after the other.
class FrameSource {
 public:
  virtual ~FrameSource() = default;
  const VideoInfo& info() const { return info_; }
  // The next frame, resized to the longest side given at opening; nullopt
  // after the last one. A frame that cannot be read or decoded, or whose size
  // differs from the first frame's, throws an ImageError naming it (its
  // number, counted from 1, and its file).
  virtual std::optional<torch::Tensor> next() = 0;
  // How many frames next() has returned.
  int64_t frames_read() const { return read_; }
  // The source as the user named it.
  const std::string& name() const { return name_; }

 protected:
  VideoInfo info_;
  int64_t read_ = 0;
  std::string name_;
};

// Opens a video file, a folder of frames or a frame pattern (whose numbering
// starts at the first of 0..4 that exists, as FFmpeg's does). Frames come out
// with their longest side resized to `longest_side` pixels (0: unchanged).
// Throws ImageError when the source cannot be opened or holds no frame.
std::unique_ptr<FrameSource> open_frame_source(const std::string& spec, int longest_side = 0);

// The video containers stylize writes, by file extension, and their codecs:
// .mp4 .m4v .mov .mkv: H.264 (avc1), else MPEG-4 part 2 (mp4v); .avi: Motion
// JPEG (MJPG); .webm: VP9, else VP8.
bool has_video_extension(const std::string& path);

// A video file written frame by frame. Frames go to a temporary file next to
// `path`, which finish() checks and renames over `path` (over the file a
// symbolic link there points to: the link stays a link); a writer destroyed
// before finish() removes it, so a failed or interrupted run never leaves a
// half-written video. Width and height are rounded down to even numbers (what
// the codecs take), cropping the last column or row of odd-sized frames.
class VideoFileWriter {
 public:
  // Throws OutputError when the container or its codecs cannot be written
  // here or the folder is not writable. `codec` forces a FourCC ("avc1").
  VideoFileWriter(const std::string& path, double fps, int width, int height, const std::string& codec = "");
  ~VideoFileWriter();
  VideoFileWriter(const VideoFileWriter&) = delete;
  VideoFileWriter& operator=(const VideoFileWriter&) = delete;

  // Appends a frame of the size given at construction (odd sizes cropped).
  void write(const torch::Tensor& frame);
  // Closes the file, checks that it holds every frame, and renames it over
  // the destination. Throws OutputError.
  void finish();
  // Closes the file and removes it, leaving the destination as it was (a
  // probe); returns the FourCC it held, as codec() after finish() would.
  std::string discard();
  // The FourCC chosen, e.g. "avc1"; after finish(), the one the file holds
  // (which FFmpeg may have changed: MJPG asked for in .mp4 is stored as mp4v).
  const std::string& codec() const { return codec_; }
  int width() const { return width_; }
  int height() const { return height_; }
  // What OpenCV and FFmpeg printed while the writer opened (their warnings,
  // kept off the standard error), one line each; "" when nothing.
  const std::string& backend_messages() const { return backend_messages_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  // Opens the writer on the temporary file with `codec`; false (and no file) when this build cannot.
  bool open_with(const std::string& codec, double fps);
  // Closes the temporary file and reads it back: sets codec_ to the FourCC it
  // holds (where the container says) and returns its frame count (-1: unreadable).
  int64_t close_and_read_back();

  std::string path_, temporary_, codec_, backend_messages_;
  std::string target_;  // the file path_ names: where a symbolic link there points
  int width_ = 0, height_ = 0;
  int64_t written_ = 0;
};

// Checks before any work is done that `spec` can be written as the output of
// `stylize video`: a video file whose container and codec (default or
// `codec`) this build can encode at `fps`, in an existing writable folder
// (checked by writing a short probe video there), or a frame pattern whose
// files are writable images. Throws OutputError or OptionError. Returns the
// FourCC the probe video holds ("" for a frame pattern, or a container that
// does not say): FFmpeg may store another than the one asked for (MJPG asked
// for in .mp4 is stored as mp4v), which the caller can say before the run.
std::string check_video_output(const std::string& spec, const std::string& codec = "", double fps = 25.0);

}  // namespace stylize
