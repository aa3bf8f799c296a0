#include <gtest/gtest.h>

#include <filesystem>
#include <functional>

#include "codec_oracle.hpp"
#include "stylize/errors.hpp"
#include "stylize/io/image.hpp"
#include "stylize/io/image_io.hpp"
#include "test_util.hpp"

namespace stylize {
namespace {

using test::TempDir;
namespace fs = std::filesystem;

size_t count_files(const fs::path& dir) {
  return static_cast<size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

TEST(ImageIo, PngRoundTripKeepsPixelsAndSize) {
  TempDir dir;
  const torch::Tensor image = test::pattern_image(20, 30, 0.7);
  save_image(image, dir.file("out.png"));
  const torch::Tensor loaded = load_image(dir.file("out.png"), "test image");
  ASSERT_EQ(loaded.sizes(), (std::vector<int64_t>{1, 3, 20, 30}));
  EXPECT_LE((loaded - image).abs().max().item<float>(), 0.5f / 255 + 1e-6f);
  EXPECT_EQ(count_files(dir.path()), 1u) << "no temporary file may be left behind";
}

TEST(ImageIo, LoadsRgbInRgbOrder) {
  TempDir dir;
  // A 2x1 binary PPM: one red pixel, one blue pixel.
  test::write_file(dir.file("rb.ppm"), std::string("P6\n2 1\n255\n") + std::string("\xff\x00\x00\x00\x00\xff", 6));
  const torch::Tensor image = load_image(dir.file("rb.ppm"), "test image");
  ASSERT_EQ(image.sizes(), (std::vector<int64_t>{1, 3, 1, 2}));
  EXPECT_FLOAT_EQ(image[0][0][0][0].item<float>(), 1.f);  // R of the red pixel
  EXPECT_FLOAT_EQ(image[0][2][0][0].item<float>(), 0.f);
  EXPECT_FLOAT_EQ(image[0][2][0][1].item<float>(), 1.f);  // B of the blue pixel
}

TEST(ImageIo, OnePixelImagesOwnTheirPixels) {
  TempDir dir;
  // A 1x1 PPM: its tensor must be a copy, not a view into the decoder's freed buffer.
  test::write_file(dir.file("one.ppm"), std::string("P6\n1 1\n255\n") + std::string("\x33\x80\xcc", 3));
  const torch::Tensor image = load_image(dir.file("one.ppm"), "test image");
  ASSERT_EQ(image.sizes(), (std::vector<int64_t>{1, 3, 1, 1}));
  EXPECT_EQ(image.strides(), (std::vector<int64_t>{3, 1, 1, 1}));
  std::vector<torch::Tensor> churn;  // reuse whatever memory was freed
  for (int i = 0; i < 64; ++i) churn.push_back(torch::full({1, 1, 1, 3}, -7.f));
  EXPECT_FLOAT_EQ(image[0][0][0][0].item<float>(), 0x33 / 255.f);
  EXPECT_FLOAT_EQ(image[0][1][0][0].item<float>(), 0x80 / 255.f);
  EXPECT_FLOAT_EQ(image[0][2][0][0].item<float>(), 0xcc / 255.f);
  // What the region masks compute from it (was a garbage luminance: "black everywhere").
  EXPECT_NEAR(luminance_image(image).max().item<float>(), (0.299 * 0x33 + 0.587 * 0x80 + 0.114 * 0xcc) / 255, 1e-5);
}

TEST(ImageIo, SavesInRgbOrder) {
  TempDir dir;
  torch::Tensor red = torch::zeros({1, 3, 1, 1});
  red[0][0] = 1.0;
  save_image(red, dir.file("red.bmp"));
  const std::string bytes = test::read_file(dir.file("red.bmp"));
  ASSERT_GT(bytes.size(), 54u);
  const auto offset = static_cast<unsigned char>(bytes[10]) | static_cast<unsigned char>(bytes[11]) << 8;
  // BMP stores blue, green, red.
  EXPECT_EQ(static_cast<unsigned char>(bytes[offset]), 0);
  EXPECT_EQ(static_cast<unsigned char>(bytes[offset + 1]), 0);
  EXPECT_EQ(static_cast<unsigned char>(bytes[offset + 2]), 255);
}

TEST(ImageIo, Loads16BitGrayscale) {
  TempDir dir;
  // A 2x1 16-bit PGM (big-endian samples): 0 and 32768.
  test::write_file(dir.file("gray.pgm"), std::string("P5\n2 1\n65535\n") + std::string("\x00\x00\x80\x00", 4));
  const torch::Tensor image = load_image(dir.file("gray.pgm"), "test image");
  ASSERT_EQ(image.sizes(), (std::vector<int64_t>{1, 3, 1, 2}));
  for (int c = 0; c < 3; ++c) {
    EXPECT_FLOAT_EQ(image[0][c][0][0].item<float>(), 0.f);
    EXPECT_NEAR(image[0][c][0][1].item<float>(), 32768.f / 65535, 1e-6);
  }
}

// PNM samples are fractions of the header's maxval, which OpenCV leaves to
// the caller: a 10-bit PPM's 1023 was read as 1023 of 65535 (nearly black).
// And a PAM's RGB samples are in RGB order.
TEST(ImageIo, ScalesPnmSamplesByTheirMaxval) {
  TempDir dir;
  const auto pixel = [&](const std::string& name, const std::string& bytes) {
    test::write_file(dir.file(name), bytes);
    const torch::Tensor image = load_image(dir.file(name), "test image");
    return std::vector<float>{image[0][0][0][0].item<float>(), image[0][1][0][0].item<float>(),
                              image[0][2][0][0].item<float>()};
  };
  const auto expect_pixel = [](const std::vector<float>& got, float r, float g, float b, const std::string& what) {
    EXPECT_NEAR(got[0], r, 1e-6) << what;
    EXPECT_NEAR(got[1], g, 1e-6) << what;
    EXPECT_NEAR(got[2], b, 1e-6) << what;
  };
  expect_pixel(pixel("ten.ppm", std::string("P6\n1 1\n1023\n") + std::string("\x03\xff\x02\x00\x00\x00", 6)), 1.f,
               512.f / 1023, 0.f, "10-bit");
  expect_pixel(pixel("hundred.ppm", std::string("P6 1 1 100\n") + std::string("\x64\x32\x00", 3)), 1.f, 0.5f, 0.f,
               "maxval 100");
  // ASCII: OpenCV scales 8 bits or fewer to 255 itself (5 of 10 as 127), not more.
  expect_pixel(pixel("ascii.ppm", "P3\n# a comment\n1 1\n# another\n10\n10 5 0\n"), 1.f, 127.f / 255, 0.f, "ASCII");
  expect_pixel(pixel("ascii16.ppm", "P3\n1 1\n1023\n1023 512 0\n"), 1.f, 512.f / 1023, 0.f, "ASCII 10-bit");
  // PAM, in RGB order (OpenCV 4.6 left it so: red came out blue).
  expect_pixel(pixel("pam.pam", "P7\nWIDTH 1\nHEIGHT 1\nDEPTH 3\nMAXVAL 15\nTUPLTYPE RGB\nENDHDR\n" +
                                    std::string("\x0f\x00\x05", 3)),
               1.f, 0.f, 1.f / 3, "PAM");
  expect_pixel(pixel("red.pam", "P7\nWIDTH 1\nHEIGHT 1\nDEPTH 4\nMAXVAL 255\nTUPLTYPE RGB_ALPHA\nENDHDR\n" +
                                    std::string("\xff\x00\x00\xff", 4)),
               1.f, 0.f, 0.f, "PAM with alpha");
  expect_pixel(pixel("full.ppm", std::string("P6\n1 1\n255\n") + std::string("\xff\x80\x00", 3)), 1.f, 128.f / 255, 0.f,
               "maxval 255");
}

// Radiance HDR holds linear light: encoded as sRGB, as every other input is
// taken to be (linear 0.2 was shown as 0.2, far too dark; sRGB is 0.48).
TEST(ImageIo, EncodesLinearHdrAsSrgb) {
  const std::string grey = std::string("\xcc\xcc\xcc\x7e", 4);  // 204/256 x 2^-2, about 0.2
  const torch::Tensor image =
      decode_image("#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 1 +X 2\n" + grey + grey, "linear image");
  ASSERT_EQ(image.sizes(), (std::vector<int64_t>{1, 3, 1, 2}));
  for (int c = 0; c < 3; ++c) {
    EXPECT_GT(image[0][c][0][0].item<float>(), 0.482f);
    EXPECT_LT(image[0][c][0][0].item<float>(), 0.486f);
  }
}

TEST(ImageIo, FlattensAlphaOverWhite) {
  TempDir dir;
  // A 2x1 PAM with alpha: a transparent black pixel and an opaque green one.
  const std::string header = "P7\nWIDTH 2\nHEIGHT 1\nDEPTH 4\nMAXVAL 255\nTUPLTYPE RGB_ALPHA\nENDHDR\n";
  test::write_file(dir.file("alpha.pam"), header + std::string("\x00\x00\x00\x00\x00\xff\x00\xff", 8));
  const torch::Tensor image = load_image(dir.file("alpha.pam"), "test image");
  ASSERT_EQ(image.sizes(), (std::vector<int64_t>{1, 3, 1, 2}));
  for (int c = 0; c < 3; ++c) EXPECT_FLOAT_EQ(image[0][c][0][0].item<float>(), 1.f);  // white
  EXPECT_FLOAT_EQ(image[0][0][0][1].item<float>(), 0.f);
  EXPECT_FLOAT_EQ(image[0][1][0][1].item<float>(), 1.f);
}

// A little-endian TIFF of one RGBA pixel, uncompressed, `bits` 8 or 16 per
// sample, with ExtraSamples `extra` (1: associated alpha, 2: unassociated).
std::string rgba_tiff(int bits, const std::vector<uint16_t>& rgba, int extra) {
  const auto u16 = [](uint32_t v) {
    return std::string{static_cast<char>(v & 0xff), static_cast<char>(v >> 8 & 0xff)};
  };
  const auto u32 = [&](uint32_t v) { return u16(v & 0xffff) + u16(v >> 16); };
  std::string data;
  for (const uint16_t v : rgba) data += bits == 8 ? std::string(1, static_cast<char>(v)) : u16(v);
  const uint32_t bits_at = 8 + static_cast<uint32_t>(data.size()), directory_at = bits_at + 8;
  std::string directory = u16(11);
  const auto entry = [&](uint32_t tag, uint32_t type, uint32_t count, uint32_t value) {
    directory += u16(tag) + u16(type) + u32(count) + (type == 3 && count == 1 ? u16(value) + u16(0) : u32(value));
  };
  entry(256, 4, 1, 1);                                   // width
  entry(257, 4, 1, 1);                                   // height
  entry(258, 3, 4, bits_at);                             // bits per sample, at bits_at
  entry(259, 3, 1, 1);                                   // no compression
  entry(262, 3, 1, 2);                                   // RGB
  entry(273, 4, 1, 8);                                   // the strip
  entry(277, 3, 1, 4);                                   // samples per pixel
  entry(278, 4, 1, 1);                                   // rows per strip
  entry(279, 4, 1, static_cast<uint32_t>(data.size()));  // strip bytes
  entry(284, 3, 1, 1);                                   // interleaved
  entry(338, 3, 1, static_cast<uint32_t>(extra));        // extra samples
  directory += u32(0);
  return std::string("II*\0", 4) + u32(directory_at) + data + u16(bits) + u16(bits) + u16(bits) + u16(bits) + directory;
}

// Half-transparent red over white is (1, 0.5, 0.5) however the TIFF stores
// it: OpenCV hands 8-bit TIFF colours over multiplied by alpha (libtiff's RGBA
// reader) and 16-bit ones as stored, multiplied where the alpha is associated.
// The 8-bit ones were multiplied by alpha twice: (0.75, 0.5, 0.5).
TEST(ImageIo, FlattensTiffAlphaAssociatedOrNotOverWhite) {
  struct Case {
    int bits, extra;
    std::vector<uint16_t> rgba;
  };
  for (const Case& c : {Case{8, 2, {255, 0, 0, 128}}, Case{8, 1, {128, 0, 0, 128}}, Case{16, 2, {65535, 0, 0, 32768}},
                        Case{16, 1, {32768, 0, 0, 32768}}}) {
    const std::string where = std::to_string(c.bits) + " bits, ExtraSamples " + std::to_string(c.extra);
    const torch::Tensor image = decode_image(rgba_tiff(c.bits, c.rgba, c.extra), "tiff");
    ASSERT_EQ(image.sizes(), (std::vector<int64_t>{1, 3, 1, 1})) << where;
    EXPECT_NEAR(image[0][0][0][0].item<float>(), 1.0f, 0.005f) << where;
    EXPECT_NEAR(image[0][1][0][0].item<float>(), 0.5f, 0.005f) << where;
    EXPECT_NEAR(image[0][2][0][0].item<float>(), 0.5f, 0.005f) << where;
  }
}

// Transparency in a PNG is flattened over white; an opaque PNG (decoded once,
// without looking for alpha) keeps its pixels.
TEST(ImageIo, FlattensPngTransparencyOverWhite) {
  // Two pixels: black (transparent where the file can say so) and green, opaque.
  const auto two_pixels = [](int channels, std::vector<uint16_t> samples, std::vector<uint16_t> transparent = {}) {
    test::RawImage raw;
    raw.width = 2;
    raw.height = 1;
    raw.channels = channels;
    raw.samples = std::move(samples);
    raw.transparent = std::move(transparent);
    return decode_image(test::png_encode(raw), "test image");
  };
  const auto expect_pixels = [](const torch::Tensor& image, std::vector<float> first, std::vector<float> second,
                                const char* what) {
    ASSERT_EQ(image.sizes(), (std::vector<int64_t>{1, 3, 1, 2})) << what;
    for (int c = 0; c < 3; ++c) {
      EXPECT_FLOAT_EQ(image[0][c][0][0].item<float>(), first[c]) << what << ", channel " << c;
      EXPECT_FLOAT_EQ(image[0][c][0][1].item<float>(), second[c]) << what << ", channel " << c;
    }
  };
  expect_pixels(two_pixels(4, {0, 0, 0, 0, 0, 255, 0, 255}), {1, 1, 1}, {0, 1, 0}, "RGBA");
  expect_pixels(two_pixels(2, {0, 0, 255, 255}), {1, 1, 1}, {1, 1, 1}, "grey and alpha");
  expect_pixels(two_pixels(3, {0, 0, 0, 0, 255, 0}, {0, 0, 0}), {1, 1, 1}, {0, 1, 0}, "RGB with tRNS");
  expect_pixels(two_pixels(3, {0, 0, 0, 0, 255, 0}), {0, 0, 0}, {0, 1, 0}, "opaque RGB");
  expect_pixels(two_pixels(1, {0, 255}), {0, 0, 0}, {1, 1, 1}, "opaque grey");
  // A grey tRNS colour: OpenCV gives no alpha channel; stylize makes it, at
  // every bit depth (1, 2 and 4-bit grey are widened to 8 bits on decoding).
  expect_pixels(two_pixels(1, {0, 255}, {0}), {1, 1, 1}, {1, 1, 1}, "grey with tRNS");
  expect_pixels(two_pixels(1, {0, 255}, {255}), {0, 0, 0}, {1, 1, 1}, "grey with tRNS, white transparent");
  const auto grey_at_depth = [](int depth, std::vector<uint16_t> samples, uint16_t transparent) {
    test::RawImage raw;
    raw.width = 2;
    raw.height = 1;
    raw.channels = 1;
    raw.bit_depth = depth;
    raw.samples = std::move(samples);
    raw.transparent = {transparent};
    return decode_image(test::png_encode(raw), "test image");
  };
  expect_pixels(grey_at_depth(16, {1000, 0}, 1000), {1, 1, 1}, {0, 0, 0}, "16-bit grey with tRNS");
  expect_pixels(grey_at_depth(2, {2, 0}, 2), {1, 1, 1}, {0, 0, 0}, "2-bit grey with tRNS");
  expect_pixels(grey_at_depth(4, {0, 5}, 5), {0, 0, 0}, {1, 1, 1}, "4-bit grey with tRNS");
  expect_pixels(grey_at_depth(1, {1, 0}, 0), {1, 1, 1}, {1, 1, 1}, "1-bit grey with tRNS");
}

TEST(ImageIo, AppliesExifOrientation) {
  TempDir dir;
  // 48 wide, 32 tall, in quadrants: red top left, green top right, blue bottom left, black bottom right.
  torch::Tensor quadrants = torch::zeros({1, 3, 32, 48});
  using torch::indexing::Slice;
  quadrants.index_put_({0, 0, Slice(0, 16), Slice(0, 24)}, 1.0);
  quadrants.index_put_({0, 1, Slice(0, 16), Slice(24, 48)}, 1.0);
  quadrants.index_put_({0, 2, Slice(16, 32), Slice(0, 24)}, 1.0);
  save_image(quadrants, dir.file("plain.jpg"));
  // Orientation (0x0112) = 6: rotate 90 degrees.
  test::write_file(dir.file("rotated.jpg"), test::with_exif_rotation(test::read_file(dir.file("plain.jpg"))));
  EXPECT_EQ(load_image(dir.file("plain.jpg"), "test image").sizes(), (std::vector<int64_t>{1, 3, 32, 48}));
  const torch::Tensor rotated = load_image(dir.file("rotated.jpg"), "test image");
  ASSERT_EQ(rotated.sizes(), (std::vector<int64_t>{1, 3, 48, 32}));
  // Orientation 6 displays the stored image turned 90 degrees clockwise: the
  // stored top left (red) goes to the top right, bottom left (blue) to the top
  // left. Guards against turning the other way or transposing.
  const auto colour_at = [&](int64_t y, int64_t x) { return rotated.index({0, Slice(), y, x}); };
  const auto expect_colour = [&](int64_t y, int64_t x, std::vector<float> rgb, const char* where) {
    EXPECT_TRUE(torch::allclose(colour_at(y, x), torch::tensor(rgb), 0, 0.15)) << where << ": " << colour_at(y, x);
  };
  expect_colour(12, 8, {0, 0, 1}, "top left: blue");
  expect_colour(12, 24, {1, 0, 0}, "top right: red");
  expect_colour(36, 24, {0, 1, 0}, "bottom right: green");
  expect_colour(36, 8, {0, 0, 0}, "bottom left: black");
}

// An EXIF block (TIFF, little-endian) whose first directory holds Orientation = `orientation`.
std::string exif_with_orientation(int orientation) {
  std::string exif("II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0", 18);
  exif += static_cast<char>(orientation);
  exif += std::string("\0\0\0\0\0\0\0", 7);  // the value's rest, then no next directory
  return exif;
}

// `png` with an eXIf chunk after its IHDR (8-byte signature, 25-byte IHDR chunk).
std::string png_with_exif(const std::string& png, int orientation);

// PNG's eXIf orientation reaches images with alpha too, which OpenCV decodes
// without applying it, and WebP's, which OpenCV 4.6 never reads: each of the
// eight comes out as OpenCV turns the same PNG without alpha.
TEST(ImageIo, AppliesExifOrientationToPngsWithAlphaAndToWebp) {
  TempDir dir;
  const torch::Tensor picture = test::pattern_image(20, 30, 0.4);  // 30 wide, 20 tall
  test::RawImage rgb, rgba;
  rgb.width = rgba.width = 30;
  rgb.height = rgba.height = 20;
  rgba.channels = 4;
  const torch::Tensor levels = (picture[0] * 255).round().to(torch::kInt32).permute({1, 2, 0}).contiguous();
  for (int64_t i = 0; i < levels.numel(); ++i) {
    const auto value = static_cast<uint16_t>(levels.view(-1)[i].item<int>());
    rgb.samples.push_back(value);
    rgba.samples.push_back(value);
    if (i % 3 == 2) rgba.samples.push_back(255);  // opaque
  }
  save_image(picture, dir.file("plain.webp"));
  const std::string webp = test::read_file(dir.file("plain.webp"));
  // The WebP's own pixels, as a PNG without alpha: OpenCV orients that one itself.
  const torch::Tensor webp_pixels = read_image_bytes(webp, "x").pixels;
  save_image(webp_pixels, dir.file("webp_pixels.png"));
  const std::string webp_as_png = test::read_file(dir.file("webp_pixels.png"));
  for (int orientation = 1; orientation <= 8; ++orientation) {
    SCOPED_TRACE("orientation " + std::to_string(orientation));
    const torch::Tensor expected = read_image_bytes(png_with_exif(test::png_encode(rgb), orientation), "x").pixels;
    const int64_t turned = orientation >= 5 ? 1 : 0;
    ASSERT_EQ(expected.size(3), turned ? 20 : 30) << "OpenCV applies it to a PNG without alpha";
    const DecodedImage with_alpha = read_image_bytes(png_with_exif(test::png_encode(rgba), orientation), "x");
    ASSERT_TRUE(with_alpha.alpha.defined());
    EXPECT_TRUE(torch::equal(with_alpha.pixels, expected));
    // WebP: its EXIF chunk after the image's (RIFF's size grows by the chunk's 8 + 26 bytes).
    std::string oriented_webp = webp + "EXIF" + std::string("\x1a\0\0\0", 4) + exif_with_orientation(orientation);
    const uint32_t riff = static_cast<uint32_t>(oriented_webp.size() - 8);
    for (int k = 0; k < 4; ++k) oriented_webp[4 + k] = static_cast<char>((riff >> (8 * k)) & 0xff);
    const torch::Tensor webp_expected = read_image_bytes(png_with_exif(webp_as_png, orientation), "x").pixels;
    EXPECT_TRUE(torch::equal(read_image_bytes(oriented_webp, "x").pixels, webp_expected));
  }
}

// OpenCV 4.6 reads a grey TIFF with alpha without the alpha: not silently.
TEST(ImageIo, WarnsThatAGreyTiffWithAlphaLosesItsAlpha) {
  TempDir dir;
  test::RawImage grey_alpha;
  grey_alpha.width = 4;
  grey_alpha.height = 2;
  grey_alpha.channels = 2;
  for (int i = 0; i < 8; ++i) {
    grey_alpha.samples.push_back(64);
    grey_alpha.samples.push_back(i < 4 ? 0 : 255);  // the top row transparent
  }
  test::tiff_write(dir.file("ga.tif"), grey_alpha);
  const DecodedImage decoded = read_image(dir.file("ga.tif"), "content image");
  EXPECT_FALSE(decoded.alpha.defined()) << "this OpenCV reads the alpha: the warning is wrong now";
  ASSERT_EQ(decoded.warnings.size(), 1u);
  EXPECT_NE(
      decoded.warnings.front().find("a grey TIFF with alpha, which OpenCV's TIFF decoder reads without its alpha"),
      std::string::npos)
      << decoded.warnings.front();
  // Grey alone: read whole, no warning.
  test::RawImage grey = grey_alpha;
  grey.channels = 1;
  grey.samples.resize(8);
  test::tiff_write(dir.file("grey.tif"), grey);
  EXPECT_TRUE(read_image(dir.file("grey.tif"), "content image").warnings.empty());
}

TEST(ImageIo, ResizesLongestSideKeepingAspect) {
  TempDir dir;
  save_image(test::pattern_image(64, 48, 0.2), dir.file("tall.png"));
  EXPECT_EQ(load_image(dir.file("tall.png"), "test image", 32).sizes(), (std::vector<int64_t>{1, 3, 32, 24}));
  EXPECT_EQ(load_image(dir.file("tall.png"), "test image", 128).sizes(), (std::vector<int64_t>{1, 3, 128, 96}));
  const torch::Tensor small = resize_longest_side(test::pattern_image(64, 48, 0.2), 16);
  EXPECT_EQ(small.sizes(), (std::vector<int64_t>{1, 3, 16, 12}));
}

void expect_image_error(const std::string& path, const std::string& needle) {
  try {
    load_image(path, "style image");
    FAIL() << "expected ImageError for " << path;
  } catch (const ImageError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("style image '" + path + "'"), std::string::npos) << message;
    EXPECT_NE(message.find(needle), std::string::npos) << message;
  }
}

TEST(ImageIo, ExplainsUnreadableFiles) {
  TempDir dir;
  expect_image_error(dir.file("missing.jpg"), "file not found");
  test::write_file(dir.file("empty.png"), "");
  expect_image_error(dir.file("empty.png"), "empty");
  test::write_file(dir.file("text.jpg"), "hello, I am not a picture");
  expect_image_error(dir.file("text.jpg"), "not an image");
  expect_image_error(dir.path().string(), "directory");
  save_image(test::pattern_image(16, 16, 0.3), dir.file("whole.png"));
  const std::string png = test::read_file(dir.file("whole.png"));
  test::write_file(dir.file("truncated.png"), png.substr(0, png.size() / 2));
  // Said before libpng sees it, which would print its own "libpng error" line (issue 19).
  expect_image_error(dir.file("truncated.png"), "the PNG file is truncated (it ends inside a chunk)");
  test::write_file(dir.file("header_only.png"), png.substr(0, 20));
  expect_image_error(dir.file("header_only.png"), "the PNG file is truncated");
}

// The message of the ImageError `read` throws, or "" when it throws none.
std::string image_error(const std::function<void()>& read) { return test::error_message<ImageError>(read); }

// check_image_file says what read_image would, for what it can tell without
// decoding, and leaves the rest to read_image.
TEST(ImageIo, CheckingAFileSaysWhatReadingItWould) {
  TempDir dir;
  test::write_file(dir.file("empty.png"), "");
  test::write_file(dir.file("text.jpg"), "hello, I am not a picture");
  save_image(test::pattern_image(16, 16, 0.3), dir.file("whole.png"));
  save_image(test::pattern_image(16, 16, 0.3), dir.file("whole.jpg"));
  const std::string png = test::read_file(dir.file("whole.png"));
  test::write_file(dir.file("truncated.png"), png.substr(0, png.size() / 2));
  test::write_file(dir.file("huge.png"), png);
  fs::resize_file(dir.file("huge.png"), (uint64_t{3} << 30) / 2);  // sparse: no disk used
  for (const std::string& bad : {dir.file("missing.jpg"), dir.file("empty.png"), dir.file("text.jpg"),
                                 dir.file("huge.png"), dir.path().string()}) {
    const std::string read = image_error([&] { load_image(bad, "style image"); });
    ASSERT_NE(read, "") << bad;
    EXPECT_EQ(image_error([&] { check_image_file(bad, "style image"); }), read);
  }
  for (const std::string& good : {dir.file("whole.png"), dir.file("whole.jpg"), dir.file("truncated.png")}) {
    EXPECT_EQ(image_error([&] { check_image_file(good, "style image"); }), "") << good;
  }
  EXPECT_NE(image_error([&] { load_image(dir.file("truncated.png"), "style image"); }), "");
  // A device is left to read_image, which stops reading an endless one.
  EXPECT_EQ(image_error([&] { check_image_file("/dev/zero", "style image"); }), "");
}

// A JPEG cut short decodes (libjpeg fills the rest with grey), but not silently.
TEST(ImageIo, WarnsOfATruncatedJpeg) {
  TempDir dir;
  save_image(test::pattern_image(64, 64, 0.3), dir.file("whole.jpg"));
  const std::string jpeg = test::read_file(dir.file("whole.jpg"));
  const DecodedImage whole = read_image_bytes(jpeg, "style image 'whole.jpg'");
  EXPECT_TRUE(whole.warnings.empty()) << whole.warnings.front();
  // Bytes after the end-of-image marker (some cameras append data) are no
  // truncation, markers among them included (a phone's Motion Photo appends
  // an MP4, in which 0xFF 0xDA turns up as often as 0xFF 0xD9).
  EXPECT_TRUE(read_image_bytes(jpeg + "trailing bytes", "x").warnings.empty());
  const std::string motion_photo = jpeg + std::string(
                                              "\0\0\0\x18"
                                              "ftypmp42\xFF\xDA\x00\x0C\x03\x01",
                                              18);
  EXPECT_TRUE(read_image_bytes(motion_photo, "x").warnings.empty()) << read_image_bytes(motion_photo, "x").warnings[0];
  // A cut just after the scan's header is a truncation too.
  const std::string early = jpeg.substr(0, jpeg.find("\xFF\xDA") + 40);
  EXPECT_EQ(read_image_bytes(early, "x").warnings.size(), 1u);
  const DecodedImage cut = read_image_bytes(jpeg.substr(0, jpeg.size() * 2 / 3), "style image 'cut.jpg'");
  ASSERT_EQ(cut.warnings.size(), 1u);
  EXPECT_EQ(cut.warnings.front(),
            "style image 'cut.jpg': the JPEG file ends before its end-of-image marker: it is probably truncated (a "
            "copy or download cut short), and the decoder makes up the rows it lacks");
  // The upper rows are the image's; the lower ones are made up by the decoder.
  EXPECT_LT((cut.pixels.select(2, 0) - whole.pixels.select(2, 0)).abs().max().item<float>(), 1e-6f);
  EXPECT_GT((cut.pixels.select(2, 63) - whole.pixels.select(2, 63)).abs().max().item<float>(), 0.05f);
}

void append_be32(std::string& bytes, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) bytes += static_cast<char>((v >> shift) & 0xff);
}

std::string png_chunk(const std::string& type, const std::string& data) {
  std::string chunk;
  append_be32(chunk, static_cast<uint32_t>(data.size()));
  const std::string body = type + data;
  uint32_t crc = 0xffffffffu;
  for (const char c : body) {
    crc ^= static_cast<unsigned char>(c);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  chunk += body;
  append_be32(chunk, ~crc);
  return chunk;
}

std::string png_with_exif(const std::string& png, int orientation) {
  return png.substr(0, 33) + png_chunk("eXIf", exif_with_orientation(orientation)) + png.substr(33);
}

// An 8-bit RGB PNG of the given size without pixel data (an empty zlib stream).
std::string png_header(uint32_t width, uint32_t height) {
  std::string ihdr;
  append_be32(ihdr, width);
  append_be32(ihdr, height);
  ihdr += std::string("\x08\x02\0\0\0", 5);
  return std::string("\x89PNG\r\n\x1a\n", 8) + png_chunk("IHDR", ihdr) +
         png_chunk("IDAT", std::string("\x78\x9c\x03\x00\x00\x00\x00\x01", 8)) + png_chunk("IEND", "");
}

void expect_too_large(const std::string& bytes, const std::string& needle) {
  try {
    decode_image(bytes, "huge image");
    FAIL() << "expected ImageError for " << needle;
  } catch (const ImageError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("huge image"), std::string::npos) << message;
    EXPECT_NE(message.find("too large"), std::string::npos) << message;
    EXPECT_NE(message.find(needle), std::string::npos) << message;
  }
}

TEST(ImageIo, RefusesHugeImagesBeforeAllocatingThem) {
  // Headers claiming 0.4 to 10 gigapixels: refused before their pixels are
  // allocated (2.7 GB for the PNM), with a message saying so.
  expect_too_large("P6\n30000 30000\n255\n" + std::string(12, '\0'), "30000 x 30000 pixels");
  expect_too_large(png_header(30000, 30000), "30000 x 30000 pixels");
  expect_too_large(png_header(100000, 100000), "more than OpenCV accepts");
  expect_too_large(
      "P7\nWIDTH 20000\nHEIGHT 20000\nDEPTH 4\nMAXVAL 255\nTUPLTYPE RGB_ALPHA\nENDHDR\n" + std::string(16, '\0'),
      "20000 x 20000 pixels");
  // The limit is inclusive and applies to what is decoded, whatever the format.
  TempDir dir;
  save_image(test::pattern_image(5, 7, 0.5), dir.file("small.png"));
  const std::string png = test::read_file(dir.file("small.png"));
  EXPECT_EQ(decode_image(png, "small", 35).sizes(), (std::vector<int64_t>{1, 3, 5, 7}));
  try {
    decode_image(png, "small", 34);
    FAIL() << "expected ImageError";
  } catch (const ImageError& e) {
    EXPECT_NE(std::string(e.what()).find("7 x 5 pixels"), std::string::npos) << e.what();
  }
}

TEST(ImageIo, FormatsOpenCvReadsFromFilesLeaveNoTemporaryFile) {
  // OpenCV decodes PFM, Radiance HDR and Sun raster only from a file: it wrote
  // one in /tmp for them and left it behind when the header was malformed.
  TempDir temp;
  const test::ScopedEnv opencv_temp("OPENCV_TEMP_PATH", temp.path().string());
  const test::ScopedEnv tmpdir("TMPDIR", temp.path().string());
  std::string floats;
  for (const float v : {1.0f, 0.5f, 0.0f, 0.25f, 0.75f, 1.0f}) floats.append(reinterpret_cast<const char*>(&v), 4);
  const std::string pfm = "PF\n2 1\n-1.0\n" + floats;
  const std::string hdr =
      "#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 1 +X 2\n" + std::string("\x80\x40\x20\x81\x10\x20\x40\x80", 8);
  const std::string sun =
      std::string("\x59\xa6\x6a\x95\0\0\0\x02\0\0\0\x01\0\0\0\x18\0\0\0\x06\0\0\0\x01\0\0\0\0\0\0\0\0", 32) +
      std::string("\x00\x00\xff\xff\x00\x00", 6);
  for (const std::string& image : {pfm, hdr, sun}) {
    EXPECT_EQ(decode_image(image, "file-only image").sizes(), (std::vector<int64_t>{1, 3, 1, 2})) << image.substr(0, 2);
  }
  EXPECT_NEAR(decode_image(pfm, "pfm")[0][0][0][0].item<float>(), 1.0f, 1e-6);
  for (const std::string& broken : {std::string("Pf\n\xff\xff"), std::string("PF\n2 1\n-1.0\n"),
                                    std::string("#?RADIANCE\n"), std::string("\x59\xa6\x6a\x95\xff\xff\xff\xff", 8)}) {
    EXPECT_THROW(decode_image(broken, "broken image"), ImageError);
  }
  EXPECT_EQ(count_files(temp.path()), 0u);
}

TEST(ImageIo, RefusesDicom) {
  // GDCM, OpenCV's DICOM decoder, aborts the process on some malformed files.
  std::string dicom = std::string(128, '\0') + "DICM" + std::string("\x02\x00\x00\x00UL\x04\x00", 8);
  try {
    decode_image(dicom, "scan");
    FAIL() << "expected ImageError";
  } catch (const ImageError& e) {
    EXPECT_NE(std::string(e.what()).find("DICOM images are not supported"), std::string::npos) << e.what();
  }
  // Other formats are not mistaken for it.
  TempDir dir;
  save_image(test::pattern_image(60, 60, 0.5), dir.file("big.bmp"));
  std::string bmp = test::read_file(dir.file("big.bmp"));
  ASSERT_GT(bmp.size(), 132u);
  bmp.replace(128, 4, "DICM");
  EXPECT_EQ(decode_image(bmp, "bmp").sizes(), (std::vector<int64_t>{1, 3, 60, 60}));
}

TEST(ImageIo, RefusesUnwritableOutputsWithoutLeavingFiles) {
  TempDir dir;
  const torch::Tensor image = test::pattern_image(8, 8, 0.4);
  EXPECT_THROW(save_image(image, dir.file("no/such/dir/out.png")), OutputError);
  EXPECT_THROW(save_image(image, dir.file("out.xyz")), OutputError);
  EXPECT_THROW(check_output_path(dir.path().string()), OutputError);
  EXPECT_EQ(count_files(dir.path()), 0u);
  for (const std::string ext : {".png", ".jpg", ".webp", ".tif", ".bmp"}) {
    save_image(image, dir.file("out" + ext));
    EXPECT_EQ(load_image(dir.file("out" + ext), "output").sizes(), image.sizes()) << ext;
  }
  EXPECT_EQ(count_files(dir.path()), 5u);
}

}  // namespace
}  // namespace stylize
