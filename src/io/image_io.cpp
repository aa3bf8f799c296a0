// Image files in and out through OpenCV: decoding (with its limits and the
// formats refused for safety), encoding, and the output path checks. With the
// video I/O and optical flow (io/video_io.cpp, io/video_writer.cpp, io/flow.cpp)
// the only code of the library that includes OpenCV (cli/figures.cpp draws the
// plot and the contact sheet with it).
#include "stylize/io/image_io.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "io_detail.hpp"
#include "stylize/errors.hpp"
#include "stylize/io/file.hpp"
#include "stylize/io/icc_container.hpp"

namespace stylize {
namespace fs = std::filesystem;

namespace {

bool is_jpeg(const std::string& bytes) {
  return bytes.size() >= 3 && static_cast<unsigned char>(bytes[0]) == 0xFF &&
         static_cast<unsigned char>(bytes[1]) == 0xD8 && static_cast<unsigned char>(bytes[2]) == 0xFF;
}

// OpenCV allocates an image's pixels from the size its header claims before it
// decodes any pixel data, and its own limit (OPENCV_IO_MAX_IMAGE_PIXELS, 2^30
// pixels) is read from the environment once, when the library is loaded. So a
// 20-byte PNM header or a 156-byte JPEG header claiming 30000 x 30000 pixels
// gets 2.7 GB allocated, and a PNG or JPEG that does hold that many pixels of
// one colour compresses to a few megabytes (a decompression bomb), then costs
// four times as much again in stylize's float copies. While an image is
// decoded, every cv::Mat is allocated through this allocator, which refuses one
// of more pixels than the decoding thread allows; other threads and all other
// times are not limited.
struct DecodeLimit {
  int64_t max_pixels = 0;  // 0: no decode running on this thread
  int64_t refused_rows = 0, refused_cols = 0;
};
thread_local DecodeLimit t_decode_limit;

class LimitingAllocator : public cv::MatAllocator {
 public:
  cv::UMatData* allocate(int dims, const int* sizes, int type, void* data, size_t* step, cv::AccessFlag flags,
                         cv::UMatUsageFlags usage) const override {
    DecodeLimit& limit = t_decode_limit;
    if (data == nullptr && limit.max_pixels > 0) {
      int64_t pixels = 1;  // saturates at INT64_MAX
      for (int i = 0; i < dims; ++i) {
        const int64_t size = std::max(sizes[i], 0);
        pixels = size != 0 && pixels > INT64_MAX / size ? INT64_MAX : pixels * size;
      }
      if (pixels > limit.max_pixels) {
        limit.refused_rows = dims >= 1 ? sizes[0] : 0;
        limit.refused_cols = dims >= 2 ? sizes[1] : 1;
        CV_Error(cv::Error::StsNoMem, "image larger than stylize's limit");
      }
    }
    return cv::Mat::getStdAllocator()->allocate(dims, sizes, type, data, step, flags, usage);
  }
  bool allocate(cv::UMatData* data, cv::AccessFlag flags, cv::UMatUsageFlags usage) const override {
    return cv::Mat::getStdAllocator()->allocate(data, flags, usage);
  }
  void deallocate(cv::UMatData* data) const override { cv::Mat::getStdAllocator()->deallocate(data); }
};

// Limits the cv::Mat allocations of this thread to `max_pixels` while in scope.
class ScopedDecodeLimit {
 public:
  explicit ScopedDecodeLimit(int64_t max_pixels) {
    // Never destroyed: OpenCV uses it as its default allocator until exit.
    static std::once_flag installed;
    std::call_once(installed, [] { cv::Mat::setDefaultAllocator(new LimitingAllocator()); });
    t_decode_limit = DecodeLimit{std::max<int64_t>(max_pixels, 1), 0, 0};
  }
  ~ScopedDecodeLimit() { t_decode_limit = DecodeLimit{}; }
  ScopedDecodeLimit(const ScopedDecodeLimit&) = delete;
  ScopedDecodeLimit& operator=(const ScopedDecodeLimit&) = delete;
  // Throws the ImageError for an image refused as too large, if one was.
  void check(const std::string& what) const {
    const DecodeLimit& limit = t_decode_limit;
    if (limit.refused_rows == 0 && limit.refused_cols == 0) return;
    throw too_large(what, std::to_string(limit.refused_cols) + " x " + std::to_string(limit.refused_rows) + " pixels");
  }
  ImageError too_large(const std::string& what, const std::string& size) const {
    char megapixels[64];
    std::snprintf(megapixels, sizeof megapixels, "%.1f", static_cast<double>(t_decode_limit.max_pixels) / 1e6);
    return ImageError("cannot read " + what + ": it is too large (" + size + "; stylize reads images of up to " +
                      megapixels + " megapixels); scale it down first");
  }
};

bool has_at(const std::string& bytes, size_t at, const char* text, size_t length) {
  return bytes.size() >= at + length && std::memcmp(bytes.data() + at, text, length) == 0;
}

// Whether OpenCV 4.6 may choose, by this signature, one of its decoders that
// read only from a file: Radiance HDR, PFM, Sun raster, OpenEXR, DICOM (GDCM),
// NITF and DTED (GDAL). For those, cv::imdecode writes the bytes to a temporary
// file in /tmp and leaves it there when decoding fails with an exception (found
// by fuzz_image: a 109-byte Sun raster file; malformed PFM headers do the same).
// The test is looser than OpenCV's, so that no such input reaches cv::imdecode.
bool needs_file(const std::string& b) {
  return has_at(b, 0, "#?", 2) || (b.size() >= 2 && b[0] == 'P' && (b[1] == 'f' || b[1] == 'F')) ||
         has_at(b, 0, "\x59\xa6\x6a\x95", 4) || has_at(b, 0, "\x76\x2f\x31\x01", 4) || has_at(b, 0, "NITF", 4) ||
         has_at(b, 128, "DICM", 4) || has_at(b, 140, "DTED", 4);
}

bool is_png(const std::string& b) { return has_at(b, 0, "\x89PNG\r\n\x1a\n", 8); }

bool is_tiff(const std::string& b) {
  return has_at(b, 0, "II*\0", 4) || has_at(b, 0, "MM\0*", 4) || has_at(b, 0, "II+\0", 4) || has_at(b, 0, "MM\0+", 4);
}

// Walks a PNG's chunks by their lengths, calling visit(type, data, length)
// (`data`: where the chunk's data starts) for each whole chunk until it
// returns false. Returns false when a chunk's header or data runs past the
// end of the bytes.
template <typename Visit>
bool walk_png_chunks(const std::string& b, const Visit& visit) {
  size_t pos = 8;
  while (pos < b.size()) {
    if (b.size() - pos < 12) return false;  // not even a chunk's length, type and CRC
    const auto byte = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(b[pos + i])); };
    const uint64_t length = (byte(0) << 24) | (byte(1) << 16) | (byte(2) << 8) | byte(3);
    if (length > b.size() - pos - 12) return false;
    if (!visit(std::string_view(b).substr(pos + 4, 4), pos + 8, static_cast<size_t>(length))) return true;
    pos += 12 + static_cast<size_t>(length);
  }
  return true;
}

