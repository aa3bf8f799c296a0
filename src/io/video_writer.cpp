// Video files out of `stylize video`: OpenCV's VideoWriter through FFmpeg,
// with a default codec per container, written to a temporary file that is
// checked and renamed into place.
//
// Debian 12's OpenCV 4.6 (FFmpeg 5.1 with libx264, libx265, libvpx, libaom)
// writes all of these; avc1 (H.264) is the default for .mp4, .m4v, .mov and
// .mkv because every player decodes it. OpenCV encodes it at x264's default
// quality (CRF 23: 35 dB PSNR on a 512x288 photograph, 0.3 Mbit/s at 25 fps),
// after an RGB to YUV conversion that it does not let us configure and that
// is biased by about one level (a gray of 128 is stored as Y, U, V = 125, 127,
// 127 instead of 126, 128, 128). Frame patterns keep the exact pixels.
#include <unistd.h>

#include <cstdio>

#include <algorithm>
#include <cctype>
#include <filesystem>

#include <opencv2/core.hpp>
#include <opencv2/videoio.hpp>

#include "io_detail.hpp"
#include "stylize/errors.hpp"
#include "stylize/io/file.hpp"
#include "stylize/io/image_io.hpp"
#include "stylize/io/video_io.hpp"

namespace stylize {
namespace fs = std::filesystem;

namespace {

// The codecs tried for a container, best first.
std::vector<std::string> default_codecs(const std::string& ext) {
  if (ext == ".mp4" || ext == ".m4v" || ext == ".mov" || ext == ".mkv") return {"avc1", "mp4v"};
  if (ext == ".avi") return {"MJPG"};
  if (ext == ".webm") return {"VP90", "VP80"};
  return {};
}

const char* const kVideoExtensions = ".mp4, .mkv, .mov, .m4v, .avi or .webm";

std::string joined(const std::vector<std::string>& words) {
  std::string text;
  for (size_t i = 0; i < words.size(); ++i) text += (i == 0 ? "" : i + 1 == words.size() ? " or " : ", ") + words[i];
  return text;
}

// "; FFmpeg said: ..." with the last line of `messages` (as captured), or "".
std::string ffmpeg_said(const std::string& messages) {
  const size_t end = messages.find_last_not_of("\r\n");
  if (end == std::string::npos) return "";
  const size_t newline = messages.find_last_of('\n', end);
  const size_t begin = newline == std::string::npos ? 0 : newline + 1;
  return "; FFmpeg said: " + messages.substr(begin, end + 1 - begin);
}

// Captures what the process writes to its standard error (fd 2) while it
// lives. OpenCV's FFmpeg backend prints its own warnings there, even for a
// writer it opens (`tag 'VP90' is not supported with codec id 167 and format
// 'webm'` on every .webm); a library does not print, so they are handed to the
// caller instead. Without a temporary file it captures nothing.
class StderrCapture {
 public:
  StderrCapture() {
    std::fflush(stderr);
    file_ = std::tmpfile();
    if (file_ == nullptr) return;
    saved_ = ::dup(STDERR_FILENO);
    if (saved_ >= 0 && ::dup2(::fileno(file_), STDERR_FILENO) >= 0) return;
    if (saved_ >= 0) ::close(saved_);
    saved_ = -1;
  }
  ~StderrCapture() { finish(); }
  StderrCapture(const StderrCapture&) = delete;
  StderrCapture& operator=(const StderrCapture&) = delete;

  // Ends the capture (fd 2 is the one before again); returns what was written.
  std::string finish() {
    std::string text;
    if (saved_ >= 0) {
      std::fflush(stderr);
      ::dup2(saved_, STDERR_FILENO);
      ::close(saved_);
      saved_ = -1;
      std::rewind(file_);
      char buffer[4096];
      for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, file_)) > 0;) text.append(buffer, n);
    }
    if (file_ != nullptr) std::fclose(file_);
    file_ = nullptr;
    return text;
  }

 private:
  std::FILE* file_ = nullptr;
  int saved_ = -1;
};

