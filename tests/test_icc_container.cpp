// The ICC profile reader and writer of src/io/icc_container.cpp, checked
// against the codecs' own libraries (tests/codec_oracle.hpp) and on damaged files.
#include <gtest/gtest.h>

#include <zlib.h>

#include "codec_oracle.hpp"
#include "stylize/errors.hpp"
#include "stylize/io/icc_container.hpp"
#include "stylize/io/image_io.hpp"
#include "test_util.hpp"

namespace stylize {
namespace {

using test::TempDir;

// A test image written by stylize (which tags it sRGB) in the format of `ext`.
std::string encoded(const std::string& ext) {
  TempDir dir;
  save_image(test::pattern_image(12, 16, 0.9), dir.file("image" + ext));
  return test::read_file(dir.file("image" + ext));
}

// The profile as the codec's own library reads it.
std::string oracle_profile(const std::string& ext, const std::string& bytes) {
  if (ext == ".png") return test::png_decode(bytes).icc;
  if (ext == ".jpg") return test::jpeg_icc_profile(bytes);
  if (ext == ".webp") return test::webp_icc_profile(bytes);
  TempDir dir;
  test::write_file(dir.file("image.tif"), bytes);
  return test::tiff_read(dir.file("image.tif")).icc;
}

// Files in the format of `ext` without a profile, written by the codec's own
// library (WebP: a lossy VP8 and a lossless VP8L file).
std::vector<std::string> plain(const std::string& ext) {
  test::RawImage raw;
  raw.width = 16;
  raw.height = 12;
  for (int i = 0; i < 16 * 12 * 3; ++i) raw.samples.push_back(static_cast<uint16_t>(i * 7 % 256));
  if (ext == ".png") return {test::png_encode(raw)};
  if (ext == ".jpg") return {test::jpeg_encode(raw)};
  if (ext == ".webp") return {test::webp_encode(raw, false), test::webp_encode(raw, true)};
  TempDir dir;
  test::tiff_write(dir.file("plain.tif"), raw);
  return {test::read_file(dir.file("plain.tif"))};
}

size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

TEST(IccContainer, EmbedsProfilesTheCodecsReadBack) {
  const std::string large = test::display_p3_profile(70000);  // two APP2 markers in a JPEG
  const std::string small = test::display_p3_profile();
  ASSERT_EQ(small.size() % 2, 0u);
  const std::string odd = small + "!";  // odd sizes need padding in TIFF and WebP
  for (const std::string ext : {".png", ".jpg", ".tif", ".webp"}) {
    std::vector<std::string> originals = plain(ext);
    originals.push_back(encoded(ext));  // with stylize's sRGB profile
    for (const std::string& original : originals) {
      SCOPED_TRACE(ext + ", " + std::to_string(original.size()) + " bytes");
      ASSERT_EQ(read_icc_profile(original), oracle_profile(ext, original));
      const std::string with_large = embed_icc_profile(original, large);
      EXPECT_EQ(read_icc_profile(with_large), large);
      EXPECT_EQ(oracle_profile(ext, with_large), large);
      // Embedding again replaces the profile rather than adding a second one.
      const std::string with_small = embed_icc_profile(with_large, small);
      EXPECT_EQ(read_icc_profile(with_small), small);
      EXPECT_EQ(oracle_profile(ext, with_small), small);
      EXPECT_EQ(read_icc_profile(embed_icc_profile(original, odd)), odd);
      // The pixels still decode, to the same size.
      EXPECT_EQ(decode_image(with_small, "embedded").sizes(), (std::vector<int64_t>{1, 3, 12, 16}));
      if (ext == ".jpg") {
        EXPECT_EQ(count(with_large, "ICC_PROFILE"), 2u);
        EXPECT_EQ(count(with_small, "ICC_PROFILE"), 1u);
      }
      if (ext == ".webp") {
        EXPECT_EQ(with_small.substr(12, 4), "VP8X");
      }
    }
  }
  // And stylize reads what libwebpmux writes.
  EXPECT_EQ(read_icc_profile(test::webp_with_icc_profile(plain(".webp").front(), small)), small);
  EXPECT_EQ(encoded(".bmp").substr(0, 2), "BM");
  EXPECT_THROW(embed_icc_profile(encoded(".bmp"), small), OutputError);
  EXPECT_THROW(embed_icc_profile("not an image", small), OutputError);
}

TEST(IccContainer, FilesWithoutProfilesHaveNone) {
  test::RawImage raw;
  raw.width = 2;
  raw.height = 2;
  raw.samples.assign(12, 100);
  EXPECT_EQ(read_icc_profile(test::png_encode(raw)), "");
  EXPECT_EQ(read_icc_profile(test::jpeg_encode(raw)), "");
  TempDir dir;
  test::tiff_write(dir.file("plain.tif"), raw);
  EXPECT_EQ(read_icc_profile(test::read_file(dir.file("plain.tif"))), "");
  EXPECT_EQ(read_icc_profile(encoded(".bmp")), "");
  EXPECT_EQ(read_icc_profile(""), "");
  EXPECT_EQ(read_icc_profile("\x89PNG\r\n\x1a\n"), "");
}

// What the decoder gets of a PNG: every chunk but the profile, pixels unchanged.
TEST(IccContainer, ThePngDecoderGetsNoProfile) {
  test::RawImage raw;
  raw.width = 3;
  raw.height = 2;
  for (int i = 0; i < 18; ++i) raw.samples.push_back(static_cast<uint16_t>(i * 13));
  raw.icc = test::display_p3_profile();
  const std::string png = test::png_encode(raw);
  ASSERT_EQ(read_icc_profile(png), raw.icc);
  const std::string stripped = without_png_profile(png);
  ASSERT_FALSE(stripped.empty());
  EXPECT_EQ(read_icc_profile(stripped), "");
  const test::RawImage back = test::png_decode(stripped);
  EXPECT_EQ(back.samples, raw.samples);
  EXPECT_EQ(back.width, 3);
  // Nothing to leave out: no profile, or no PNG.
  raw.icc.clear();
  EXPECT_EQ(without_png_profile(test::png_encode(raw)), "");
  EXPECT_EQ(without_png_profile(embed_icc_profile(test::jpeg_encode(raw), test::display_p3_profile())), "");
  EXPECT_EQ(without_png_profile(""), "");
}

std::string chunk(const std::string& type, const std::string& data) {
  std::string out;
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>(data.size() >> shift & 0xff);
  const uint32_t crc = test::crc32_of(type + data);
  out += type + data;
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>(crc >> shift & 0xff);
  return out;
}

std::string compressed(const std::string& bytes) {
  uLongf size = compressBound(static_cast<uLong>(bytes.size()));
  std::string out(size, '\0');
  compress2(reinterpret_cast<Bytef*>(out.data()), &size, reinterpret_cast<const Bytef*>(bytes.data()),
            static_cast<uLong>(bytes.size()), 9);
  out.resize(size);
  return out;
}

// A PNG with an iCCP chunk holding `data` after IHDR.
std::string png_with_iccp(const std::string& data) {
  const std::string png = encoded(".png");
  const std::string plain = png.substr(0, 33) + png.substr(png.find("IDAT") - 4);  // no stylize profile
  return plain.substr(0, 33) + chunk("iCCP", data) + plain.substr(33);
}

void expect_refused(const std::string& bytes, const std::string& needle) {
  try {
    read_icc_profile(bytes);
    FAIL() << "expected ImageError containing '" << needle << "'";
  } catch (const ImageError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(IccContainer, RefusesProfilesThatCannotBeReadWhole) {
  const std::string profile = test::display_p3_profile();
  ASSERT_EQ(read_icc_profile(png_with_iccp(std::string("name\0\0", 6) + compressed(profile))), profile);
  // PNG: a bad CRC, a truncated stream, a zlib bomb, a bad header.
  std::string bad_crc = png_with_iccp(std::string("name\0\0", 6) + compressed(profile));
  bad_crc[33 + 8 + 10] ^= 1;
  expect_refused(bad_crc, "fails its CRC check");
  expect_refused(png_with_iccp(std::string("name\0\0", 6) + compressed(profile).substr(0, 50)), "truncated or corrupt");
  expect_refused(png_with_iccp(std::string("name\0\0", 6) + compressed(std::string(20 << 20, '\0'))), "too large");
  expect_refused(png_with_iccp(std::string("name\0\1", 6) + compressed(profile)), "malformed header");
  expect_refused(png_with_iccp(std::string(100, 'n') + std::string("\0\0", 2) + compressed(profile)),
                 "malformed header");

  // JPEG: parts numbered inconsistently.
  const std::string jpeg = embed_icc_profile(encoded(".jpg"), test::display_p3_profile(70000));
  const size_t second = jpeg.find("ICC_PROFILE", jpeg.find("ICC_PROFILE") + 1);
  std::string repeated = jpeg;
  repeated[second + 12] = 1;  // two parts numbered 1
  expect_refused(repeated, "do not fit together");
  std::string miscounted = jpeg;
  miscounted[second + 13] = 3;  // 3 parts announced, 2 there
  expect_refused(miscounted, "do not fit together");

  // TIFF: the profile's offset points past the end of the file.
  std::string tiff = embed_icc_profile(encoded(".tif"), profile);
  ASSERT_EQ(tiff.substr(0, 2), "II");
  const uint32_t directory = static_cast<unsigned char>(tiff[4]) | static_cast<unsigned char>(tiff[5]) << 8 |
                             static_cast<unsigned char>(tiff[6]) << 16 |
                             static_cast<uint32_t>(static_cast<unsigned char>(tiff[7])) << 24;
  const size_t entries = static_cast<unsigned char>(tiff[directory]) | static_cast<unsigned char>(tiff[directory + 1])
                                                                           << 8;
  const size_t last = directory + 2 + (entries - 1) * 12;  // tag 34675 sorts last
  ASSERT_EQ(static_cast<unsigned char>(tiff[last]) | static_cast<unsigned char>(tiff[last + 1]) << 8, 34675);
  tiff.replace(last + 8, 4, "\xf0\xff\xff\x7f");
  expect_refused(tiff, "bad type, size or offset");

  // WebP: a chunk that runs past the end of the file is not read.
  std::string webp = embed_icc_profile(encoded(".webp"), profile);
  const size_t iccp = webp.find("ICCP");
  webp.replace(iccp + 4, 4, "\xff\xff\xff\x00");
  EXPECT_EQ(read_icc_profile(webp), "");
}

}  // namespace
}  // namespace stylize
