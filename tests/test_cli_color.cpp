// End-to-end: the stylize executable's --bit-depth and --keep-profile, and the
// colour profiles of the images it reads, on every image a run writes (the
// result and the --save-every images). tests/test_color_io.cpp checks the
// reading and writing itself in-process; tests/test_cli_args.cpp the flags.
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "codec_oracle.hpp"
#include "stylize/io/icc_container.hpp"
#include "stylize/io/image_io.hpp"
#include "test_util.hpp"

namespace stylize {
namespace {

namespace fs = std::filesystem;
using test::RawImage;

class CliColor : public ::testing::Test {
 protected:
  void SetUp() override {
    raw_content = test::chart(40, 48, 16, p3);  // 16-bit, in Display P3, tagged with it
    test::write_file(content, test::png_encode(raw_content));
    save_image(test::pattern_image(32, 32, 1.7), style);
  }
  // A run on the tiny fixture weights that barely moves the image (4 Adam steps
  // of 1e-6, well under one 16-bit level): its outputs are the content as
  // stylize read it, written as the flags say.
  test::CommandResult run(const std::string& output, const std::string& extra) const {
    return test::run_command(std::string(STYLIZE_BINARY) + " --content " + content + " --style " + style + " -o " +
                             dir.file(output) + " --weights " + test::fixture("vgg19_tiny.safetensors") +
                             " --size 48 --iterations 4 --lr 1e-6 --threads 1 " + extra);
  }
  RawImage png(const std::string& name) const { return test::png_decode(test::read_file(dir.file(name))); }

  test::TempDir dir;
  const std::string content = dir.file("content.png"), style = dir.file("style.png");
  const std::string p3 = test::display_p3_profile();
  RawImage raw_content;
};

TEST_F(CliColor, SixteenBitContentGivesSixteenBitSrgbOutputs) {
  const test::CommandResult r = run("out.png", "--save-every 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // The content's P3 numbers converted to sRGB by lcms2 itself, at 16 bits.
  RawImage expected = raw_content;
  const std::vector<float> srgb = test::lcms_transform(p3, test::lcms_srgb_profile(), test::normalized(raw_content), 3);
  for (size_t i = 0; i < srgb.size(); ++i) {
    expected.samples[i] = static_cast<uint16_t>(std::lround(std::clamp(srgb[i], 0.f, 1.f) * 65535));
  }
  for (const std::string name : {"out.png", "out_0002.png"}) {
    SCOPED_TRACE(name);
    const RawImage written = png(name);
    EXPECT_EQ(written.bit_depth, 16) << "a 16-bit content gives 16-bit outputs by default";
    EXPECT_EQ(written.icc, srgb_icc_profile());
    EXPECT_LE(test::max_sample_difference(written, expected), 3) << "the network must see the content in sRGB";
  }
  // Without the conversion, the output would be the P3 numbers.
  EXPECT_GT(test::max_sample_difference(png("out.png"), raw_content), 1000);
}

TEST_F(CliColor, KeepProfileWritesEveryImageInTheContentsProfile) {
  const test::CommandResult r = run("kept.png", "--keep-profile --save-every 2 --report " + dir.file("r.json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("kept.png: 16 bits per channel, colour profile 'Display P3 (stylize test)'"),
            std::string::npos)
      << r.output;
  const nlohmann::json report = nlohmann::json::parse(test::read_file(dir.file("r.json")));
  EXPECT_EQ(report["options"]["bit_depth"], "auto");
  EXPECT_EQ(report["options"]["keep_profile"], true);
  EXPECT_EQ(report["runs"][0]["bit_depth"], 16);
  EXPECT_EQ(report["runs"][0]["color_profile"], "Display P3 (stylize test)");
  for (const std::string name : {"kept.png", "kept_0002.png"}) {
    SCOPED_TRACE(name);
    const RawImage written = png(name);
    EXPECT_EQ(written.bit_depth, 16);
    EXPECT_EQ(written.icc, p3);
    EXPECT_LE(test::max_sample_difference(written, raw_content), 3) << "P3 in, the same P3 numbers out";
  }
  EXPECT_EQ(r.output.find("has no colour profile"), std::string::npos) << r.output;

  // A content without a profile has none to keep: the output is sRGB, and the run says so.
  test::write_file(content, test::png_encode(test::chart(40, 48, 8)));
  const test::CommandResult plain = run("plain.png", "--keep-profile");
  ASSERT_EQ(plain.exit_code, 0) << plain.output;
  EXPECT_NE(plain.output.find("--keep-profile: the content image '" + content +
                              "' has no colour profile; the output is sRGB"),
            std::string::npos)
      << plain.output;
}

// stylize video writes its frames as stylize writes a still: 16 bits for
// 16-bit frames (--bit-depth auto), the first frame's profile with
// --keep-profile, else sRGB; a video file holds 8-bit sRGB and says so.
TEST_F(CliColor, VideoFramesFollowBitDepthAndKeepProfile) {
  const std::string frames = dir.file("frames");
  std::filesystem::create_directories(frames);
  for (const std::string name : {"/f1.png", "/f2.png"}) {
    test::write_file(frames + name, test::png_encode(raw_content));
  }
  const auto video = [&](const std::string& out, const std::string& extra) {
    return test::run_command(std::string(STYLIZE_BINARY) + " video --content " + frames + " --style " + style + " -o " +
                             dir.file(out) + " --weights " + test::fixture("vgg19_tiny.safetensors") +
                             " --size 48 -n 2 --frame-iterations 1 --lr 1e-6 --threads 1 " + extra);
  };
  test::CommandResult r = video("kept/", "--keep-profile");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const std::string name : {"kept/frame_00001.png", "kept/frame_00002.png"}) {
    SCOPED_TRACE(name);
    const RawImage written = png(name);
    EXPECT_EQ(written.bit_depth, 16);
    EXPECT_EQ(written.icc, p3);
    EXPECT_LE(test::max_sample_difference(written, raw_content), 3) << "P3 in, the same P3 numbers out";
  }
  r = video("eight/", "--bit-depth 8");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(png("eight/frame_00001.png").bit_depth, 8);
  EXPECT_EQ(png("eight/frame_00001.png").icc, srgb_icc_profile());
  r = video("out.avi", "--keep-profile");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("holds 8 bits, sRGB"), std::string::npos) << r.output;
  // A frame format that cannot hold them is refused before the run.
  r = video("jpg/frame_%03d.jpg", "--bit-depth 16");
  EXPECT_EQ(r.exit_code, 6) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir.file("jpg/frame_001.jpg"))) << r.output;
}

