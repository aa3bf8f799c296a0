// Finds and embeds ICC profiles in encoded PNG, JPEG, TIFF and WebP files (and
// reads the EXIF orientation and TIFF samples that OpenCV misses).
// OpenCV's imgcodecs neither reads nor writes profiles, so stylize reads them
// from the bytes itself: PNG's iCCP chunk (zlib), JPEG's APP2 "ICC_PROFILE"
// markers (one profile may be split over up to 255 of them), TIFF's tag 34675
// in the first image directory (classic and BigTIFF, either byte order), and
// WebP's ICCP chunk. Every read is bounds-checked against the buffer; the
// fuzz_image target feeds it arbitrary bytes (fuzz/README.md).
#pragma once

#include <cstddef>
#include <string>

namespace stylize {

// Largest ICC profile stylize reads: 16 MB (real profiles, printer profiles
// with large tables included, stay under 10 MB; a JPEG holds at most
// 255 x 65519 bytes).
constexpr size_t kMaxIccProfileBytes = 16 * 1000 * 1000;

// The ICC profile embedded in an encoded image, or "" when it has none (or is
// in another format). Throws ImageError when the container holds a profile
// that cannot be read back whole: a bad checksum, a missing part, a corrupt
// compressed stream, an offset outside the file, more than kMaxIccProfileBytes.
std::string read_icc_profile(const std::string& encoded);

// The EXIF orientation (1-8; 1: as stored) of a PNG (eXIf chunk) or WebP
// (EXIF chunk): tag 0x0112 of the EXIF block's first directory; 1 when there
// is none or the format is another. For the images OpenCV decodes without
// applying it (a PNG with alpha, every WebP). Read here, where the TIFF
// directories and chunks are read already: libexif would be one more library
// for one tag, and OpenCV's EXIF reader is internal.
int read_exif_orientation(const std::string& encoded);

// Whether `encoded` is a TIFF of two samples a pixel (grey and alpha), whose
// alpha OpenCV 4.6's TIFF decoder drops.
bool is_grey_alpha_tiff(const std::string& encoded);

// Whether `encoded` is a TIFF whose extra sample is associated alpha
// (ExtraSamples 1): colours stored multiplied by it.
bool tiff_alpha_is_associated(const std::string& encoded);

// A PNG without its iCCP chunk, for the decoder: stylize reads the profile
// itself (read_icc_profile), and libpng would print lines of its own about
// profiles it dislikes ("libpng warning: iCCP: known incorrect sRGB profile")
// beside stylize's message. "" when there is nothing to leave out (no PNG, or
// no iCCP chunk before the image data).
std::string without_png_profile(const std::string& encoded);

// Whether files with this extension (".png", ".jpg", ...) can carry a profile.
bool extension_holds_icc_profile(const std::string& extension);

// Returns the encoded image with `icc` embedded in it, replacing any profile it
// had (PNG: an iCCP chunk after IHDR, sRGB chunks dropped; JPEG: APP2 markers
// after SOI and JFIF; TIFF: a new first directory with tag 34675, classic TIFF
// only; WebP: an ICCP chunk, turning a simple file into the extended format).
// Throws OutputError when the bytes are not such a file or the profile does
// not fit (JPEG: 255 x 65519 bytes).
std::string embed_icc_profile(const std::string& encoded, const std::string& icc);

}  // namespace stylize
