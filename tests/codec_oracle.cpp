#include "codec_oracle.hpp"

// clang-format off
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <jpeglib.h>
// clang-format on
#include <lcms2.h>
#include <png.h>
#include <tiffio.h>
#include <webp/encode.h>
#include <webp/mux.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace stylize::test {
namespace {

// --- libpng ------------------------------------------------------------------

void png_append(png_structp png, png_bytep data, png_size_t size) {
  static_cast<std::string*>(png_get_io_ptr(png))->append(reinterpret_cast<const char*>(data), size);
}

struct PngSource {
  const std::string* bytes;
  size_t at;
};

void png_take(png_structp png, png_bytep data, png_size_t size) {
  auto* source = static_cast<PngSource*>(png_get_io_ptr(png));
  if (size > source->bytes->size() - source->at) png_error(png, "read past the end");
  std::copy_n(source->bytes->data() + source->at, size, reinterpret_cast<char*>(data));
  source->at += size;
}

// Rows of big-endian samples, as PNG stores them.
std::vector<png_byte> png_rows(const RawImage& image) {
  std::vector<png_byte> rows;
  for (const uint16_t v : image.samples) {
    if (image.bit_depth == 16) rows.push_back(static_cast<png_byte>(v >> 8));
    rows.push_back(static_cast<png_byte>(v & 0xff));
  }
  return rows;
}

// --- libjpeg: errors jump back to the caller ---------------------------------

struct JpegError {
  jpeg_error_mgr manager;
  std::jmp_buf jump;
};

void jpeg_fail(j_common_ptr info) { std::longjmp(reinterpret_cast<JpegError*>(info->err)->jump, 1); }

// --- lcms2 -------------------------------------------------------------------

std::string save_profile(cmsHPROFILE profile) {
  cmsUInt32Number size = 0;
  if (!cmsSaveProfileToMem(profile, nullptr, &size)) throw std::runtime_error("lcms2: cannot save the profile");
  std::string bytes(size, '\0');
  cmsSaveProfileToMem(profile, bytes.data(), &size);
  cmsCloseProfile(profile);
  return bytes;
}

void describe(cmsHPROFILE profile, const char* text) {
  cmsMLU* mlu = cmsMLUalloc(nullptr, 1);
  cmsMLUsetASCII(mlu, "en", "US", text);
  cmsWriteTag(profile, cmsSigProfileDescriptionTag, mlu);
  cmsMLUfree(mlu);
}

cmsToneCurve* srgb_curve() {
  const cmsFloat64Number parameters[5] = {2.4, 1.0 / 1.055, 0.055 / 1.055, 1.0 / 12.92, 0.04045};
  return cmsBuildParametricToneCurve(nullptr, 4, parameters);
}

}  // namespace

std::string png_encode(const RawImage& image) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  std::string out;
  std::vector<png_byte> rows = png_rows(image);
  const size_t stride = rows.size() / image.height;
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    throw std::runtime_error("libpng could not write the test image");
  }
  png_set_write_fn(png, &out, png_append, nullptr);
  constexpr int kColourTypes[] = {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                  PNG_COLOR_TYPE_RGB_ALPHA};
  png_set_IHDR(png, info, image.width, image.height, image.bit_depth, kColourTypes[image.channels - 1],
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (!image.transparent.empty()) {
    png_color_16 colour{};
    colour.gray = image.transparent[0];
    if (image.transparent.size() == 3) {
      colour.red = image.transparent[0];
      colour.green = image.transparent[1];
      colour.blue = image.transparent[2];
    }
    png_set_tRNS(png, info, nullptr, 0, &colour);
  }
  if (!image.icc.empty()) {
    png_set_iCCP(png, info, "test profile", PNG_COMPRESSION_TYPE_BASE,
                 reinterpret_cast<png_const_bytep>(image.icc.data()), static_cast<png_uint_32>(image.icc.size()));
  }
  png_write_info(png, info);
  if (image.bit_depth < 8) png_set_packing(png);  // one sample per byte in, packed in the file
  for (int y = 0; y < image.height; ++y) png_write_row(png, rows.data() + y * stride);
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

RawImage png_decode(const std::string& bytes) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  PngSource source{&bytes, 0};
  RawImage image;
  std::vector<png_byte> rows;
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    throw std::runtime_error("libpng could not read the image");
  }
  png_set_read_fn(png, &source, png_take);
  png_read_info(png, info);
  image.width = static_cast<int>(png_get_image_width(png, info));
  image.height = static_cast<int>(png_get_image_height(png, info));
  image.bit_depth = png_get_bit_depth(png, info);
  image.channels = png_get_channels(png, info);
  png_charp name = nullptr;
  int compression = 0;
  png_bytep profile = nullptr;
  png_uint_32 length = 0;
  if (png_get_iCCP(png, info, &name, &compression, &profile, &length) != 0) {
    image.icc.assign(reinterpret_cast<const char*>(profile), length);
  }
  const size_t stride = png_get_rowbytes(png, info);
  rows.resize(stride * image.height);
  for (int y = 0; y < image.height; ++y) png_read_row(png, rows.data() + y * stride, nullptr);
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  for (size_t i = 0; i < rows.size(); i += image.bit_depth / 8) {
    image.samples.push_back(image.bit_depth == 16 ? static_cast<uint16_t>(rows[i] << 8 | rows[i + 1]) : rows[i]);
  }
  return image;
}