// Whether a PNG stops inside a chunk before IEND (a download or copy cut
// short); one that ends at a chunk boundary is left to the decoder. libpng
// would print its own "libpng error" line to standard error before OpenCV
// gives up, beside stylize's message.
bool is_truncated_png(const std::string& b) {
  return is_png(b) && !walk_png_chunks(b, [](std::string_view type, size_t, size_t) { return type != "IEND"; });
}

// Whether a JPEG's main image ends before its end-of-image marker: a
// download or copy cut short. libjpeg decodes it all the same, making up the
// blocks after the point where the data stops, and its warning never reaches
// the user (OpenCV drops it), so the image would pass for whole. The walk goes
// segment by segment (an EXIF thumbnail is inside one) and through each
// scan's entropy-coded data, where a 0xFF byte is followed by 0x00 or a
// restart marker, to the first end-of-image marker; what follows it (a phone's
// Motion Photo video, a second picture) is not the image's. A file whose
// structure is not that of a JPEG is left to the decoder.
bool is_truncated_jpeg(const std::string& b) {
  if (!is_jpeg(b)) return false;
  const size_t n = b.size();
  const auto at = [&b](size_t i) { return static_cast<unsigned char>(b[i]); };
  size_t pos = 2;  // after the start-of-image marker
  while (true) {
    if (pos >= n) return true;
    if (at(pos) != 0xFF) return false;
    while (pos < n && at(pos) == 0xFF) ++pos;  // a marker, after any fill bytes
    if (pos >= n) return true;
    const unsigned char code = at(pos++);
    if (code == 0xD9) return false;                                // end of image
    if (code == 0x01 || (code >= 0xD0 && code <= 0xD7)) continue;  // markers without a segment
    if (pos + 2 > n) return true;
    const size_t length = (size_t{at(pos)} << 8) | at(pos + 1);
    if (length < 2) return false;
    pos += length;
    if (code != 0xDA) continue;
    // A scan's data: up to the next marker.
    while (true) {
      const size_t ff = b.find('\xFF', pos);
      if (ff == std::string::npos || ff + 1 >= n) return true;
      const unsigned char next = at(ff + 1);
      if (next == 0x00 || (next >= 0xD0 && next <= 0xD7)) {
        pos = ff + 2;  // a stuffed 0xFF, or a restart marker
      } else if (next == 0xFF) {
        pos = ff + 1;  // a fill byte before a marker
      } else {
        pos = ff;
        break;
      }
    }
  }
}