TEST_F(CliColor, BitDepthChoosesAndIsCheckedBeforeAnyWork) {
  test::CommandResult r = run("eight.png", "--bit-depth 8 -q");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(png("eight.png").bit_depth, 8);
  EXPECT_EQ(png("eight.png").icc, srgb_icc_profile());

  // An 8-bit content gives 8 bits unless 16 are asked for.
  save_image(test::pattern_image(48, 40, 0.3), content);
  r = run("auto.png", "-q");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(png("auto.png").bit_depth, 8);
  r = run("sixteen.png", "--bit-depth 16 -q");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(png("sixteen.png").bit_depth, 16);

  // Formats that cannot hold what is asked: exit 6 before any work, nothing written.
  r = run("out.jpg", "--bit-depth 16");
  EXPECT_EQ(r.exit_code, 6) << r.output;
  EXPECT_NE(r.output.find("JPEG holds 8 bits per channel, not 16"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("iter "), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir.file("out.jpg")));
  test::write_file(content, test::png_encode(raw_content));
  r = run("out.bmp", "--keep-profile");
  EXPECT_EQ(r.exit_code, 6) << r.output;
  EXPECT_NE(r.output.find("BMP holds no colour profile"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir.file("out.bmp")));
  EXPECT_EQ(run("out.png", "--bit-depth 12").exit_code, 2);
}

TEST_F(CliColor, AnUnusableProfileIsIgnoredWithAWarning) {
  const std::string plain = test::read_file(style);
  test::write_file(style, embed_icc_profile(plain, std::string(600, 'x')));
  const test::CommandResult r = run("out.png", "");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("style image '" + style + "': its ICC profile"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("ignoring the profile and reading the pixels as sRGB"), std::string::npos) << r.output;
  // Said once, by stylize: libpng never sees the profile, so it prints no line of its own.
  EXPECT_EQ(r.output.find("libpng"), std::string::npos) << r.output;
  // A grey profile on colour pixels (libpng: "Gray color space not permitted on RGB PNG").
  test::write_file(style, embed_icc_profile(plain, test::gray_gamma18_profile()));
  const test::CommandResult gray = run("out.png", "");
  ASSERT_EQ(gray.exit_code, 0) << gray.output;
  EXPECT_NE(gray.output.find("is a grayscale profile, but the pixels are in colour"), std::string::npos) << gray.output;
  EXPECT_EQ(gray.output.find("libpng"), std::string::npos) << gray.output;
}

}  // namespace
}  // namespace stylize