std::string jpeg_encode(const RawImage& image) {
  jpeg_compress_struct info{};
  JpegError error{};
  info.err = jpeg_std_error(&error.manager);
  error.manager.error_exit = jpeg_fail;
  unsigned char* memory = nullptr;
  unsigned long size = 0;
  // No object with a constructor between setjmp and longjmp (-Wclobbered):
  // the row buffer is a plain allocation, freed on both paths.
  const size_t row_size = static_cast<size_t>(image.width) * 3;
  const std::unique_ptr<JSAMPLE[]> row(new JSAMPLE[row_size]);
  if (setjmp(error.jump)) {
    jpeg_destroy_compress(&info);
    std::free(memory);
    throw std::runtime_error("libjpeg could not write the test image");
  }
  jpeg_create_compress(&info);
  jpeg_mem_dest(&info, &memory, &size);
  info.image_width = image.width;
  info.image_height = image.height;
  info.input_components = 3;
  info.in_color_space = JCS_RGB;
  jpeg_set_defaults(&info);
  jpeg_set_quality(&info, 95, TRUE);
  jpeg_start_compress(&info, TRUE);
  if (!image.icc.empty()) {
    jpeg_write_icc_profile(&info, reinterpret_cast<const JOCTET*>(image.icc.data()),
                           static_cast<unsigned int>(image.icc.size()));
  }
  for (int y = 0; y < image.height; ++y) {
    for (size_t i = 0; i < row_size; ++i) row[i] = static_cast<JSAMPLE>(image.samples[y * row_size + i]);
    JSAMPROW rows[1] = {row.get()};
    jpeg_write_scanlines(&info, rows, 1);
  }
  jpeg_finish_compress(&info);
  jpeg_destroy_compress(&info);
  std::string out(reinterpret_cast<const char*>(memory), size);
  std::free(memory);
  return out;
}

