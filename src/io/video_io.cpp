// Frame sources for `stylize video`: frame patterns, folders of frames (both
// decoded by load_image, with its checks and limits) and video files
// (OpenCV's VideoCapture through FFmpeg). The writers are in video_writer.cpp.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <stdexcept>
#include <utility>

#include <opencv2/core.hpp>
#include <opencv2/videoio.hpp>

#include "io_detail.hpp"
#include "stylize/errors.hpp"
#include "stylize/io/image_io.hpp"
#include "stylize/io/video_io.hpp"

namespace stylize {
namespace fs = std::filesystem;

namespace {

// One printf integer conversion found in a pattern: [begin, end) in the text.
struct Conversion {
  size_t begin = 0, end = 0;
  int width = 0;
  bool zero_pad = false;
};

// Every %d, %Nd or %0Nd conversion of `text` (%% skipped); the first
// unsupported conversion, if any, in `bad`.
std::vector<Conversion> find_conversions(const std::string& text, std::string* bad = nullptr) {
  std::vector<Conversion> found;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') continue;
    if (i + 1 < text.size() && text[i + 1] == '%') {
      ++i;
      continue;
    }
    Conversion c;
    c.begin = i;
    size_t j = i + 1;
    if (j < text.size() && text[j] == '0') c.zero_pad = true, ++j;
    const size_t digits = j;
    while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j])) && j - digits < 2) {
      c.width = c.width * 10 + (text[j++] - '0');
    }
    if (j < text.size() && text[j] == 'd') {
      c.end = j + 1;
      found.push_back(c);
      i = j;
    } else if (bad && bad->empty()) {
      *bad = text.substr(i, std::min<size_t>(j + 1, text.size()) - i);
    }
  }
  return found;
}

std::string unescape_percent(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    out += text[i];
    if (text[i] == '%' && i + 1 < text.size() && text[i + 1] == '%') ++i;
  }
  return out;
}

std::string size_text(int64_t width, int64_t height) { return std::to_string(width) + "x" + std::to_string(height); }

// Frames from image files, given by a list of paths.
class ImageFileSource : public FrameSource {
 public:
  ImageFileSource(std::string name, std::vector<std::string> paths, int longest_side, int64_t left_after_gap = 0)
      : paths_(std::move(paths)), longest_side_(longest_side) {
    info_.left_after_gap = left_after_gap;
    name_ = std::move(name);
    DecodedImage first = read_image(paths_[0], "frame 1", longest_side_);
    first_ = first.pixels;
    info_.bit_depth = first.bit_depth;
    info_.profile = std::move(first.profile);
    info_.frame_count = static_cast<int64_t>(paths_.size());
    info_.frame_count_exact = true;
    info_.width = static_cast<int>(first_.size(3));
    info_.height = static_cast<int>(first_.size(2));
  }

  std::optional<torch::Tensor> next() override {
    if (read_ >= static_cast<int64_t>(paths_.size())) return std::nullopt;
    torch::Tensor frame = read_ == 0 ? std::exchange(first_, torch::Tensor()) : load(read_);
    ++read_;
    return frame;
  }

 private:
  torch::Tensor load(int64_t index) const {
    const std::string role = "frame " + std::to_string(index + 1);
    torch::Tensor frame = load_image(paths_[index], role, longest_side_);
    if (index > 0 && (frame.size(2) != info_.height || frame.size(3) != info_.width)) {
      const std::string resized =
          longest_side_ > 0 ? " (resized to the longest side " + std::to_string(longest_side_) + ")" : "";
      throw ImageError("cannot read " + role + " '" + paths_[index] + "': it is " +
                       size_text(frame.size(3), frame.size(2)) + " pixels but frame 1 is " +
                       size_text(info_.width, info_.height) + resized +
                       "; all frames of a video must have the same size");
    }
    return frame;
  }

  std::vector<std::string> paths_;
  int longest_side_;
  torch::Tensor first_;
};

