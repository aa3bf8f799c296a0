// Frame sources and video writers (stylize/io/video_io.hpp).
#include <gtest/gtest.h>

#include <filesystem>
#include <iterator>

#include "stylize/errors.hpp"
#include "stylize/io/image.hpp"
#include "stylize/io/image_io.hpp"
#include "stylize/io/video_io.hpp"
#include "test_util.hpp"

namespace stylize {
namespace {
namespace fs = std::filesystem;

// Gives the message of the exception `statement` throws as `type` ("" if none).
#define MESSAGE_OF(type, statement) \
  [&]() -> std::string {            \
    try {                           \
      statement;                    \
    } catch (const type& e) {       \
      return e.what();              \
    }                               \
    return "";                      \
  }()

std::vector<torch::Tensor> clip(int frames, int64_t h = 48, int64_t w = 64) {
  std::vector<torch::Tensor> result;
  for (int t = 0; t < frames; ++t) result.push_back(test::pattern_image(h, w, 0.4 * t));
  return result;
}

// What an 8-bit file holds for `image`.
torch::Tensor quantized(const torch::Tensor& image) { return image.mul(255).round().div(255); }

std::vector<torch::Tensor> read_all(FrameSource& source) {
  std::vector<torch::Tensor> frames;
  while (auto frame = source.next()) frames.push_back(*frame);
  return frames;
}

TEST(FramePattern, FormatsNumbers) {
  EXPECT_EQ(FramePattern("out/frame_%05d.png").path(42), "out/frame_00042.png");
  EXPECT_EQ(FramePattern("f%d.png").path(7), "f7.png");
  EXPECT_EQ(FramePattern("f%3d.png").path(7), "f  7.png");
  EXPECT_EQ(FramePattern("100%%_%02d.png").path(123), "100%_123.png");
  EXPECT_TRUE(FramePattern::looks_like_pattern("a/%04d.png"));
  EXPECT_FALSE(FramePattern::looks_like_pattern("100%%.png"));
  EXPECT_FALSE(FramePattern::looks_like_pattern("clip.mp4"));
  EXPECT_TRUE(FramePattern::looks_like_pattern("f_%s.png"));  // so that it is explained as a bad pattern
}

TEST(FramePattern, MatchesExactlyTheNamesItMakes) {
  const FramePattern padded("frame_%05d.png");
  EXPECT_TRUE(padded.matches("frame_00001.png"));
  EXPECT_TRUE(padded.matches("frame_123456.png"));
  EXPECT_FALSE(padded.matches("frame_1.png"));  // path(1) is frame_00001.png
  EXPECT_FALSE(padded.matches("frame_0001a.png"));
  EXPECT_FALSE(padded.matches("frame_.png"));
  EXPECT_FALSE(padded.matches("frame_00001.jpg"));
  EXPECT_TRUE(FramePattern("f%d.png").matches("f12.png"));
  EXPECT_FALSE(FramePattern("f%d.png").matches("f012.png"));
  EXPECT_TRUE(FramePattern("f%3d.png").matches("f  7.png"));
  EXPECT_FALSE(FramePattern("f%3d.png").matches("f 7.png"));
  EXPECT_FALSE(FramePattern("f%d.png").matches("f99999999999999999999999.png"));
}

TEST(FramePattern, RefusesAnythingButOneIntegerConversion) {
  for (const std::string bad : {"f_%s.png", "f_%05d_%d.png", "f_%x.png", "f_%.png", "f_%123d.png"}) {
    const std::string message = MESSAGE_OF(OptionError, FramePattern{bad});
    EXPECT_NE(message.find("%05d"), std::string::npos) << bad << ": " << message;
  }
  EXPECT_THROW(FramePattern("frames.png"), OptionError);
}

TEST(FrameFiles, AreSortedNaturally) {
  std::vector<std::string> names = {"f10.png", "f2.png", "f1.png", "f002.png", "g1.png", "f1a.png"};
  std::sort(names.begin(), names.end(), natural_less);
  EXPECT_EQ(names, (std::vector<std::string>{"f1.png", "f1a.png", "f2.png", "f002.png", "f10.png", "g1.png"}));
  EXPECT_FALSE(natural_less("a", "a"));
}

TEST(FrameFolder, RoundTripsFramesInNaturalOrder) {
  const test::TempDir dir;
  const std::vector<torch::Tensor> frames = clip(11);
  // Unpadded numbers: a plain sort would put frame 10 before frame 2.
  for (size_t i = 0; i < frames.size(); ++i) save_image(frames[i], dir.file("frame" + std::to_string(i + 1) + ".png"));
  test::write_file(dir.file("notes.txt"), "not a frame");
  test::write_file(dir.file(".frame0.png.tmp123"), "a temporary file");
  const auto source = open_frame_source(dir.path().string());
  EXPECT_EQ(source->info().frame_count, 11);
  EXPECT_TRUE(source->info().frame_count_exact);
  EXPECT_EQ(source->info().width, 64);
  EXPECT_EQ(source->info().height, 48);
  const std::vector<torch::Tensor> read = read_all(*source);
  ASSERT_EQ(read.size(), frames.size());
  for (size_t i = 0; i < frames.size(); ++i) {
    EXPECT_TRUE(torch::allclose(read[i], quantized(frames[i]), 0, 1e-6)) << "frame " << i + 1;
  }
  EXPECT_EQ(source->frames_read(), 11);
  EXPECT_FALSE(source->next().has_value());
}

TEST(FramePatternSource, StartsAtTheFirstOfZeroToFourAndResizes) {
  const test::TempDir dir;
  const std::vector<torch::Tensor> frames = clip(3);
  for (size_t i = 0; i < frames.size(); ++i) save_image(frames[i], FramePattern(dir.file("f_%03d.png")).path(i + 2));
  save_image(frames[0], dir.file("f_006.png"));   // after a gap: not part of the sequence
  save_image(frames[0], dir.file("f_0007.png"));  // another number's width: no match
  const auto source = open_frame_source(dir.file("f_%03d.png"), 32);
  EXPECT_EQ(source->info().frame_count, 3);
  EXPECT_EQ(source->info().left_after_gap, 1);
  EXPECT_EQ(source->info().width, 32);
  EXPECT_EQ(source->info().height, 24);
  const std::vector<torch::Tensor> read = read_all(*source);
  ASSERT_EQ(read.size(), 3u);
  EXPECT_EQ(read[2].sizes(), (std::vector<int64_t>{1, 3, 24, 32}));
  EXPECT_LT((read[1] - resize_to(frames[1], 24, 32)).abs().mean().item<double>(), 0.02);

  const std::string message = MESSAGE_OF(ImageError, open_frame_source(dir.file("g_%03d.png")));
  EXPECT_NE(message.find("g_000.png"), std::string::npos) << message;
}

TEST(FrameFolder, NamesABadFrame) {
  const test::TempDir dir;
  const std::vector<torch::Tensor> frames = clip(4);
  for (size_t i = 0; i < frames.size(); ++i) save_image(frames[i], dir.file("f" + std::to_string(i + 1) + ".png"));
  test::write_file(dir.file("f3.png"), "\x89PNG\r\n\x1a\n truncated");
  const auto source = open_frame_source(dir.path().string());
  ASSERT_TRUE(source->next().has_value());
  ASSERT_TRUE(source->next().has_value());
  const std::string message = MESSAGE_OF(ImageError, source->next());
  EXPECT_NE(message.find("frame 3"), std::string::npos) << message;
  EXPECT_NE(message.find("f3.png"), std::string::npos) << message;
}

TEST(FrameFolder, RefusesAFrameOfAnotherSize) {
  const test::TempDir dir;
  save_image(test::pattern_image(48, 64, 0), dir.file("f1.png"));
  save_image(test::pattern_image(64, 48, 0), dir.file("f2.png"));
  const auto source = open_frame_source(dir.path().string());
  source->next();
  const std::string message = MESSAGE_OF(ImageError, source->next());
  EXPECT_NE(message.find("frame 2"), std::string::npos) << message;
  EXPECT_NE(message.find("same size"), std::string::npos) << message;
}

TEST(FrameSource, ExplainsWhatItCannotOpen) {
  const test::TempDir dir;
  EXPECT_NE(MESSAGE_OF(ImageError, open_frame_source(dir.file("missing.mp4"))).find("not found"), std::string::npos);
  EXPECT_NE(MESSAGE_OF(ImageError, open_frame_source(dir.path().string())).find("no image files"), std::string::npos);
  test::write_file(dir.file("notes.mp4"), "this is not a video");
  // FFmpeg does not open it, or finds no frame in it.
  const std::string not_video = MESSAGE_OF(ImageError, open_frame_source(dir.file("notes.mp4")));
  EXPECT_NE(not_video.find("cannot read video '" + dir.file("notes.mp4") + "'"), std::string::npos) << not_video;
  save_image(test::pattern_image(8, 8, 0), dir.file("still.png"));
  EXPECT_NE(MESSAGE_OF(ImageError, open_frame_source(dir.file("still.png"))).find("single image"), std::string::npos);
  // An empty file is neither: stylize would refuse it too.
  for (const char* name : {"empty.png", "empty.mp4"}) {
    test::write_file(dir.file(name), "");
    const std::string empty = MESSAGE_OF(ImageError, open_frame_source(dir.file(name)));
    EXPECT_NE(empty.find("cannot read video '" + dir.file(name) + "': the file is empty"), std::string::npos) << empty;
  }
}

// Why check_video_output refuses `path` ("" when it can be written).
std::string unwritable_reason(const std::string& path, const std::string& codec = "") {
  try {
    check_video_output(path, codec);
  } catch (const OutputError& e) {
    return e.what();
  }
  return "";
}

// Skips (or fails under STYLIZE_TESTS_REQUIRE_ALL=1) unless this OpenCV can write `path`.
#define SKIP_UNLESS_WRITABLE(path)                             \
  do {                                                         \
    const std::string reason = unwritable_reason(path);        \
    if (!reason.empty()) STYLIZE_SKIP_UNLESS_REQUIRED(reason); \
  } while (0)

struct Container {
  std::string extension, codec;
  // Lossy codecs. Besides, OpenCV's FFmpeg writer converts RGB to YUV with a
  // bias (a gray of 128 is stored as Y, U, V = 125, 127, 127 instead of 126,
  // 128, 128) and comes back as RGB (124, 126, 123), through OpenCV's reader
  // as through the ffmpeg tool; the 4:2:0 chroma of this small colourful
  // pattern costs more still.
  double max_mean_error;
};

std::ostream& operator<<(std::ostream& out, const Container& container) {
  return out << container.extension << " with " << container.codec;
}

class VideoFile : public ::testing::TestWithParam<Container> {};

TEST_P(VideoFile, RoundTripsFramesAndFrameRate) {
  const test::TempDir dir;
  const std::string path = dir.file("clip" + GetParam().extension);
  SKIP_UNLESS_WRITABLE(path);
  const std::vector<torch::Tensor> frames = clip(8);
  {
    VideoFileWriter writer(path, 12.0, 64, 48);
    EXPECT_EQ(writer.codec(), GetParam().codec);
    for (const torch::Tensor& frame : frames) writer.write(frame);
    EXPECT_FALSE(fs::exists(path));  // only the temporary file so far
    writer.finish();
  }
  ASSERT_TRUE(fs::exists(path));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);  // no temporary left
  const auto source = open_frame_source(path);
  EXPECT_DOUBLE_EQ(source->info().fps, 12.0);
  EXPECT_EQ(source->info().frame_count, 8);
  EXPECT_FALSE(source->info().frame_count_exact);
  const std::vector<torch::Tensor> read = read_all(*source);
  ASSERT_EQ(read.size(), frames.size());
  for (size_t i = 0; i < frames.size(); ++i) {
    ASSERT_EQ(read[i].sizes(), frames[i].sizes());
    EXPECT_LT((read[i] - frames[i]).abs().mean().item<double>(), GetParam().max_mean_error) << "frame " << i + 1;
  }
  // Each decoded frame is closest to its own original, not a neighbour.
  EXPECT_GT((read[3] - frames[4]).abs().mean().item<double>(), 2 * GetParam().max_mean_error);
}

INSTANTIATE_TEST_SUITE_P(Containers, VideoFile,
                         ::testing::Values(Container{".mp4", "avc1", 0.045}, Container{".avi", "MJPG", 0.03},
                                           Container{".mkv", "avc1", 0.045}, Container{".webm", "VP90", 0.03}),
                         [](const ::testing::TestParamInfo<Container>& info) {
                           return info.param.extension.substr(1);
                         });

TEST(VideoFileWriter, CropsOddSizesToEven) {
  const test::TempDir dir;
  const std::string path = dir.file("odd.avi");
  SKIP_UNLESS_WRITABLE(path);
  {
    VideoFileWriter writer(path, 25.0, 63, 47);
    EXPECT_EQ(writer.width(), 62);
    EXPECT_EQ(writer.height(), 46);
    writer.write(test::pattern_image(47, 63, 0));
    writer.finish();
  }
  const auto frame = open_frame_source(path)->next();
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ(frame->sizes(), (std::vector<int64_t>{1, 3, 46, 62}));
  EXPECT_LT((*frame - test::pattern_image(47, 63, 0).narrow(2, 0, 46).narrow(3, 0, 62)).abs().mean().item<double>(),
            0.03);
}

// A symbolic link given as the output stays a link: the video replaces the
// file it points to (as an image output does, and cp or an editor).
TEST(VideoFileWriter, WritesThroughASymbolicLink) {
  const test::TempDir dir;
  fs::create_directories(dir.file("videos"));
  const std::string real = dir.file("videos/clip.avi"), link = dir.file("clip.avi");
  SKIP_UNLESS_WRITABLE(real);
  test::write_file(real, "an older file");
  fs::create_symlink("videos/clip.avi", link);
  {
    VideoFileWriter writer(link, 25.0, 32, 24);
    writer.write(test::pattern_image(24, 32, 0));
    writer.finish();
  }
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(fs::read_symlink(link), "videos/clip.avi");
  const auto frame = open_frame_source(real)->next();
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ(frame->sizes(), (std::vector<int64_t>{1, 3, 24, 32}));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 2) << "no temporary left";
}