// Whether a PNG may be transparent: an alpha channel (colour types 4 and 6)
// or a tRNS chunk before the image data. Only then is it decoded a second
// time, with its alpha (an opaque 12-megapixel PNG took 0.8 s per decode).
bool png_may_have_alpha(const std::string& b) {
  bool alpha = false, data = false;
  walk_png_chunks(b, [&](std::string_view type, size_t at, size_t length) {
    if (type == "IHDR" && length >= 13) alpha = (static_cast<unsigned char>(b[at + 9]) & 4) != 0;
    if (type == "tRNS") alpha = true;
    data = type == "IDAT";
    return !alpha && !data;
  });
  return alpha || !data;  // without image data found: left to the decoder as before
}

// A greyscale PNG's transparent grey (its tRNS chunk), scaled as OpenCV
// decodes the samples: 1, 2 and 4-bit grey are widened to 8 bits (v * 255 /
// (2^depth - 1)). OpenCV gives such an image no alpha channel; stylize makes
// it from this value. Empty for any other PNG.
std::optional<uint16_t> png_transparent_grey(const std::string& b) {
  int depth = 0;
  std::optional<uint16_t> grey;
  walk_png_chunks(b, [&](std::string_view type, size_t at, size_t length) {
    const auto byte = [&](size_t i) { return static_cast<unsigned>(static_cast<unsigned char>(b[at + i])); };
    if (type == "IHDR" && length >= 13 && byte(9) == 0) depth = static_cast<int>(byte(8));
    if (type == "tRNS" && depth != 0 && length >= 2) {
      const unsigned value = (byte(0) << 8) | byte(1);
      const unsigned top = (1u << depth) - 1;
      if (value <= top) grey = static_cast<uint16_t>(depth < 8 ? value * 255 / top : value);
    }
    return depth != 0 && !grey && type != "IDAT";
  });
  return grey;
}

// Whether OpenCV would hand the bytes to its DICOM decoder (GDCM): "DICM" at
// offset 128, and none of the formats OpenCV tests first by a fixed prefix.
// Debian's GDCM aborts the whole process (a failed assert) on some malformed
// files (found by fuzz_image: 134 bytes), so stylize refuses DICOM outright.
bool is_dicom(const std::string& b) {
  return has_at(b, 128, "DICM", 4) && !is_png(b) && !is_jpeg(b) && !has_at(b, 0, "BM", 2) &&
         !has_at(b, 0, "II*\0", 4) && !has_at(b, 0, "MM\0*", 4);
}