// Frames decoded from a video file by FFmpeg.
class VideoFileSource : public FrameSource {
 public:
  VideoFileSource(const std::string& path, int longest_side) : longest_side_(longest_side) {
    name_ = path;
    try {
      capture_.open(path, cv::CAP_FFMPEG);
    } catch (const cv::Exception& e) {
      throw ImageError("cannot read video '" + path + "': " + e.err);
    }
    if (!capture_.isOpened()) {
      throw ImageError("cannot read video '" + path +
                       "': not a video file FFmpeg can decode (or truncated); give a video file (.mp4, .mkv, "
                       ".avi, .mov, .webm, ...), a folder of frames or a pattern such as frames/f_%05d.png");
    }
    const double width = capture_.get(cv::CAP_PROP_FRAME_WIDTH), height = capture_.get(cv::CAP_PROP_FRAME_HEIGHT);
    if (width * height > static_cast<double>(kMaxImagePixels)) {
      throw ImageError("cannot read video '" + path + "': its frames are too large (" +
                       size_text(static_cast<int64_t>(width), static_cast<int64_t>(height)) + " pixels)");
    }
    info_.fps = std::max(0.0, capture_.get(cv::CAP_PROP_FPS));
    const double count = capture_.get(cv::CAP_PROP_FRAME_COUNT);
    info_.frame_count = count >= 1 ? static_cast<int64_t>(count) : -1;
    first_ = decode_next();
    if (!first_) throw ImageError("cannot read video '" + path + "': it holds no frames");
    info_.width = static_cast<int>(first_->size(3));
    info_.height = static_cast<int>(first_->size(2));
  }

  std::optional<torch::Tensor> next() override {
    std::optional<torch::Tensor> frame = read_ == 0 ? std::exchange(first_, std::nullopt) : decode_next();
    if (frame) ++read_;
    return frame;
  }

 private:
  std::optional<torch::Tensor> decode_next() {
    const std::string what = "frame " + std::to_string(decoded_ + 1) + " of video '" + name_ + "'";
    cv::Mat bgr;
    try {
      if (!capture_.grab()) return std::nullopt;
      ++decoded_;
      if (!capture_.retrieve(bgr) || bgr.empty()) throw ImageError("cannot decode " + what);
    } catch (const cv::Exception& e) {
      throw ImageError("cannot decode " + what + ": " + e.err);
    }
    if (bgr.type() != CV_8UC3) throw ImageError("cannot decode " + what + ": unexpected pixel format");
    if (!source_size_.empty() && bgr.size() != source_size_) {
      throw ImageError("cannot read " + what + ": its size changes mid-stream (" + size_text(bgr.cols, bgr.rows) +
                       " after " + size_text(source_size_.width, source_size_.height) +
                       "); convert the video to one frame size first");
    }
    source_size_ = bgr.size();
    cv::Mat converted;
    bgr.convertTo(converted, CV_32F, 1.0 / 255.0);
    return detail::bgr_float_to_tensor(detail::resize_mat_longest_side(converted, longest_side_));
  }

  cv::VideoCapture capture_;
  int longest_side_;
  cv::Size source_size_;
  int64_t decoded_ = 0;
  std::optional<torch::Tensor> first_;
};

std::vector<std::string> pattern_files(const FramePattern& pattern) {
  std::error_code error;
  int64_t start = 0;
  while (start <= 4 && !fs::is_regular_file(pattern.path(start), error)) ++start;
  if (start > 4) {
    throw ImageError("cannot read frames '" + pattern.pattern() + "': no file matches it (looked for '" +
                     pattern.path(0) + "' to '" + pattern.path(4) + "')");
  }
  std::vector<std::string> paths;
  for (int64_t n = start; fs::is_regular_file(pattern.path(n), error); ++n) paths.push_back(pattern.path(n));
  return paths;
}

// How many files in the pattern's folder match it but are not among the
// `in_sequence` read: those past a gap, which ends the sequence (as in
// FFmpeg's image2 reader). None before it: the sequence starts at the first
// of 0-4 that exists, and a number has one name.
int64_t left_after_gap(const FramePattern& pattern, size_t in_sequence) {
  const fs::path spec(pattern.pattern());
  int64_t count = 0;
  try {
    const FramePattern name(spec.filename().string());  // a conversion in the folder's name: not counted
    std::error_code error;
    const fs::path folder = spec.parent_path().empty() ? fs::path(".") : spec.parent_path();
    for (fs::directory_iterator it(folder, error), end; !error && it != end; it.increment(error)) {
      if (name.matches(it->path().filename().string()) && it->is_regular_file(error)) ++count;
    }
  } catch (const Error&) {
    return 0;
  }
  return std::max<int64_t>(0, count - static_cast<int64_t>(in_sequence));
}

}  // namespace

FramePattern::FramePattern(const std::string& pattern) : pattern_(pattern) {
  std::string bad;
  const std::vector<Conversion> found = find_conversions(pattern, &bad);
  if (!bad.empty() || found.size() != 1) {
    throw OptionError("frame pattern '" + pattern + "' " +
                      (!bad.empty() ? "has an unsupported conversion '" + bad + "'"
                                    : "has " + std::to_string(found.size()) + " number conversions") +
                      "; expected exactly one %d, %5d or %05d (write %% for a percent sign), as in frames/f_%05d.png");
  }
  prefix_ = unescape_percent(pattern.substr(0, found[0].begin));
  suffix_ = unescape_percent(pattern.substr(found[0].end));
  width_ = found[0].width;
  zero_pad_ = found[0].zero_pad;
}