// The codec a video file holds: FFmpeg stores another tag where the container
// does not take the one asked for (MJPG in .mp4 becomes mp4v). Only the
// containers that store a FourCC say it (Matroska names H.264 "h264"); "" for
// the others.
std::string stored_codec(const cv::VideoCapture& video, const std::string& ext) {
  const auto tag = static_cast<uint32_t>(video.get(cv::CAP_PROP_FOURCC));
  std::string stored;
  for (int byte = 0; byte < 4; ++byte) stored += static_cast<char>((tag >> (8 * byte)) & 0xFF);
  const bool says = ext == ".mp4" || ext == ".m4v" || ext == ".mov" || ext == ".avi";
  if (!says || tag == 0 || !std::all_of(stored.begin(), stored.end(), [](char c) { return std::isprint(c); })) {
    return "";
  }
  return stored;
}

}  // namespace

struct VideoFileWriter::Impl {
  cv::VideoWriter writer;
};

bool has_video_extension(const std::string& path) { return !default_codecs(image_extension(path)).empty(); }

VideoFileWriter::VideoFileWriter(const std::string& path, double fps, int width, int height, const std::string& codec)
    : impl_(std::make_unique<Impl>()), path_(path), width_(width & ~1), height_(height & ~1) {
  const std::string ext = image_extension(path);
  if (!has_video_extension(path)) {
    throw OutputError("cannot write video '" + path + "': unknown video extension '" + ext + "' (use " +
                      kVideoExtensions + ", or a frame pattern such as out/frame_%05d.png)");
  }
  if (!codec.empty() && codec.size() != 4) {
    throw OptionError("codec '" + codec + "' is not a FourCC; give four characters such as avc1, mp4v or MJPG");
  }
  if (width_ < 2 || height_ < 2) {
    throw OutputError("cannot write video '" + path + "': frames of " + std::to_string(width) + "x" +
                      std::to_string(height) + " pixels are too small for a video codec");
  }
  if (!(fps > 0)) throw OutputError("cannot write video '" + path + "': the frame rate must be positive");
  check_writable(path, "video");  // not a directory, in an existing writable directory
  std::error_code error;
  // A symbolic link stays a link: the video replaces the file it points to.
  target_ = detail::write_target(path).string();
  fs::path dir = fs::path(target_).parent_path();
  if (dir.empty()) dir = ".";
  // The temporary name keeps the extension: FFmpeg picks the container by it.
  temporary_ =
      (dir / ("." + fs::path(target_).stem().string() + ".partial-" + std::to_string(::getpid()) + ext)).string();
  const std::vector<std::string> codecs = codec.empty() ? default_codecs(ext) : std::vector<std::string>{codec};
  for (const std::string& candidate : codecs) {
    if (open_with(candidate, fps)) {
      codec_ = candidate;
      return;
    }
  }
  if (::access(dir.c_str(), W_OK) != 0) {
    throw OutputError("cannot write video '" + path + "': directory '" + dir.string() + "' is not writable");
  }
  const std::string cannot = "cannot write video '" + path + "': this build of OpenCV cannot encode " + joined(codecs) +
                             " into " + ext + " files";
  if (!codec.empty()) {
    // A codec asked for: say which of the container's own this build writes.
    std::vector<std::string> usable;
    for (const std::string& candidate : default_codecs(ext)) {
      if (open_with(candidate, fps)) usable.push_back(candidate);
      impl_->writer.release();
      fs::remove(temporary_, error);
    }
    if (!usable.empty()) {
      throw OptionError(cannot + ", only " + joined(usable) + " (leave the codec out for " + usable.front() + ")");
    }
  }
  throw OutputError(cannot + " (its FFmpeg backend lacks the encoder or the container" +
                    ffmpeg_said(backend_messages_) + "); use another container (" + kVideoExtensions +
                    ") or write frames with a pattern such as out/frame_%05d.png");
}