TEST(VideoFileWriter, SaysTheCodecTheFileHolds) {
  const test::TempDir dir;
  const std::string path = dir.file("forced.mp4");
  SKIP_UNLESS_WRITABLE(path);
  VideoFileWriter writer(path, 25.0, 64, 48, "MJPG");  // FFmpeg's .mp4 takes no MJPG tag
  writer.write(test::pattern_image(48, 64, 0));
  writer.finish();
  EXPECT_EQ(writer.codec(), "mp4v");
  // A probe says it too, and leaves nothing behind.
  const std::string probed = dir.file("probe.mp4");
  VideoFileWriter probe(probed, 25.0, 64, 48, "MJPG");
  probe.write(test::pattern_image(48, 64, 0));
  EXPECT_EQ(probe.discard(), "mp4v");
  EXPECT_FALSE(fs::exists(probed));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1) << "forced.mp4 alone";
}

// OpenCV's FFmpeg backend prints its warnings on the standard error itself:
// "tag 0x30395056/'VP90' is not supported" on every .webm it writes, "tag
// ... 'ABCD' is not found" for a FourCC it does not know. They are kept for
// the caller (stylize -v shows them) and off the terminal, where they came
// before stylize's own lines, even under --quiet.
TEST(VideoFileWriter, KeepsFFmpegsWarningsOffTheStandardError) {
  const test::TempDir dir;
  const std::string path = dir.file("clip.webm");
  SKIP_UNLESS_WRITABLE(path);
  testing::internal::CaptureStderr();
  std::string said;
  {
    VideoFileWriter writer(path, 25.0, 64, 48);
    said = writer.backend_messages();
    writer.write(test::pattern_image(48, 64, 0));
    writer.finish();
  }
  EXPECT_THROW(check_video_output(dir.file("out.mp4"), "ABCD"), OptionError);
  const std::string printed = testing::internal::GetCapturedStderr();
  EXPECT_EQ(printed, "");
  EXPECT_NE(said.find("VP90"), std::string::npos) << said;
  // fd 2 is the one before again: what is written now reaches it.
  testing::internal::CaptureStderr();
  std::fprintf(stderr, "after\n");
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "after\n");
}