bool FramePattern::looks_like_pattern(const std::string& text) {
  std::string bad;
  return !find_conversions(text, &bad).empty() || !bad.empty();
}

std::string FramePattern::path(int64_t number) const {
  std::string digits = std::to_string(number);
  if (static_cast<int>(digits.size()) < width_) digits.insert(0, width_ - digits.size(), zero_pad_ ? '0' : ' ');
  return prefix_ + digits + suffix_;
}

bool FramePattern::matches(const std::string& text) const {
  if (text.size() <= prefix_.size() + suffix_.size() || text.compare(0, prefix_.size(), prefix_) != 0 ||
      text.compare(text.size() - suffix_.size(), suffix_.size(), suffix_) != 0) {
    return false;
  }
  const std::string middle = text.substr(prefix_.size(), text.size() - prefix_.size() - suffix_.size());
  const size_t first_digit = middle.find_first_not_of(zero_pad_ ? "" : " ");
  if (first_digit == std::string::npos || middle.find_first_not_of("0123456789", first_digit) != std::string::npos) {
    return false;
  }
  try {
    return path(std::stoll(middle.substr(first_digit))) == text;
  } catch (const std::out_of_range&) {
    return false;
  }
}

bool natural_less(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    const bool da = std::isdigit(static_cast<unsigned char>(a[i])), db = std::isdigit(static_cast<unsigned char>(b[j]));
    if (da && db) {
      size_t ei = i, ej = j;
      while (ei < a.size() && std::isdigit(static_cast<unsigned char>(a[ei]))) ++ei;
      while (ej < b.size() && std::isdigit(static_cast<unsigned char>(b[ej]))) ++ej;
      // Compare the digit runs as numbers: without leading zeros, the longer is larger.
      size_t si = i, sj = j;
      while (si + 1 < ei && a[si] == '0') ++si;
      while (sj + 1 < ej && b[sj] == '0') ++sj;
      if (ei - si != ej - sj) return ei - si < ej - sj;
      const int order = a.compare(si, ei - si, b, sj, ej - sj);
      if (order != 0) return order < 0;
      if (ei - i != ej - j) return ei - i < ej - j;  // 7 before 007: fewer leading zeros first
      i = ei, j = ej;
    } else {
      if (a[i] != b[j]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
      ++i, ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

std::vector<std::string> list_frame_files(const std::string& folder) {
  std::error_code error;
  std::vector<std::string> paths;
  fs::directory_iterator it(folder, error);
  if (error) throw ImageError("cannot read the frames in folder '" + folder + "': " + error.message());
  for (; it != fs::directory_iterator(); it.increment(error)) {
    if (error) throw ImageError("cannot read the frames in folder '" + folder + "': " + error.message());
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.' || !has_image_extension(name) || !it->is_regular_file(error)) continue;
    paths.push_back(it->path().string());
  }
  std::sort(paths.begin(), paths.end(), natural_less);
  return paths;
}

std::unique_ptr<FrameSource> open_frame_source(const std::string& spec, int longest_side) {
  std::error_code error;
  if (FramePattern::looks_like_pattern(spec) && !fs::exists(spec, error)) {
    const FramePattern pattern(spec);
    std::vector<std::string> paths = pattern_files(pattern);
    const int64_t left = left_after_gap(pattern, paths.size());
    return std::make_unique<ImageFileSource>(spec, std::move(paths), longest_side, left);
  }
  if (fs::is_directory(spec, error)) {
    std::vector<std::string> paths = list_frame_files(spec);
    if (paths.empty()) {
      throw ImageError("cannot read frames from folder '" + spec +
                       "': it holds no image files (.png, .jpg, .webp, .tif, .bmp, ...)");
    }
    return std::make_unique<ImageFileSource>(spec, std::move(paths), longest_side);
  }
  if (!fs::exists(spec, error)) throw ImageError("cannot read video '" + spec + "': file not found");
  if (fs::file_size(spec, error) == 0 && !error) {
    throw ImageError("cannot read video '" + spec + "': the file is empty (a copy or download that did not finish?)");
  }
  if (has_image_extension(spec)) {
    throw ImageError("cannot read video '" + spec +
                     "': it is a single image; stylize it with `stylize`, or give a video file, a folder of frames "
                     "or a pattern such as frames/f_%05d.png");
  }
  return std::make_unique<VideoFileSource>(spec, longest_side);
}

}  // namespace stylize