bool VideoFileWriter::open_with(const std::string& codec, double fps) {
  const int fourcc = cv::VideoWriter::fourcc(codec[0], codec[1], codec[2], codec[3]);
  bool opened = false;
  {
    StderrCapture capture;
    try {
      opened = impl_->writer.open(temporary_, cv::CAP_FFMPEG, fourcc, fps, cv::Size(width_, height_));
    } catch (const cv::Exception&) {
      // Unavailable, as when open() says so.
    }
    backend_messages_ += capture.finish();
  }
  if (opened) return true;
  std::error_code ignored;
  fs::remove(temporary_, ignored);
  return false;
}

VideoFileWriter::~VideoFileWriter() {
  if (temporary_.empty()) return;
  impl_->writer.release();
  std::error_code ignored;
  fs::remove(temporary_, ignored);
}

void VideoFileWriter::write(const torch::Tensor& frame) {
  const cv::Mat bgr = detail::tensor_to_bgr8(frame, path_);
  if (bgr.cols < width_ || bgr.rows < height_ || bgr.cols > width_ + 1 || bgr.rows > height_ + 1) {
    throw OutputError("cannot write video '" + path_ + "': frame " + std::to_string(written_ + 1) + " is " +
                      std::to_string(bgr.cols) + "x" + std::to_string(bgr.rows) + " pixels but the video is " +
                      std::to_string(width_) + "x" + std::to_string(height_));
  }
  try {
    impl_->writer.write(bgr(cv::Rect(0, 0, width_, height_)));
  } catch (const cv::Exception& e) {
    throw OutputError("cannot write video '" + path_ + "': encoding frame " + std::to_string(written_ + 1) +
                      " failed (" + e.err + ")");
  }
  ++written_;
}

int64_t VideoFileWriter::close_and_read_back() {
  impl_->writer.release();
  cv::VideoCapture check(temporary_, cv::CAP_FFMPEG);
  if (!check.isOpened()) return -1;
  if (const std::string stored = stored_codec(check, image_extension(path_)); !stored.empty()) codec_ = stored;
  return static_cast<int64_t>(check.get(cv::CAP_PROP_FRAME_COUNT));
}

void VideoFileWriter::finish() {
  if (temporary_.empty()) throw OutputError("cannot write video '" + path_ + "': it was already finished");
  // VideoWriter reports no write errors (a full disk...): read the count back.
  const int64_t frames = close_and_read_back();
  std::error_code error;
  if (written_ == 0 || frames != written_) {
    fs::remove(temporary_, error);
    temporary_.clear();
    throw OutputError("cannot write video '" + path_ + "': " +
                      (written_ == 0 ? std::string("no frames were written")
                                     : "the file holds " + std::to_string(std::max<int64_t>(frames, 0)) +
                                           " frames instead of " + std::to_string(written_) + " (is the disk full?)"));
  }
  fs::rename(temporary_, target_, error);
  if (error) {
    const std::string reason = error.message();
    fs::remove(temporary_, error);
    temporary_.clear();
    throw OutputError("cannot write video '" + path_ + "': " + reason);
  }
  temporary_.clear();
}

std::string VideoFileWriter::discard() {
  if (temporary_.empty()) throw OutputError("cannot write video '" + path_ + "': it was already finished");
  close_and_read_back();
  std::error_code ignored;
  fs::remove(temporary_, ignored);
  temporary_.clear();
  return codec_;
}

std::string check_video_output(const std::string& spec, const std::string& codec, double fps) {
  if (FramePattern::looks_like_pattern(spec)) {
    check_output_path(FramePattern(spec).path(1));
    return "";
  }
  if (!has_video_extension(spec) && has_image_extension(spec)) {
    throw OutputError("cannot write video '" + spec +
                      "': it names a single image; give a frame pattern such as out/frame_%05d.png or a video file (" +
                      kVideoExtensions + ")");
  }
  // Open a writer in the destination folder and encode one frame: that checks
  // the container, the codec and the folder; the probe file is removed.
  VideoFileWriter probe(spec, fps, 64, 48, codec);
  probe.write(torch::zeros({1, 3, 48, 64}));
  return probe.discard();
}

}  // namespace stylize
