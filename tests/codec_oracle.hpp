// Independent writers and readers of images with ICC profiles, for the colour
// management tests: the codecs' own libraries (libpng, libjpeg-turbo, libtiff,
// libwebpmux) and lcms2, so that stylize's container code and conversions are
// checked against code that does not share its assumptions. Each throws
// std::runtime_error when the library reports an error.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace stylize::test {

// Interleaved samples, 8- or 16-bit (grey also 1, 2 or 4-bit), 1 to 4 channels.
struct RawImage {
  int width = 0, height = 0, channels = 3, bit_depth = 8;  // 1, 2 or 4 too, for grey
  std::vector<uint16_t> samples;                           // width * height * channels values, row by row
  std::string icc;                                         // the embedded profile ("" if none)
  std::vector<uint16_t> transparent;  // PNG tRNS: the colour drawn transparent (one value per channel; none if empty)
};

// 1 to 4 channels (grey, grey + alpha, RGB, RGBA); with an iCCP chunk when
// image.icc is set and a tRNS chunk when image.transparent is.
std::string png_encode(const RawImage& image);
RawImage png_decode(const std::string& bytes);  // without colour management

// 8-bit RGB at quality 95; the profile in as many APP2 markers as it needs.
std::string jpeg_encode(const RawImage& image);
std::string jpeg_icc_profile(const std::string& bytes);  // jpeg_read_icc_profile

// Uncompressed; tag 34675 when icc is set; 2 channels: grey and alpha.
void tiff_write(const std::string& path, const RawImage& image);
RawImage tiff_read(const std::string& path);  // bit depth, channels and profile only

std::string webp_encode(const RawImage& image, bool lossless);  // 8-bit RGB, a simple file (VP8 or VP8L)
std::string webp_with_icc_profile(const std::string& webp, const std::string& icc);  // WebPMuxSetChunk
std::string webp_icc_profile(const std::string& webp);                               // WebPMuxGetChunk

// An ICC profile made with lcms2: Display P3 primaries and white (D65) with
// sRGB's tone curve. `padding` bytes of a private tag make it larger (a JPEG
// splits profiles over 65519 bytes across several APP2 markers).
std::string display_p3_profile(size_t padding = 0);
// A grey profile with a gamma 1.8 tone curve.
std::string gray_gamma18_profile();
// lcms2's Lab profile (an abstract profile: it describes no device's colours).
std::string lab_profile();

// lcms2's float transform, relative colorimetric with black-point
// compensation, of interleaved values in [0, 1] (3 or 1 channels in, 3 out).
std::vector<float> lcms_transform(const std::string& from_icc, const std::string& to_icc, const std::vector<float>& in,
                                  int in_channels);
std::string lcms_srgb_profile();
std::string lcms_description(const std::string& icc);  // "" when lcms2 cannot open it

// A w x h RGB chart whose values come from sRGB colours in [0.1, 0.9] (so that
// they stay inside sRGB's gamut when the chart is in Display P3), converted
// into `icc` when it is given (lcms_transform), at `bit_depth` bits, tagged
// with `icc`.
RawImage chart(int width, int height, int bit_depth, const std::string& icc = "");
// The samples of `image` in [0, 1], interleaved.
std::vector<float> normalized(const RawImage& image);
// The largest difference between two images' samples (throws when they are not as many).
int max_sample_difference(const RawImage& a, const RawImage& b);

uint32_t crc32_of(const std::string& bytes);  // zlib's CRC-32, as PNG chunks use it

}  // namespace stylize::test