TEST(VideoOutput, IsCheckedAtTheFrameRateOfTheRun) {
  const test::TempDir dir;
  const std::string path = dir.file("slow.avi");
  SKIP_UNLESS_WRITABLE(path);
  EXPECT_NO_THROW(check_video_output(path, "", 0.01));
  EXPECT_THROW(check_video_output(path, "", 0.0005), OutputError);  // FFmpeg refuses the time base
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST(VideoFileWriter, LeavesNothingBehindWhenNotFinished) {
  const test::TempDir dir;
  const std::string path = dir.file("clip.avi");
  SKIP_UNLESS_WRITABLE(path);
  {
    VideoFileWriter writer(path, 25.0, 64, 48);
    writer.write(test::pattern_image(48, 64, 0));
  }  // interrupted
  EXPECT_TRUE(fs::is_empty(dir.path()));
  {
    VideoFileWriter writer(path, 25.0, 64, 48);
    EXPECT_NE(MESSAGE_OF(OutputError, writer.finish()).find("no frames"), std::string::npos);
  }
  EXPECT_TRUE(fs::is_empty(dir.path()));
  VideoFileWriter writer(path, 25.0, 64, 48);
  EXPECT_NE(MESSAGE_OF(OutputError, writer.write(test::pattern_image(40, 64, 0))).find("64x48"), std::string::npos);
}

TEST(VideoOutput, IsCheckedBeforeTheRun) {
  const test::TempDir dir;
  // Writable: nothing is left behind by the check.
  SKIP_UNLESS_WRITABLE(dir.file("out.mp4"));
  EXPECT_NO_THROW(check_video_output(dir.file("out_%05d.png")));
  EXPECT_TRUE(fs::is_empty(dir.path()));
  // Not writable, with the reason.
  EXPECT_NE(unwritable_reason(dir.file("out.xyz")).find("unknown video extension"), std::string::npos);
  EXPECT_NE(unwritable_reason(dir.file("out.png")).find("single image"), std::string::npos);
  EXPECT_NE(unwritable_reason(dir.file("no/such/dir/out.mp4")).find("does not exist"), std::string::npos);
  EXPECT_NE(unwritable_reason(dir.file("no/such/dir/f_%04d.png")).find("does not exist"), std::string::npos);
  // A codec this build cannot put in the container: the ones it can are named.
  const std::string codec = MESSAGE_OF(OptionError, check_video_output(dir.file("out.mp4"), "ABCD"));
  EXPECT_NE(codec.find("cannot encode ABCD into .mp4 files, only "), std::string::npos) << codec;
  EXPECT_NE(codec.find(" (leave the codec out for "), std::string::npos) << codec;
  EXPECT_THROW(check_video_output(dir.file("out.mp4"), "h264x"), OptionError);
  EXPECT_THROW(check_video_output(dir.file("out_%s.png")), OptionError);
  EXPECT_TRUE(fs::is_empty(dir.path()));
  // The codec the video would hold, for the caller to say before the run:
  // FFmpeg stores MJPG asked for in .mp4 as mp4v.
  EXPECT_EQ(check_video_output(dir.file("out.mp4"), "MJPG"), "mp4v");
  EXPECT_EQ(check_video_output(dir.file("out_%05d.png")), "");
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

}  // namespace
}  // namespace stylize