// A copy of an encoded image in a directory of its own, removed with the object,
// so that OpenCV reads it with cv::imread, which makes no temporary file.
class TemporaryImageFile {
 public:
  TemporaryImageFile(const std::string& bytes, const std::string& what) {
    std::error_code error;
    std::string pattern = (fs::temp_directory_path(error) / "stylize-image-XXXXXX").string();
    if (error || ::mkdtemp(pattern.data()) == nullptr) {
      throw ImageError("cannot read " + what + ": cannot create a temporary file to decode it in (" +
                       std::strerror(errno) + ")");
    }
    dir_ = pattern;
    path_ = (dir_ / "image").string();
    std::ofstream out(path_, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) {
      const std::string reason = std::strerror(errno);
      remove();
      throw ImageError("cannot read " + what + ": cannot write a temporary file to decode it in (" + reason + ")");
    }
  }
  ~TemporaryImageFile() { remove(); }
  TemporaryImageFile(const TemporaryImageFile&) = delete;
  TemporaryImageFile& operator=(const TemporaryImageFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  void remove() {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  fs::path dir_;
  std::string path_;
};

ImageError not_decodable(const std::string& what) {
  return ImageError("cannot read " + what +
                    ": not an image in a format OpenCV can decode (png, jpg, webp, tif, bmp, ...), or truncated");
}

bool is_webp(const std::string& b) { return has_at(b, 0, "RIFF", 4) && has_at(b, 8, "WEBP", 4); }

// Turns decoded samples upright as EXIF orientation `orientation` says, as
// OpenCV's own decoding does where it applies it (its ExifTransform).
void apply_orientation(cv::Mat& image, int orientation) {
  switch (orientation) {
    case 2:
      cv::flip(image, image, 1);
      break;
    case 3:
      cv::flip(image, image, -1);
      break;
    case 4:
      cv::flip(image, image, 0);
      break;
    case 5:
      cv::transpose(image, image);
      break;
    case 6:
      cv::transpose(image, image);
      cv::flip(image, image, 1);
      break;
    case 7:
      cv::transpose(image, image);
      cv::flip(image, image, -1);
      break;
    case 8:
      cv::transpose(image, image);
      cv::flip(image, image, 0);
      break;
    default:
      break;
  }
}

// Refuses, with what to do, files the decoder would misread or fail on
// without saying why.
void refuse_undecodable(const std::string& bytes, const std::string& what) {
  if (bytes.size() > static_cast<size_t>(INT_MAX)) {
    throw ImageError("cannot read " + what + ": the file is larger than 2 GB");
  }
  if (is_dicom(bytes)) {
    throw ImageError("cannot read " + what + ": DICOM images are not supported; convert it to PNG or TIFF first");
  }
  if (is_truncated_png(bytes)) {
    throw ImageError("cannot read " + what +
                     ": the PNG file is truncated (it ends inside a chunk); the copy or "
                     "download may be incomplete");
  }
}

// The file's samples as OpenCV decodes them (any depth; 1, 3 or 4 channels,
// EXIF orientation applied unless the image has alpha), within `max_pixels`.
cv::Mat decode_samples(const std::string& bytes, const std::string& what, int64_t max_pixels) {
  // The profile is read from `bytes` (apply_embedded_profile), not by the decoder.
  const std::string without_profile = without_png_profile(bytes);
  const std::string& decoded = without_profile.empty() ? bytes : without_profile;
  const cv::Mat buffer(1, static_cast<int>(decoded.size()), CV_8U, const_cast<char*>(decoded.data()));
  std::unique_ptr<TemporaryImageFile> file;
  if (needs_file(bytes)) file = std::make_unique<TemporaryImageFile>(bytes, what);
  const auto decode = [&](int flags) { return file ? cv::imread(file->path(), flags) : cv::imdecode(buffer, flags); };
  cv::Mat image;
  const ScopedDecodeLimit limit(max_pixels);
  try {
    // IMREAD_COLOR applies EXIF orientation; IMREAD_UNCHANGED keeps alpha but
    // ignores orientation, so it is only kept for images that have alpha, and
    // a PNG's or WebP's orientation is then applied here. OpenCV 4.6 reads no
    // WebP's EXIF: WebP is always decoded unchanged and oriented here.
    const int oriented = cv::IMREAD_COLOR | cv::IMREAD_ANYDEPTH;
    if (is_jpeg(bytes) || (is_png(bytes) && !png_may_have_alpha(bytes))) {
      image = decode(oriented);
    } else {
      image = decode(cv::IMREAD_UNCHANGED);
      const std::optional<uint16_t> transparent = is_png(bytes) ? png_transparent_grey(bytes) : std::nullopt;
      if (transparent && !image.empty() && image.channels() == 1) {
        // Grey and an alpha of full or none, in the sample's own range.
        cv::Mat alpha_samples = image != *transparent;  // 0 or 255
        if (image.depth() == CV_16U) alpha_samples.convertTo(alpha_samples, CV_16U, 257);
        cv::merge(std::vector<cv::Mat>{image, image, image, alpha_samples}, image);
      } else if (!image.empty() && image.channels() != 4 && !is_webp(bytes)) {
        image = decode(oriented);
      }
      if (!image.empty() && (image.channels() == 4 || is_webp(bytes))) {
        apply_orientation(image, read_exif_orientation(bytes));
      }
    }
  } catch (const cv::Exception& e) {
    limit.check(what);
    // OpenCV's own limits (OPENCV_IO_MAX_IMAGE_WIDTH, _HEIGHT, _PIXELS).
    if (e.err.find("CV_IO_MAX_IMAGE") != std::string::npos) throw limit.too_large(what, "more than OpenCV accepts");
    throw ImageError("cannot read " + what + ": the image data is corrupt (" + e.err + ")");
  }
  // OpenCV swallows exceptions thrown while a decoder reads pixel data.
  limit.check(what);
  if (image.empty() || image.cols < 1 || image.rows < 1) throw not_decodable(what);
  // OpenCV 4.6's PAM reader hands RGB over as it is stored, not as BGR (a red
  // pixel came out blue).
  if (has_at(bytes, 0, "P7", 2) && image.channels() >= 3) {
    cv::cvtColor(image, image, image.channels() == 4 ? cv::COLOR_RGBA2BGRA : cv::COLOR_RGB2BGR);
  }
  return image;
}

// A PNM (PGM, PPM, PAM) file's header maxval; 0 for another format or a bitmap (P1, P4).
long pnm_header_max_value(const std::string& bytes) {
  if (bytes.size() < 3 || bytes[0] != 'P' || !std::strchr("235567", bytes[1]) || bytes[1] == '\0') return 0;
  size_t at = 2;
  // The next token, past whitespace and # comments.
  const auto token = [&]() {
    while (at < bytes.size()) {
      if (bytes[at] == '#') {
        while (at < bytes.size() && bytes[at] != '\n') ++at;
      } else if (std::isspace(static_cast<unsigned char>(bytes[at]))) {
        ++at;
      } else {
        break;
      }
    }
    const size_t start = at;
    while (at < bytes.size() && !std::isspace(static_cast<unsigned char>(bytes[at])) && at - start < 32) ++at;
    return bytes.substr(start, at - start);
  };
  const auto number = [](const std::string& text) {
    return !text.empty() && text.size() <= 9 && text.find_first_not_of("0123456789") == std::string::npos
               ? std::stol(text)
               : 0L;
  };
  if (bytes[1] == '7') {  // PAM: "MAXVAL n" among its header lines, up to ENDHDR
    for (int i = 0; i < 32; ++i) {
      const std::string word = token();
      if (word.empty() || word == "ENDHDR") return 0;
      if (word == "MAXVAL") return number(token());
    }
    return 0;
  }
  token();  // width
  token();  // height
  return number(token());
}

// What a PNM's samples are fractions of where OpenCV hands them over
// unscaled (1023 of a 10-bit PPM came out as 1023 of 65535); 0 for another
// format, a bitmap (P1, P4), or an ASCII file of 8 bits or fewer, which OpenCV
// scales to 255 itself.
long pnm_max_value(const std::string& bytes) {
  const long max_value = pnm_header_max_value(bytes);
  const bool ascii = bytes.size() > 1 && (bytes[1] == '2' || bytes[1] == '3');
  return ascii && max_value <= 255 ? 0 : max_value;
}

// Radiance HDR and OpenEXR hold linear light, not sRGB-encoded values.
bool is_linear_float(const std::string& b) {
  return has_at(b, 0, "#?RADIANCE", 10) || has_at(b, 0, "#?RGBE", 6) || has_at(b, 0, "\x76\x2f\x31\x01", 4);
}

// Linear light in [0, 1] to sRGB's encoding (IEC 61966-2-1), in place.
void encode_srgb(cv::Mat& image) {
  cv::Mat samples = image.reshape(1);  // the same pixels, one sample per column
  for (int y = 0; y < samples.rows; ++y) {
    float* row = samples.ptr<float>(y);
    for (int x = 0; x < samples.cols; ++x) {
      const float c = row[x];
      row[x] = c <= 0.0031308f ? 12.92f * c : 1.055f * std::pow(c, 1.0f / 2.4f) - 0.055f;
    }
  }
}

// Decoded samples as float32 in [0, 1]; sets `bit_depth` to the file's bits
// per channel (8, 16, or 32 for floating point). `max_value`: what the
// format's samples are fractions of, where it is not their type's largest
// (a PNM's maxval); 0 otherwise.
cv::Mat to_unit_float(const cv::Mat& image, const std::string& what, int& bit_depth, long max_value = 0) {
  double scale = 1.0;
  switch (image.depth()) {
    case CV_8U:
      scale = 1.0 / (max_value > 0 && max_value < 255 ? max_value : 255.0);
      bit_depth = 8;
      break;
    case CV_16U:
      scale = 1.0 / (max_value > 255 && max_value < 65535 ? max_value : 65535.0);
      bit_depth = 16;
      break;
    case CV_32F:
    case CV_64F:
      scale = 1.0;
      bit_depth = 32;
      break;
    default:
      throw ImageError("cannot read " + what + ": unsupported pixel type (expected 8-bit, 16-bit or float)");
  }
  cv::Mat converted;
  image.convertTo(converted, CV_32F, scale);
  cv::patchNaNs(converted, 0.0);
  return converted;
}

// Decodes to a 3-channel float32 BGR image in [0, 1], alpha flattened over
// white; sets `bit_depth` to the file's bits per channel (8, 16, or 32 for
// floating point) and `alpha` to the alpha channel (float32), if it has one.
cv::Mat decode_to_bgr_float(const std::string& bytes, const std::string& what, int64_t max_pixels, int& bit_depth,
                            cv::Mat& alpha) {
  refuse_undecodable(bytes, what);
  const long pnm_max = pnm_max_value(bytes);
  cv::Mat converted = to_unit_float(decode_samples(bytes, what, max_pixels), what, bit_depth, pnm_max);
  bool premultiplied = false;
  switch (converted.channels()) {
    case 1:
      cv::cvtColor(converted, converted, cv::COLOR_GRAY2BGR);
      break;
    case 3:
      break;
    case 4: {  // flatten alpha over white
      std::vector<cv::Mat> planes;
      cv::split(converted, planes);
      alpha = cv::min(cv::max(planes[3], 0.0), 1.0);
      cv::Mat inverse = 1.0 - alpha;
      // Colours already multiplied by alpha: an 8-bit TIFF's, which OpenCV
      // reads through libtiff's RGBA interface (it multiplies them), and a
      // TIFF's that stores them so (associated alpha).
      premultiplied = is_tiff(bytes) && (bit_depth == 8 || tiff_alpha_is_associated(bytes));
      for (int c = 0; c < 3; ++c) planes[c] = premultiplied ? planes[c] + inverse : planes[c].mul(alpha) + inverse;
      planes.resize(3);
      cv::merge(planes, converted);
      break;
    }
    default:
      throw ImageError("cannot read " + what + ": it has " + std::to_string(converted.channels()) +
                       " channels (expected 1, 3 or 4)");
  }
  // Integer samples are in [0, 1] already (a PNM's above its maxval, or premultiplied colours above their alpha,
  // aside); floating point ones are clamped, in place: an image of 100 megapixels takes 1.2 GB as float, and each copy
  // as much again.
  if (bit_depth == 32 || pnm_max > 0 || premultiplied) {
    cv::max(converted, 0.0, converted);
    cv::min(converted, 1.0, converted);
  }
  if (is_linear_float(bytes)) encode_srgb(converted);
  return converted;
}

}  // namespace

torch::Tensor detail::bgr_float_to_tensor(const cv::Mat& bgr) {
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  if (!rgb.isContinuous()) rgb = rgb.clone();
  // A copy out of the Mat's memory, always: contiguous() would keep a 1x1
  // image's view (its permuted strides count as contiguous) into freed memory.
  return torch::from_blob(rgb.data, {1, rgb.rows, rgb.cols, 3}, torch::kFloat32)
      .permute({0, 3, 1, 2})
      .clone(torch::MemoryFormat::Contiguous);
}

cv::Mat detail::resize_mat_longest_side(const cv::Mat& image, int longest_side) {
  const int longest = std::max(image.cols, image.rows);
  if (longest_side <= 0 || longest == longest_side) return image;
  const double factor = static_cast<double>(longest_side) / longest;
  const int width = std::max(1, static_cast<int>(std::lround(image.cols * factor)));
  const int height = std::max(1, static_cast<int>(std::lround(image.rows * factor)));
  cv::Mat resized;
  cv::resize(image, resized, cv::Size(width, height), 0, 0, factor < 1 ? cv::INTER_AREA : cv::INTER_CUBIC);
  return cv::min(cv::max(resized, 0.0), 1.0);
}

namespace {

// Decodes, resizes, and converts to sRGB from the file's profile.
DecodedImage decode(const std::string& bytes, const std::string& what, int64_t max_pixels, int longest_side) {
  DecodedImage decoded;
  cv::Mat alpha;
  const cv::Mat bgr = decode_to_bgr_float(bytes, what, max_pixels, decoded.bit_depth, alpha);
  decoded.pixels = detail::bgr_float_to_tensor(detail::resize_mat_longest_side(bgr, longest_side));
  if (!alpha.empty()) {
    cv::Mat grey_bgr;
    cv::cvtColor(detail::resize_mat_longest_side(alpha, longest_side), grey_bgr, cv::COLOR_GRAY2BGR);
    decoded.alpha = detail::bgr_float_to_tensor(grey_bgr).narrow(1, 0, 1).clone();
  }
  if (is_grey_alpha_tiff(bytes)) {
    decoded.warnings.push_back(what +
                               ": a grey TIFF with alpha, which OpenCV's TIFF decoder reads without its alpha (and at "
                               "8 bits): transparent parts keep their grey instead of white; save it as PNG to keep "
                               "them");
  }
  if (is_truncated_jpeg(bytes)) {
    decoded.warnings.push_back(what +
                               ": the JPEG file ends before its end-of-image marker: it is probably truncated (a copy "
                               "or download cut short), and the decoder makes up the rows it lacks");
  }
  apply_embedded_profile(bytes, what, decoded);
  return decoded;
}

}  // namespace

DecodedImage read_image_bytes(const std::string& bytes, const std::string& display_name, int64_t max_pixels) {
  return decode(bytes, display_name, max_pixels, 0);
}

torch::Tensor decode_image(const std::string& bytes, const std::string& display_name, int64_t max_pixels) {
  return read_image_bytes(bytes, display_name, max_pixels).pixels;
}

namespace {

// Largest image file stylize reads, in bytes (1 GiB: an uncompressed 16-bit
// RGB TIFF of kMaxImagePixels is 768 MiB). Reading stops there, so an endless
// input (/dev/zero, a pipe) is refused instead of filling memory.
constexpr uint64_t kMaxImageFileBytes = uint64_t{1} << 30;

ImageError file_too_large(const std::string& what, uint64_t max_bytes) {
  return ImageError("cannot read " + what + ": it is larger than " + std::to_string(max_bytes >> 20) +
                    " MiB, the most stylize reads as an image; is it an image file?");
}

// Opens an image file, refusing a regular file of more than `max_bytes` by its size.
std::ifstream open_image_file(const std::string& path, const std::string& what, uint64_t max_bytes) {
  std::error_code error;
  if (fs::is_regular_file(path, error) && fs::file_size(path, error) > max_bytes && !error) {
    throw file_too_large(what, max_bytes);
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) throw ImageError("cannot read " + what + ": " + std::strerror(errno));
  return file;
}

// The bytes of an image file, refusing more than `max_bytes` while reading.
std::string read_image_file(const std::string& path, const std::string& what, uint64_t max_bytes) {
  std::ifstream file = open_image_file(path, what, max_bytes);
  std::string bytes;
  std::vector<char> buffer(1 << 16);
  while (file) {
    file.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    bytes.append(buffer.data(), static_cast<size_t>(file.gcount()));
    if (bytes.size() > max_bytes) throw file_too_large(what, max_bytes);
  }
  if (file.bad()) throw ImageError("cannot read " + what + ": read error");
  return bytes;
}

// Throws ImageError when `path` names no file, or a folder.
void require_present(const std::string& path, const std::string& what) {
  std::error_code error;
  const bool exists = fs::exists(path, error);
  if (error) throw ImageError("cannot read " + what + ": " + error.message());  // e.g. a symbolic link loop
  if (!exists) throw ImageError("cannot read " + what + ": file not found");
  if (fs::is_directory(path, error)) throw ImageError("cannot read " + what + ": it is a directory, not an image");
}

}  // namespace

DecodedImage read_image(const std::string& path, const std::string& role, int longest_side) {
  const std::string what = role + " '" + path + "'";
  require_present(path, what);
  const std::string bytes = read_image_file(path, what, kMaxImageFileBytes);
  if (bytes.empty()) throw ImageError("cannot read " + what + ": the file is empty");
  return decode(bytes, what, kMaxImagePixels, longest_side);
}

torch::Tensor load_image(const std::string& path, const std::string& role, int longest_side) {
  return read_image(path, role, longest_side).pixels;
}

void check_image_file(const std::string& path, const std::string& role) {
  const std::string what = role + " '" + path + "'";
  require_present(path, what);
  std::error_code error;
  if (!fs::is_regular_file(path, error)) return;  // a pipe or a device: read_image reads it (or refuses it) later
  if (fs::file_size(path, error) == 0 && !error) throw ImageError("cannot read " + what + ": the file is empty");
  open_image_file(path, what, kMaxImageFileBytes);  // readable, and not too large
  bool known = true;
  try {
    known = cv::haveImageReader(path);  // the signature in the file's first bytes
  } catch (const cv::Exception&) {
    return;  // read_image says what is wrong with it
  }
  if (!known) throw not_decodable(what);
}

namespace {

// The extensions stylize writes, and whether OpenCV has an encoder for `path`'s.
// Throws OutputError naming the extensions it can write.
void check_image_extension(const std::string& path, const std::string& what) {
  if (path.empty()) throw OutputError("the " + what + " path is empty; give one such as out.png");
  std::error_code error;
  if (fs::is_directory(path, error) || path.back() == '/') {
    throw OutputError("cannot write " + what + " '" + path +
                      "': it is a directory; give a file name inside it, such as " +
                      (fs::path(path) / "out.png").lexically_normal().string());
  }
  if (image_extension(path).empty()) {
    throw OutputError("cannot write " + what + " '" + path +
                      "': it names no file with an image extension; give one such as out.png (or dir/out.png)");
  }
  check_output_format(path, 1, 1, 8, what);  // a known extension
  if (!cv::haveImageWriter(path)) {
    throw OutputError("cannot write " + what + " '" + path + "': this OpenCV has no encoder for '" +
                      image_extension(path) + "' files; use .png, .jpg or .tif");
  }
}

}  // namespace

void check_output_path(const std::string& path, const std::string& what) {
  check_image_extension(path, what);
  check_writable(path, what, kNameRoom);
}

namespace {

torch::Tensor as_chw(const torch::Tensor& image, const std::string& path) {
  torch::Tensor chw = image.detach();
  if (chw.dim() == 4 && chw.size(0) == 1) chw = chw.squeeze(0);
  if (chw.dim() != 3 || chw.size(0) != 3) {
    throw OutputError("cannot write output '" + path + "': expected a (3, H, W) image tensor, got " +
                      c10::str(image.sizes()));
  }
  return chw;
}

// An 8- or 16-bit BGR Mat of a (3, H, W) image, rounded from float.
cv::Mat tensor_to_bgr(const torch::Tensor& image, const std::string& path, int bit_depth) {
  const torch::Tensor hwc = as_chw(image, path)
                                .to(torch::kCPU, torch::kFloat32)
                                .nan_to_num(0.0)
                                .clamp(0.0, 1.0)
                                .permute({1, 2, 0})
                                .contiguous();
  const cv::Mat rgb(static_cast<int>(hwc.size(0)), static_cast<int>(hwc.size(1)), CV_32FC3, hwc.data_ptr());
  cv::Mat quantized, bgr;
  // Rounds to nearest: 0.5 / 65535 at 16 bits.
  rgb.convertTo(quantized, bit_depth == 16 ? CV_16U : CV_8U, bit_depth == 16 ? 65535.0 : 255.0);
  cv::cvtColor(quantized, bgr, cv::COLOR_RGB2BGR);
  return bgr;
}

// Encodes by extension and embeds `icc` where the format holds a profile.
std::string encode(const cv::Mat& bgr, const std::string& path, const std::string& icc) {
  const std::string ext = image_extension(path);
  std::vector<int> params;
  if (ext == ".jpg" || ext == ".jpeg") params = {cv::IMWRITE_JPEG_QUALITY, 95};
  if (ext == ".webp") params = {cv::IMWRITE_WEBP_QUALITY, 95};
  std::vector<uchar> encoded;
  bool ok = false;
  try {
    ok = cv::imencode(ext, bgr, encoded, params);
  } catch (const cv::Exception& e) {
    throw OutputError("cannot write output '" + path + "': encoding failed (" + e.err + ")");
  }
  if (!ok) throw OutputError("cannot write output '" + path + "': encoding as " + ext + " failed");
  std::string file(encoded.begin(), encoded.end());
  if (!extension_holds_icc_profile(ext)) return file;
  try {
    return embed_icc_profile(file, icc);
  } catch (const OutputError& e) {
    throw OutputError("cannot write output '" + path + "': " + e.what());
  }
}

}  // namespace

cv::Mat detail::tensor_to_bgr8(const torch::Tensor& image, const std::string& path) {
  return tensor_to_bgr(image, path, 8);
}

void save_image(const torch::Tensor& image, const std::string& path, const ImageEncoding& encoding) {
  check_image_extension(path, "output");
  const torch::Tensor chw = as_chw(image, path);
  check_output_format(path, chw.size(2), chw.size(1), encoding.bit_depth);
  const torch::Tensor pixels = convert_from_srgb(chw, encoding.profile);  // unchanged for sRGB
  const std::string file = encode(tensor_to_bgr(pixels, path, encoding.bit_depth), path,
                                  encoding.profile.empty() ? srgb_icc_profile() : encoding.profile.icc);
  write_file_atomically(path, file, "output");
}

bool has_image_extension(const std::string& path) {
  static const std::vector<std::string> known = {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff",
                                                 ".bmp", ".ppm", ".pgm",  ".pnm",  ".exr", ".hdr"};
  return std::find(known.begin(), known.end(), image_extension(path)) != known.end();
}

}  // namespace stylize