std::string jpeg_icc_profile(const std::string& bytes) {
  jpeg_decompress_struct info{};
  JpegError error{};
  info.err = jpeg_std_error(&error.manager);
  error.manager.error_exit = jpeg_fail;
  JOCTET* profile = nullptr;
  unsigned int length = 0;
  if (setjmp(error.jump)) {
    jpeg_destroy_decompress(&info);
    throw std::runtime_error("libjpeg could not read the image");
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  jpeg_save_markers(&info, JPEG_APP0 + 2, 0xffff);
  jpeg_read_header(&info, TRUE);
  std::string icc;
  if (jpeg_read_icc_profile(&info, &profile, &length)) {
    icc.assign(reinterpret_cast<const char*>(profile), length);
    std::free(profile);
  }
  jpeg_destroy_decompress(&info);
  return icc;
}

void tiff_write(const std::string& path, const RawImage& image) {
  TIFF* tiff = TIFFOpen(path.c_str(), "w");
  if (tiff == nullptr) throw std::runtime_error("libtiff cannot create " + path);
  TIFFSetField(tiff, TIFFTAG_IMAGEWIDTH, static_cast<uint32_t>(image.width));
  TIFFSetField(tiff, TIFFTAG_IMAGELENGTH, static_cast<uint32_t>(image.height));
  TIFFSetField(tiff, TIFFTAG_BITSPERSAMPLE, static_cast<uint16_t>(image.bit_depth));
  TIFFSetField(tiff, TIFFTAG_SAMPLESPERPIXEL, static_cast<uint16_t>(image.channels));
  TIFFSetField(tiff, TIFFTAG_PHOTOMETRIC, image.channels <= 2 ? PHOTOMETRIC_MINISBLACK : PHOTOMETRIC_RGB);
  if (image.channels == 2) {  // grey and an (unassociated) alpha
    const uint16_t alpha = EXTRASAMPLE_UNASSALPHA;
    TIFFSetField(tiff, TIFFTAG_EXTRASAMPLES, static_cast<uint16_t>(1), &alpha);
  }
  TIFFSetField(tiff, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
  TIFFSetField(tiff, TIFFTAG_ROWSPERSTRIP, static_cast<uint32_t>(image.height));
  if (!image.icc.empty())
    TIFFSetField(tiff, TIFFTAG_ICCPROFILE, static_cast<uint32_t>(image.icc.size()), image.icc.data());
  const size_t per_row = static_cast<size_t>(image.width) * image.channels;
  std::vector<uint8_t> row(per_row * (image.bit_depth / 8));
  for (int y = 0; y < image.height; ++y) {
    for (size_t i = 0; i < per_row; ++i) {
      const uint16_t v = image.samples[y * per_row + i];
      if (image.bit_depth == 16) {
        std::memcpy(row.data() + 2 * i, &v, 2);  // native byte order, as libtiff expects
      } else {
        row[i] = static_cast<uint8_t>(v);
      }
    }
    if (TIFFWriteScanline(tiff, row.data(), static_cast<uint32_t>(y), 0) < 0) {
      TIFFClose(tiff);
      throw std::runtime_error("libtiff cannot write " + path);
    }
  }
  TIFFClose(tiff);
}

RawImage tiff_read(const std::string& path) {
  TIFF* tiff = TIFFOpen(path.c_str(), "r");
  if (tiff == nullptr) throw std::runtime_error("libtiff cannot open " + path);
  RawImage image;
  uint32_t width = 0, height = 0, length = 0;
  uint16_t bits = 0, samples = 0;
  void* profile = nullptr;
  TIFFGetField(tiff, TIFFTAG_IMAGEWIDTH, &width);
  TIFFGetField(tiff, TIFFTAG_IMAGELENGTH, &height);
  TIFFGetFieldDefaulted(tiff, TIFFTAG_BITSPERSAMPLE, &bits);
  TIFFGetFieldDefaulted(tiff, TIFFTAG_SAMPLESPERPIXEL, &samples);
  if (TIFFGetField(tiff, TIFFTAG_ICCPROFILE, &length, &profile) != 0) {
    image.icc.assign(static_cast<const char*>(profile), length);
  }
  TIFFClose(tiff);
  image.width = static_cast<int>(width);
  image.height = static_cast<int>(height);
  image.bit_depth = bits;
  image.channels = samples;
  return image;
}

std::string webp_encode(const RawImage& image, bool lossless) {
  std::vector<uint8_t> rgb(image.samples.begin(), image.samples.end());
  uint8_t* output = nullptr;
  const size_t size = lossless ? WebPEncodeLosslessRGB(rgb.data(), image.width, image.height, image.width * 3, &output)
                               : WebPEncodeRGB(rgb.data(), image.width, image.height, image.width * 3, 90, &output);
  std::string out(reinterpret_cast<const char*>(output), size);
  WebPFree(output);
  if (size == 0) throw std::runtime_error("libwebp could not write the test image");
  return out;
}

std::string webp_with_icc_profile(const std::string& webp, const std::string& icc) {
  const WebPData data{reinterpret_cast<const uint8_t*>(webp.data()), webp.size()};
  WebPMux* mux = WebPMuxCreate(&data, 1);
  if (mux == nullptr) throw std::runtime_error("libwebpmux cannot parse the WebP file");
  const WebPData chunk{reinterpret_cast<const uint8_t*>(icc.data()), icc.size()};
  WebPData assembled;
  WebPDataInit(&assembled);
  const bool ok =
      WebPMuxSetChunk(mux, "ICCP", &chunk, 1) == WEBP_MUX_OK && WebPMuxAssemble(mux, &assembled) == WEBP_MUX_OK;
  WebPMuxDelete(mux);
  std::string out(reinterpret_cast<const char*>(assembled.bytes), assembled.size);
  WebPDataClear(&assembled);
  if (!ok) throw std::runtime_error("libwebpmux cannot add the ICCP chunk");
  return out;
}

std::string webp_icc_profile(const std::string& webp) {
  const WebPData data{reinterpret_cast<const uint8_t*>(webp.data()), webp.size()};
  WebPMux* mux = WebPMuxCreate(&data, 0);
  if (mux == nullptr) throw std::runtime_error("libwebpmux cannot parse the WebP file");
  WebPData chunk{};
  std::string icc;
  if (WebPMuxGetChunk(mux, "ICCP", &chunk) == WEBP_MUX_OK)
    icc.assign(reinterpret_cast<const char*>(chunk.bytes), chunk.size);
  WebPMuxDelete(mux);
  return icc;
}

std::string display_p3_profile(size_t padding) {
  const cmsCIExyY white = {0.3127, 0.3290, 1.0};
  const cmsCIExyYTRIPLE primaries = {{0.680, 0.320, 1.0}, {0.265, 0.690, 1.0}, {0.150, 0.060, 1.0}};
  cmsToneCurve* curve = srgb_curve();
  cmsToneCurve* curves[3] = {curve, curve, curve};
  cmsHPROFILE profile = cmsCreateRGBProfile(&white, &primaries, curves);
  cmsFreeToneCurve(curve);
  describe(profile, "Display P3 (stylize test)");
  if (padding > 0) {
    const std::string filler(padding, '\x42');
    cmsWriteRawTag(profile, static_cast<cmsTagSignature>(0x70616464), filler.data(),
                   static_cast<cmsUInt32Number>(padding));
  }
  return save_profile(profile);
}

std::string gray_gamma18_profile() {
  cmsToneCurve* curve = cmsBuildGamma(nullptr, 1.8);
  cmsHPROFILE profile = cmsCreateGrayProfile(cmsD50_xyY(), curve);
  cmsFreeToneCurve(curve);
  describe(profile, "Gray gamma 1.8 (stylize test)");
  return save_profile(profile);
}

std::vector<float> lcms_transform(const std::string& from_icc, const std::string& to_icc, const std::vector<float>& in,
                                  int in_channels) {
  cmsHPROFILE from = cmsOpenProfileFromMem(from_icc.data(), static_cast<cmsUInt32Number>(from_icc.size()));
  cmsHPROFILE to = cmsOpenProfileFromMem(to_icc.data(), static_cast<cmsUInt32Number>(to_icc.size()));
  cmsHTRANSFORM transform =
      from && to ? cmsCreateTransform(from, in_channels == 1 ? TYPE_GRAY_FLT : TYPE_RGB_FLT, to, TYPE_RGB_FLT,
                                      INTENT_RELATIVE_COLORIMETRIC, cmsFLAGS_BLACKPOINTCOMPENSATION)
                 : nullptr;
  if (from) cmsCloseProfile(from);
  if (to) cmsCloseProfile(to);
  if (!transform) throw std::runtime_error("lcms2 cannot make the transform");
  const size_t pixels = in.size() / in_channels;
  std::vector<float> out(pixels * 3);
  cmsDoTransform(transform, in.data(), out.data(), static_cast<cmsUInt32Number>(pixels));
  cmsDeleteTransform(transform);
  return out;
}

std::string lab_profile() { return save_profile(cmsCreateLab4Profile(nullptr)); }

std::string lcms_srgb_profile() { return save_profile(cmsCreate_sRGBProfile()); }

std::string lcms_description(const std::string& icc) {
  cmsHPROFILE profile = cmsOpenProfileFromMem(icc.data(), static_cast<cmsUInt32Number>(icc.size()));
  if (profile == nullptr) return "";
  char text[256] = {};
  cmsGetProfileInfoASCII(profile, cmsInfoDescription, "en", "US", text, sizeof text);
  cmsCloseProfile(profile);
  return text;
}

uint32_t crc32_of(const std::string& bytes) {
  return static_cast<uint32_t>(
      crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size())));
}

