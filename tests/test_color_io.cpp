// Bit depth and ICC colour profiles of images read and written: 16-bit round
// trips, profiles honoured on input (checked against lcms2's own transform of
// the raw pixels), sRGB or the input's profile on output (read back with the
// codecs' own libraries: tests/codec_oracle.hpp), format limits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "codec_oracle.hpp"
#include "stylize/errors.hpp"
#include "stylize/io/icc_container.hpp"
#include "stylize/io/image_io.hpp"
#include "test_util.hpp"

namespace stylize {
namespace {

using test::chart;
using test::max_sample_difference;
using test::normalized;
using test::RawImage;
using test::TempDir;

// (1, 3, H, W) -> interleaved RGB values.
std::vector<float> interleaved(const torch::Tensor& pixels) {
  const torch::Tensor hwc = pixels[0].permute({1, 2, 0}).contiguous();
  return std::vector<float>(hwc.data_ptr<float>(), hwc.data_ptr<float>() + hwc.numel());
}

// The largest difference between decoded values and expected ones (clipped to
// [0, 1], as stylize clips colours outside sRGB).
float max_difference(const std::vector<float>& decoded, const std::vector<float>& expected) {
  EXPECT_EQ(decoded.size(), expected.size());
  float worst = 0;
  for (size_t i = 0; i < std::min(decoded.size(), expected.size()); ++i) {
    worst = std::max(worst, std::abs(decoded[i] - std::clamp(expected[i], 0.f, 1.f)));
  }
  return worst;
}

template <typename Error, typename F>
void expect_error(F&& f, const std::string& needle) {
  try {
    f();
    FAIL() << "expected an error containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

DecodedImage image_with_depth(int bit_depth) {
  DecodedImage image;
  image.pixels = torch::zeros({1, 3, 8, 8});
  image.bit_depth = bit_depth;
  return image;
}

TEST(ColorIo, SixteenBitGradientsRoundTripThroughPngAndTiff) {
  TempDir dir;
  // 2048 levels per channel, each channel its own ramp.
  RawImage gradient;
  gradient.width = 2048;
  gradient.height = 2;
  gradient.bit_depth = 16;
  for (int y = 0; y < gradient.height; ++y) {
    for (int x = 0; x < gradient.width; ++x) {
      for (int c = 0; c < 3; ++c) gradient.samples.push_back(static_cast<uint16_t>((x * 32 + c * 7 + y * 3) % 65536));
    }
  }
  test::write_file(dir.file("in.png"), test::png_encode(gradient));
  test::tiff_write(dir.file("in.tif"), gradient);
  for (const std::string input : {"in.png", "in.tif"}) {
    const DecodedImage decoded = read_image(dir.file(input), "content image");
    EXPECT_EQ(decoded.bit_depth, 16) << input;
    for (const std::string ext : {".png", ".tif"}) {
      SCOPED_TRACE(input + " -> " + ext);
      const std::string output = dir.file("out" + ext);
      const ImageEncoding encoding = choose_output_encoding(output, decoded, 0, false);
      EXPECT_EQ(encoding.bit_depth, 16);
      save_image(decoded.pixels, output, encoding);
      const DecodedImage back = read_image(output, "output");
      EXPECT_EQ(back.bit_depth, 16);
      const torch::Tensor levels = back.pixels.mul(65535).round().to(torch::kInt32);
      for (int c = 0; c < 3; ++c) {
        EXPECT_GT(std::get<0>(torch::_unique(levels[0][c])).numel(), 256) << "channel " << c;
      }
      const torch::Tensor expected = decoded.pixels.mul(65535).round().to(torch::kInt32);
      EXPECT_TRUE(torch::equal(levels, expected)) << "a 16-bit round trip must keep every level";
    }
  }
  // The files are 16-bit for the codecs' own libraries too.
  EXPECT_EQ(test::png_decode(test::read_file(dir.file("out.png"))).bit_depth, 16);
  EXPECT_EQ(test::tiff_read(dir.file("out.tif")).bit_depth, 16);
}

TEST(ColorIo, BitDepthFollowsTheInputUnlessChosen) {
  const DecodedImage eight = image_with_depth(8), sixteen = image_with_depth(16), floating = image_with_depth(32);
  for (const std::string path : {"o.png", "o.tif", "o.TIFF"}) {
    EXPECT_EQ(choose_output_encoding(path, sixteen, 0, false).bit_depth, 16) << path;
    EXPECT_EQ(choose_output_encoding(path, floating, 0, false).bit_depth, 16) << path;
    EXPECT_EQ(choose_output_encoding(path, eight, 0, false).bit_depth, 8) << path;
    EXPECT_EQ(choose_output_encoding(path, eight, 16, false).bit_depth, 16) << path;
    EXPECT_EQ(choose_output_encoding(path, sixteen, 8, false).bit_depth, 8) << path;
  }
  for (const std::string path : {"o.jpg", "o.jpeg", "o.webp", "o.bmp"}) {
    EXPECT_EQ(choose_output_encoding(path, sixteen, 0, false).bit_depth, 8) << path;
    expect_error<OutputError>([&] { choose_output_encoding(path, eight, 16, false); }, "holds 8 bits per channel");
  }
  expect_error<OptionError>([&] { choose_output_encoding("o.png", eight, 12, false); }, "--bit-depth must be 8 or 16");
}

TEST(ColorIo, FormatLimitsAreCheckedUpFront) {
  EXPECT_NO_THROW(check_output_format("a.webp", 16383, 16383, 8));
  expect_error<OutputError>([] { check_output_format("a.webp", 16384, 10, 8); },
                            "WebP images are at most 16383 pixels on a side, and this one would be 16384");
  expect_error<OutputError>([] { check_output_format("a.webp", 10, 20000, 8); }, "WebP");
  EXPECT_NO_THROW(check_output_format("a.jpg", 65500, 10, 8));
  expect_error<OutputError>([] { check_output_format("a.jpeg", 65501, 10, 8); }, "65500");
  EXPECT_NO_THROW(check_output_format("a.png", 100000, 1000, 16));
  expect_error<OutputError>([] { check_output_format("a.tif", 30000, 30000, 16); }, "more than TIFF holds");
  expect_error<OutputError>([] { check_output_format("a.bmp", 40000, 40000, 8); }, "more than BMP holds");
  expect_error<OutputError>([] { check_output_format("a.gif", 10, 10, 8); }, "unknown image extension");
  expect_error<OutputError>([] { check_output_format("a.jpg", 10, 10, 16); }, "JPEG holds 8 bits per channel");
  // save_image checks them too, before writing anything.
  TempDir dir;
  ImageEncoding sixteen;
  sixteen.bit_depth = 16;
  EXPECT_THROW(save_image(test::pattern_image(8, 8, 0.1), dir.file("out.jpg"), sixteen), OutputError);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(ColorIo, PngWithDisplayP3ProfileIsConvertedToSrgb) {
  TempDir dir;
  const std::string p3 = test::display_p3_profile();
  RawImage raw = chart(16, 8, 8);  // sRGB values, tagged P3: they mean more saturated colours
  raw.icc = p3;
  test::write_file(dir.file("p3.png"), test::png_encode(raw));
  const DecodedImage decoded = read_image(dir.file("p3.png"), "content image");
  EXPECT_TRUE(decoded.warnings.empty());
  EXPECT_EQ(decoded.profile.icc, p3);
  EXPECT_EQ(decoded.profile.name, "Display P3 (stylize test)");
  EXPECT_EQ(decoded.bit_depth, 8);
  const std::vector<float> expected = test::lcms_transform(p3, test::lcms_srgb_profile(), normalized(raw), 3);
  EXPECT_LT(max_difference(interleaved(decoded.pixels), expected), 1e-4f);
  // The conversion is not a no-op: P3 colours are more saturated than the same numbers in sRGB.
  EXPECT_GT(max_difference(interleaved(decoded.pixels), normalized(raw)), 0.05f);
}

// The [begin, end) of each ICC APP2 marker segment of a JPEG written by libjpeg.
std::vector<std::pair<size_t, size_t>> icc_segments(const std::string& jpeg) {
  std::vector<std::pair<size_t, size_t>> segments;
  for (size_t at = jpeg.find("ICC_PROFILE"); at != std::string::npos; at = jpeg.find("ICC_PROFILE", at + 1)) {
    const size_t begin = at - 4;
    const size_t length =
        static_cast<unsigned char>(jpeg[begin + 2]) << 8 | static_cast<unsigned char>(jpeg[begin + 3]);
    segments.emplace_back(begin, begin + 2 + length);
  }
  return segments;
}

TEST(ColorIo, JpegProfileSplitOverSeveralApp2MarkersIsConverted) {
  TempDir dir;
  const std::string p3 = test::display_p3_profile(150000);  // three APP2 markers
  const RawImage raw = chart(32, 16, 8);
  RawImage tagged_raw = raw;
  tagged_raw.icc = p3;
  const std::string plain = test::jpeg_encode(raw), tagged = test::jpeg_encode(tagged_raw);
  const auto segments = icc_segments(tagged);
  ASSERT_EQ(segments.size(), 3u);
  test::write_file(dir.file("plain.jpg"), plain);
  test::write_file(dir.file("p3.jpg"), tagged);
  // The same compressed pixels without the profile: what the decoder gives.
  const DecodedImage uncorrected = read_image(dir.file("plain.jpg"), "plain");
  const DecodedImage decoded = read_image(dir.file("p3.jpg"), "content image");
  EXPECT_TRUE(decoded.warnings.empty());
  EXPECT_EQ(decoded.profile.icc, p3);
  const std::vector<float> expected =
      test::lcms_transform(p3, test::lcms_srgb_profile(), interleaved(uncorrected.pixels), 3);
  EXPECT_LT(max_difference(interleaved(decoded.pixels), expected), 1e-4f);

  // The parts may come in any order; their sequence numbers put them together.
  ASSERT_EQ(segments[0].second, segments[1].first);
  ASSERT_EQ(segments[1].second, segments[2].first);
  const auto segment = [&](int i) { return tagged.substr(segments[i].first, segments[i].second - segments[i].first); };
  const std::string shuffled =
      tagged.substr(0, segments[0].first) + segment(2) + segment(0) + segment(1) + tagged.substr(segments[2].second);
  EXPECT_EQ(read_image_bytes(shuffled, "shuffled").profile.icc, p3);
  // A missing part: the profile is ignored with a warning and the pixels are taken as sRGB.
  const std::string incomplete = tagged.substr(0, segments[1].first) + tagged.substr(segments[1].second);
  const DecodedImage ignored = read_image_bytes(incomplete, "content image 'x.jpg'");
  ASSERT_EQ(ignored.warnings.size(), 1u);
  EXPECT_NE(ignored.warnings[0].find("content image 'x.jpg': its ICC profile is split over 2 APP2 markers"),
            std::string::npos)
      << ignored.warnings[0];
  EXPECT_TRUE(ignored.profile.empty());
  EXPECT_TRUE(torch::equal(ignored.pixels, uncorrected.pixels));
}

TEST(ColorIo, TiffAndWebpProfilesAreHonoured) {
  TempDir dir;
  const std::string p3 = test::display_p3_profile();
  RawImage raw = chart(12, 10, 16);
  raw.icc = p3;
  test::tiff_write(dir.file("p3.tif"), raw);
  const DecodedImage tiff = read_image(dir.file("p3.tif"), "content image");
  EXPECT_EQ(tiff.profile.icc, p3);
  EXPECT_EQ(tiff.bit_depth, 16);
  const std::vector<float> expected = test::lcms_transform(p3, test::lcms_srgb_profile(), normalized(raw), 3);
  EXPECT_LT(max_difference(interleaved(tiff.pixels), expected), 1e-4f);

  // A WebP written by stylize (sRGB), its profile replaced by libwebpmux.
  save_image(test::pattern_image(10, 12, 0.3), dir.file("srgb.webp"));
  const std::string srgb_webp = test::read_file(dir.file("srgb.webp"));
  const DecodedImage uncorrected = read_image_bytes(srgb_webp, "srgb");
  const DecodedImage webp = read_image_bytes(test::webp_with_icc_profile(srgb_webp, p3), "p3");
  EXPECT_EQ(webp.profile.icc, p3);
  EXPECT_LT(max_difference(interleaved(webp.pixels),
                           test::lcms_transform(p3, test::lcms_srgb_profile(), interleaved(uncorrected.pixels), 3)),
            1e-4f);
}

TEST(ColorIo, OutputsCarryAnSrgbProfile) {
  TempDir dir;
  const torch::Tensor image = test::pattern_image(24, 32, 0.4);
  for (const std::string ext : {".png", ".jpg", ".tif", ".webp", ".bmp"}) save_image(image, dir.file("out" + ext));
  const std::string& srgb = srgb_icc_profile();
  EXPECT_NE(test::lcms_description(srgb).find("sRGB"), std::string::npos) << test::lcms_description(srgb);
  EXPECT_EQ(test::png_decode(test::read_file(dir.file("out.png"))).icc, srgb);
  EXPECT_EQ(test::jpeg_icc_profile(test::read_file(dir.file("out.jpg"))), srgb);
  EXPECT_EQ(test::tiff_read(dir.file("out.tif")).icc, srgb);
  EXPECT_EQ(test::webp_icc_profile(test::read_file(dir.file("out.webp"))), srgb);
  // Read back, the sRGB profile changes nothing (PNG is lossless).
  const DecodedImage png = read_image(dir.file("out.png"), "output");
  EXPECT_EQ(png.profile.icc, srgb);
  EXPECT_LE(max_difference(interleaved(png.pixels), interleaved(image)), 0.5f / 255 + 1e-6f);
  EXPECT_TRUE(read_image(dir.file("out.bmp"), "output").profile.empty());  // BMP holds no profile
}

TEST(ColorIo, KeepProfileConvertsBackIntoTheInputProfile) {
  TempDir dir;
  const std::string p3 = test::display_p3_profile();
  for (const int bits : {8, 16}) {
    SCOPED_TRACE(std::to_string(bits) + " bits");
    const RawImage raw = chart(16, 8, bits, p3);  // P3 numbers of in-gamut sRGB colours
    test::write_file(dir.file("in.png"), test::png_encode(raw));
    const DecodedImage content = read_image(dir.file("in.png"), "content image");
    ASSERT_EQ(content.profile.icc, p3);
    ASSERT_EQ(content.bit_depth, bits);

    const ImageEncoding keep = choose_output_encoding(dir.file("kept.png"), content, 0, true);
    EXPECT_EQ(keep.bit_depth, bits);
    save_image(content.pixels, dir.file("kept.png"), keep);
    const RawImage kept = test::png_decode(test::read_file(dir.file("kept.png")));
    EXPECT_EQ(kept.icc, p3);
    EXPECT_EQ(kept.bit_depth, bits);
    EXPECT_LE(max_sample_difference(kept, raw), 1) << "the colours must come back within rounding";

    // Without --keep-profile the output is sRGB: other numbers for the same colours.
    save_image(content.pixels, dir.file("srgb.png"), choose_output_encoding(dir.file("srgb.png"), content, 0, false));
    const RawImage srgb = test::png_decode(test::read_file(dir.file("srgb.png")));
    EXPECT_EQ(srgb.icc, srgb_icc_profile());
    EXPECT_GT(max_sample_difference(srgb, raw), bits == 8 ? 5 : 1000);

    const ImageEncoding keep_tiff = choose_output_encoding(dir.file("kept.tif"), content, 0, true);
    save_image(content.pixels, dir.file("kept.tif"), keep_tiff);
    const RawImage tiff = test::tiff_read(dir.file("kept.tif"));
    EXPECT_EQ(tiff.icc, p3);
    EXPECT_EQ(tiff.bit_depth, bits);
    EXPECT_LT(max_difference(interleaved(read_image(dir.file("kept.tif"), "kept").pixels), interleaved(content.pixels)),
              bits == 8 ? 1.0f / 255 : 2.0f / 65535);
  }
  // JPEG keeps it too (8 bits).
  const DecodedImage content = read_image(dir.file("in.png"), "content image");
  save_image(content.pixels, dir.file("kept.jpg"), choose_output_encoding(dir.file("kept.jpg"), content, 0, true));
  EXPECT_EQ(test::jpeg_icc_profile(test::read_file(dir.file("kept.jpg"))), p3);
  // BMP holds no profile: refused before the run rather than written untagged.
  expect_error<OutputError>([&] { choose_output_encoding(dir.file("kept.bmp"), content, 0, true); },
                            "BMP holds no colour profile");
  // Without a profile in the input, --keep-profile writes sRGB.
  EXPECT_TRUE(choose_output_encoding(dir.file("o.png"), image_with_depth(8), 0, true).profile.empty());
}

TEST(ColorIo, GrayProfilesApplyToGreyPixels) {
  TempDir dir;
  const std::string gray = test::gray_gamma18_profile();
  RawImage raw;
  raw.width = 16;
  raw.height = 1;
  raw.channels = 1;
  for (int x = 0; x < 16; ++x) raw.samples.push_back(static_cast<uint16_t>(x * 17));
  raw.icc = gray;
  test::write_file(dir.file("gray.png"), test::png_encode(raw));
  const DecodedImage decoded = read_image(dir.file("gray.png"), "content image");
  EXPECT_TRUE(decoded.warnings.empty());
  EXPECT_TRUE(decoded.profile.gray);
  const std::vector<float> expected = test::lcms_transform(gray, test::lcms_srgb_profile(), normalized(raw), 1);
  EXPECT_LT(max_difference(interleaved(decoded.pixels), expected), 1e-4f);
  std::vector<float> grey_as_rgb;  // the numbers as sRGB would take them
  for (const float v : normalized(raw)) grey_as_rgb.insert(grey_as_rgb.end(), 3, v);
  EXPECT_GT(max_difference(interleaved(decoded.pixels), grey_as_rgb), 0.05f) << "gamma 1.8 is not sRGB's curve";
  expect_error<OutputError>([&] { choose_output_encoding(dir.file("o.png"), decoded, 0, true); }, "grayscale profile");

  // A grey profile on colour pixels does not fit them: ignored, with a warning.
  save_image(test::pattern_image(8, 8, 0.2), dir.file("colour.png"));
  const std::string colour = test::read_file(dir.file("colour.png"));
  const DecodedImage mismatched = read_image_bytes(embed_icc_profile(colour, gray), "colour");
  ASSERT_EQ(mismatched.warnings.size(), 1u);
  EXPECT_NE(mismatched.warnings[0].find("grayscale profile, but the pixels are in colour"), std::string::npos);
  EXPECT_TRUE(torch::equal(mismatched.pixels, read_image_bytes(colour, "colour").pixels));
}

TEST(ColorIo, UnusableProfilesAreIgnoredWithAWarning) {
  TempDir dir;
  save_image(test::pattern_image(8, 8, 0.7), dir.file("base.png"));
  const std::string png = test::read_file(dir.file("base.png"));
  const torch::Tensor pixels = read_image_bytes(png, "base").pixels;
  std::string bad_tag_count = test::display_p3_profile();
  bad_tag_count.replace(128, 4, "\xff\xff\xff\xff");
  const std::pair<std::string, std::string> cases[] = {
      {std::string(600, 'x'), "corrupt"},
      {test::display_p3_profile().substr(0, 100), "truncated"},
      {bad_tag_count, "corrupt"},
      {test::lab_profile(), "does not describe an image's colours"},
  };
  for (const auto& [icc, needle] : cases) {
    const DecodedImage decoded = read_image_bytes(embed_icc_profile(png, icc), "style image 'p.png'");
    ASSERT_EQ(decoded.warnings.size(), 1u) << needle;
    EXPECT_NE(decoded.warnings[0].find("style image 'p.png': its ICC profile"), std::string::npos);
    EXPECT_NE(decoded.warnings[0].find(needle), std::string::npos) << decoded.warnings[0];
    EXPECT_NE(decoded.warnings[0].find("reading the pixels as sRGB"), std::string::npos);
    EXPECT_TRUE(decoded.profile.empty());
    EXPECT_TRUE(torch::equal(decoded.pixels, pixels));
  }
}

TEST(ColorIo, OrientationAndSizeLimitStillApply) {
  // EXIF orientation with a profile: both honoured.
  RawImage raw = chart(8, 4, 8);
  raw.icc = test::display_p3_profile();
  const std::string jpeg = test::with_exif_rotation(test::jpeg_encode(raw));
  const DecodedImage rotated = read_image_bytes(jpeg, "rotated");
  EXPECT_EQ(rotated.pixels.sizes(), (std::vector<int64_t>{1, 3, 8, 4}));
  EXPECT_EQ(rotated.profile.icc, raw.icc);
  // A header claiming 900 megapixels is refused before its pixels are
  // allocated, profile or not.
  std::string png = test::png_encode(chart(4, 4, 8));
  png.replace(16, 8, std::string("\x00\x00\x75\x30\x00\x00\x75\x30", 8));  // IHDR: 30000 x 30000
  const uint32_t crc = test::crc32_of(png.substr(12, 17));                 // "IHDR" and its data
  for (int i = 0; i < 4; ++i) png[29 + i] = static_cast<char>(crc >> (24 - 8 * i));
  expect_error<ImageError>([&] { read_image_bytes(embed_icc_profile(png, test::display_p3_profile()), "huge image"); },
                           "too large (30000 x 30000 pixels");
}

}  // namespace
}  // namespace stylize
