// Writes a small seed corpus for fuzz_image into the directory given as the
// only argument: tiny images in every format and pixel type OpenCV can encode
// here (8/16-bit and float, grey, colour and alpha, EXIF orientation, ...).
// scripts/fuzz.sh runs it before fuzzing, so no image corpus is committed.
#include <cstdio>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

namespace {

int g_written = 0;

void write_bytes(const std::string& path, const std::vector<uchar>& bytes) {
  FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) return;
  std::fwrite(bytes.data(), 1, bytes.size(), file);
  std::fclose(file);
  ++g_written;
}

// Encodes `image` as `ext` (skipped quietly when this OpenCV cannot).
void save(const std::string& dir, const std::string& name, const std::string& ext, const cv::Mat& image,
          const std::vector<int>& params = {}) {
  std::vector<uchar> bytes;
  try {
    if (!cv::haveImageWriter("x" + ext) || !cv::imencode(ext, image, bytes, params)) return;
  } catch (const cv::Exception&) {
    return;
  }
  write_bytes(dir + "/" + name + ext, bytes);
}

// A w x h image with `channels` channels of `depth`, a smooth gradient.
cv::Mat gradient(int w, int h, int depth, int channels) {
  cv::Mat image(h, w, CV_MAKETYPE(CV_32F, channels));
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      for (int c = 0; c < channels; ++c) {
        image.ptr<float>(y)[x * channels + c] = static_cast<float>((x * (c + 1) + y * (3 - c % 3)) % 16) / 15.0f;
      }
    }
  }
  const double scale = depth == CV_8U ? 255.0 : depth == CV_16U ? 65535.0 : 1.0;
  cv::Mat converted;
  image.convertTo(converted, depth, scale);
  return converted;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const int w = 7, h = 5;
  for (const int channels : {1, 3, 4}) {
    const std::string c = std::to_string(channels) + "c";
    const cv::Mat u8 = gradient(w, h, CV_8U, channels);
    const cv::Mat u16 = gradient(w, h, CV_16U, channels);
    const cv::Mat f32 = gradient(w, h, CV_32F, channels);
    save(dir, "u8_" + c, ".png", u8);
    save(dir, "u16_" + c, ".png", u16);
    save(dir, "u8_" + c, ".bmp", u8);
    save(dir, "u8_" + c, ".tif", u8);
    save(dir, "u16_" + c, ".tif", u16);
    save(dir, "f32_" + c, ".tif", f32);
    save(dir, "u8_" + c, ".webp", u8, {cv::IMWRITE_WEBP_QUALITY, 50});
    save(dir, "u8_lossless_" + c, ".webp", u8, {cv::IMWRITE_WEBP_QUALITY, 101});
    // Without a TUPLTYPE line OpenCV cannot read back the PAM files it writes.
    const int tupltype = channels == 1   ? cv::IMWRITE_PAM_FORMAT_GRAYSCALE
                         : channels == 3 ? cv::IMWRITE_PAM_FORMAT_RGB
                                         : cv::IMWRITE_PAM_FORMAT_RGB_ALPHA;
    save(dir, "u8_" + c, ".pam", u8, {cv::IMWRITE_PAM_TUPLETYPE, tupltype});
    save(dir, "u16_" + c, ".pam", u16, {cv::IMWRITE_PAM_TUPLETYPE, tupltype});
    save(dir, "u8_" + c, ".jp2", gradient(33, 32, CV_8U, channels));  // OpenJPEG's default needs 32 px
    if (channels != 4) {
      save(dir, "u8_" + c, ".jpg", u8, {cv::IMWRITE_JPEG_QUALITY, 50});
      save(dir, "u8_progressive_" + c, ".jpg", u8, {cv::IMWRITE_JPEG_PROGRESSIVE, 1});
      save(dir, "u8_" + c, ".ppm", u8);
      save(dir, "u16_" + c, ".ppm", u16);
      save(dir, "u8_" + c, ".sr", u8);
      save(dir, "f32_" + c, ".pfm", f32);
      save(dir, "f32_" + c, ".hdr", f32);
    }
  }
  save(dir, "u8_ascii", ".pgm", gradient(w, h, CV_8U, 1), {cv::IMWRITE_PXM_BINARY, 0});
  save(dir, "bits", ".pbm", gradient(w, h, CV_8U, 1));
  save(dir, "packbits", ".tif", gradient(w, h, CV_8U, 3), {cv::IMWRITE_TIFF_COMPRESSION, 32773});

  // A JPEG with an EXIF orientation (rotate 90 degrees), as cameras write them.
  std::vector<uchar> jpeg;
  cv::imencode(".jpg", gradient(8, 4, CV_8U, 3), jpeg);
  const unsigned char exif[] = {0xff, 0xe1, 0x00, 0x22, 'E',  'x',  'i',  'f',  0,    0,    'M',  'M',
                                0x00, 0x2a, 0x00, 0x00, 0x00, 0x08, 0x00, 0x01, 0x01, 0x12, 0x00, 0x03,
                                0x00, 0x00, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  jpeg.insert(jpeg.begin() + 2, exif, exif + sizeof exif);
  write_bytes(dir + "/exif_rotated.jpg", jpeg);

  std::printf("make_image_seeds: wrote %d images to %s\n", g_written, dir.c_str());
  return g_written > 0 ? 0 : 1;
}