RawImage chart(int width, int height, int bit_depth, const std::string& icc) {
  std::vector<float> srgb;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      srgb.push_back(0.1f + 0.8f * x / (width - 1));
      srgb.push_back(0.1f + 0.8f * y / (height - 1));
      srgb.push_back(0.1f + 0.8f * static_cast<float>((x + 2 * y) % 7) / 6);
    }
  }
  const std::vector<float> values = icc.empty() ? srgb : lcms_transform(lcms_srgb_profile(), icc, srgb, 3);
  RawImage image;
  image.width = width;
  image.height = height;
  image.bit_depth = bit_depth;
  const double top = bit_depth == 16 ? 65535.0 : 255.0;
  for (const float v : values)
    image.samples.push_back(static_cast<uint16_t>(std::lround(std::clamp(v, 0.f, 1.f) * top)));
  image.icc = icc;
  return image;
}

std::vector<float> normalized(const RawImage& image) {
  std::vector<float> values;
  const float top = image.bit_depth == 16 ? 65535.f : 255.f;
  for (const uint16_t v : image.samples) values.push_back(v / top);
  return values;
}

int max_sample_difference(const RawImage& a, const RawImage& b) {
  if (a.samples.size() != b.samples.size()) {
    throw std::runtime_error("max_sample_difference: " + std::to_string(a.samples.size()) + " samples against " +
                             std::to_string(b.samples.size()));
  }
  int worst = 0;
  for (size_t i = 0; i < a.samples.size(); ++i) {
    worst = std::max(worst, std::abs(static_cast<int>(a.samples[i]) - static_cast<int>(b.samples[i])));
  }
  return worst;
}

}  // namespace stylize::test
