#include "stylize/io/icc_container.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <optional>
#include <vector>

#include "stylize/errors.hpp"

namespace stylize {
namespace {

// --- bounds-checked reads and byte-order helpers ----------------------------

// Whether b[at, at + n) lies inside the buffer (without overflowing).
bool fits(const std::string& b, uint64_t at, uint64_t n) { return at <= b.size() && n <= b.size() - at; }

uint8_t u8(const std::string& b, size_t at) { return static_cast<uint8_t>(b[at]); }

// An unsigned integer of `n` bytes at `at`; the caller has checked fits(b, at, n).
uint64_t read_uint(const std::string& b, size_t at, int n, bool little) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = v << 8 | u8(b, at + (little ? n - 1 - i : i));
  return v;
}
uint32_t be32(const std::string& b, size_t at) { return static_cast<uint32_t>(read_uint(b, at, 4, false)); }
uint32_t le32(const std::string& b, size_t at) { return static_cast<uint32_t>(read_uint(b, at, 4, true)); }

void append_uint(std::string& out, uint64_t v, int n, bool little) {
  for (int i = 0; i < n; ++i) out += static_cast<char>(v >> (8 * (little ? i : n - 1 - i)) & 0xff);
}
void write_uint(std::string& out, size_t at, uint64_t v, int n, bool little) {
  for (int i = 0; i < n; ++i) out[at + i] = static_cast<char>(v >> (8 * (little ? i : n - 1 - i)) & 0xff);
}

bool has_text(const std::string& b, size_t at, const char* text, size_t n) {
  return fits(b, at, n) && std::memcmp(b.data() + at, text, n) == 0;
}

void check_size(const std::string& icc) {
  if (icc.size() > kMaxIccProfileBytes) {
    throw ImageError("its ICC profile is too large (over " + std::to_string(kMaxIccProfileBytes) + " bytes)");
  }
}

// A run of bytes [begin, end) of a container: a chunk, segment or marker.
struct Unit {
  size_t begin = 0, end = 0;
};

std::string bytes_of(const std::string& b, const Unit& unit) { return b.substr(unit.begin, unit.end - unit.begin); }

// --- PNG: chunks up to the first IDAT ----------------------------------------

constexpr char kPngSignature[] = "\x89PNG\r\n\x1a\n";

// The whole chunks from IHDR up to the first IDAT (profiles must precede it),
// stopping at a chunk the buffer does not hold whole. `stop` is where it stopped.
std::vector<Unit> png_chunks(const std::string& b, size_t& stop) {
  std::vector<Unit> chunks;
  size_t at = 8;
  while (fits(b, at, 12) && !has_text(b, at + 4, "IDAT", 4)) {
    const uint32_t length = be32(b, at);
    if (length > 0x7fffffffu || !fits(b, at + 12, length)) break;
    chunks.push_back({at, at + 12 + length});
    at += 12 + length;
  }
  stop = at;
  return chunks;
}

bool png_chunk_is(const std::string& b, const Unit& chunk, const char* type) {
  return has_text(b, chunk.begin + 4, type, 4);
}

uint32_t png_crc(const char* type_and_data, size_t n) {
  return static_cast<uint32_t>(
      crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(type_and_data), static_cast<uInt>(n)));
}

std::string png_chunk(const std::string& type, const std::string& data) {
  std::string chunk;
  append_uint(chunk, data.size(), 4, false);
  chunk += type + data;
  append_uint(chunk, png_crc(chunk.data() + 4, chunk.size() - 4), 4, false);
  return chunk;
}

// Inflates a zlib stream, refusing more than kMaxIccProfileBytes of output.
std::string inflate_profile(const char* data, size_t size) {
  z_stream stream{};
  if (inflateInit(&stream) != Z_OK) throw ImageError("its ICC profile cannot be decompressed (zlib failed to start)");
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
  stream.avail_in = static_cast<uInt>(size);
  std::string out;
  char buffer[16384];
  int status = Z_OK;
  while (status == Z_OK) {
    stream.next_out = reinterpret_cast<Bytef*>(buffer);
    stream.avail_out = sizeof buffer;
    status = inflate(&stream, Z_NO_FLUSH);
    out.append(buffer, sizeof buffer - stream.avail_out);
    if (out.size() > kMaxIccProfileBytes) status = Z_MEM_ERROR;
  }
  inflateEnd(&stream);
  check_size(out);
  if (status != Z_STREAM_END) throw ImageError("its ICC profile (PNG iCCP chunk) is truncated or corrupt");
  return out;
}

std::string png_profile(const std::string& b) {
  size_t stop = 0;
  for (const Unit& chunk : png_chunks(b, stop)) {
    if (!png_chunk_is(b, chunk, "iCCP")) continue;
    const size_t data = chunk.begin + 8, length = chunk.end - 12 - chunk.begin;
    if (png_crc(b.data() + chunk.begin + 4, length + 4) != be32(b, chunk.end - 4)) {
      throw ImageError("its ICC profile (PNG iCCP chunk) fails its CRC check");
    }
    // A profile name of 1 to 79 bytes, a NUL, the compression method (0: zlib).
    const size_t name_end = b.find('\0', data);
    if (name_end == std::string::npos || name_end == data || name_end - data > 79 || name_end + 2 > data + length ||
        u8(b, name_end + 1) != 0) {
      throw ImageError("its ICC profile (PNG iCCP chunk) has a malformed header");
    }
    return inflate_profile(b.data() + name_end + 2, data + length - (name_end + 2));
  }
  return "";
}

std::string png_embed(const std::string& b, const std::string& icc) {
  size_t stop = 0;
  const std::vector<Unit> chunks = png_chunks(b, stop);
  if (chunks.empty() || !png_chunk_is(b, chunks.front(), "IHDR")) {
    throw OutputError("cannot embed the ICC profile: the encoded PNG does not start with IHDR");
  }
  uLongf size = compressBound(static_cast<uLong>(icc.size()));
  std::string compressed(size, '\0');
  if (compress2(reinterpret_cast<Bytef*>(compressed.data()), &size, reinterpret_cast<const Bytef*>(icc.data()),
                static_cast<uLong>(icc.size()), 9) != Z_OK) {
    throw OutputError("cannot embed the ICC profile: zlib failed to compress it");
  }
  compressed.resize(size);
  std::string out =
      b.substr(0, 8) + bytes_of(b, chunks.front()) + png_chunk("iCCP", std::string("ICC profile\0\0", 13) + compressed);
  for (size_t i = 1; i < chunks.size(); ++i) {
    // An image has one profile; an sRGB chunk would contradict the iCCP chunk.
    if (!png_chunk_is(b, chunks[i], "iCCP") && !png_chunk_is(b, chunks[i], "sRGB")) out += bytes_of(b, chunks[i]);
  }
  return out + b.substr(stop);
}

std::string png_without_profile(const std::string& b) {
  size_t stop = 0;
  const std::vector<Unit> chunks = png_chunks(b, stop);
  const auto is_profile = [&](const Unit& chunk) { return png_chunk_is(b, chunk, "iCCP"); };
  if (std::none_of(chunks.begin(), chunks.end(), is_profile)) return "";
  std::string out = b.substr(0, 8);
  for (const Unit& chunk : chunks) {
    if (!is_profile(chunk)) out += bytes_of(b, chunk);
  }
  return out + b.substr(stop);
}

// --- JPEG: marker segments up to the first scan ------------------------------

constexpr char kIccMarkerId[] = "ICC_PROFILE";   // with its NUL: 12 bytes
constexpr size_t kIccMarkerHeader = 4 + 12 + 2;  // marker, length, identifier, sequence number and count
constexpr size_t kIccMarkerPayload = 65535 - 2 - 14;

// The markers after SOI up to the first SOS or EOI (APP2 profiles precede the
// image data), each with its segment; fill bytes are units of their own. Stops
// at anything that is not a whole marker.
std::vector<Unit> jpeg_units(const std::string& b, size_t& stop) {
  std::vector<Unit> units;
  size_t at = 2;
  while (fits(b, at, 2) && u8(b, at) == 0xff) {
    const uint8_t marker = u8(b, at + 1);
    if (marker == 0xda || marker == 0xd9 || marker == 0x00) break;
    size_t end = at + 2;
    if (marker == 0xff) {
      end = at + 1;                                                   // a fill byte
    } else if (marker != 0x01 && (marker < 0xd0 || marker > 0xd8)) {  // not a marker without a segment
      if (!fits(b, at + 2, 2)) break;
      const size_t length = static_cast<size_t>(read_uint(b, at + 2, 2, false));
      if (length < 2 || !fits(b, at + 2, length)) break;
      end = at + 2 + length;
    }
    units.push_back({at, end});
    at = end;
  }
  stop = at;
  return units;
}

bool is_icc_marker(const std::string& b, const Unit& unit) {
  return unit.end - unit.begin >= kIccMarkerHeader && u8(b, unit.begin + 1) == 0xe2 &&
         has_text(b, unit.begin + 4, kIccMarkerId, sizeof kIccMarkerId);
}

std::string jpeg_profile(const std::string& b) {
  size_t stop = 0;
  std::vector<Unit> parts;
  for (const Unit& unit : jpeg_units(b, stop)) {
    if (is_icc_marker(b, unit)) parts.push_back(unit);
  }
  if (parts.empty()) return "";
  // Each part: sequence number (1-based) and count; together 1..count once each.
  const auto sequence = [&](const Unit& part) { return u8(b, part.begin + 16); };
  const size_t count = u8(b, parts.front().begin + 17);
  std::sort(parts.begin(), parts.end(), [&](const Unit& x, const Unit& y) { return sequence(x) < sequence(y); });
  std::string icc;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts.size() != count || u8(b, parts[i].begin + 17) != count || sequence(parts[i]) != i + 1) {
      throw ImageError("its ICC profile is split over " + std::to_string(parts.size()) +
                       " APP2 markers whose numbers do not fit together (a part is missing or repeated)");
    }
    icc.append(b, parts[i].begin + kIccMarkerHeader, parts[i].end - parts[i].begin - kIccMarkerHeader);
  }
  check_size(icc);
  return icc;
}

std::string jpeg_embed(const std::string& b, const std::string& icc) {
  if (!has_text(b, 0, "\xff\xd8", 2)) throw OutputError("cannot embed the ICC profile: the encoded JPEG has no SOI");
  const size_t count = (icc.size() + kIccMarkerPayload - 1) / kIccMarkerPayload;
  if (count > 255) {
    throw OutputError("cannot embed the ICC profile in a JPEG: it is " + std::to_string(icc.size()) +
                      " bytes, and a JPEG holds at most 255 x 65519; write PNG or TIFF");
  }
  std::string markers;
  for (size_t i = 0; i < count; ++i) {
    const std::string part = icc.substr(i * kIccMarkerPayload, kIccMarkerPayload);
    markers += "\xff\xe2";
    append_uint(markers, 2 + 14 + part.size(), 2, false);
    markers.append(kIccMarkerId, sizeof kIccMarkerId);
    markers += static_cast<char>(i + 1);
    markers += static_cast<char>(count);
    markers += part;
  }
  size_t stop = 0;
  const std::vector<Unit> units = jpeg_units(b, stop);
  std::string out = b.substr(0, 2);
  size_t first = 0;
  // JFIF's APP0 must stay first.
  if (!units.empty() && u8(b, units.front().begin + 1) == 0xe0) out += bytes_of(b, units[first++]);
  out += markers;
  for (size_t i = first; i < units.size(); ++i) {
    if (!is_icc_marker(b, units[i])) out += bytes_of(b, units[i]);
  }
  return out + b.substr(stop);
}

// --- TIFF: tag 34675 of the first image directory ----------------------------

constexpr uint64_t kIccTag = 34675;

struct TiffDirectory {
  bool little = false, big = false;  // byte order; BigTIFF
  uint64_t offset = 0, count = 0;    // where the directory starts; its number of entries
  int count_size() const { return big ? 8 : 2; }
  int entry_size() const { return big ? 20 : 12; }
  int value_size() const { return big ? 8 : 4; }  // a value this small is stored in the entry
  uint64_t entry(uint64_t i) const { return offset + count_size() + i * entry_size(); }
  uint64_t end() const { return entry(count); }  // the next directory's offset follows
};

// The first directory of a TIFF file, with all its entries inside the buffer.
bool tiff_directory(const std::string& b, TiffDirectory& d) {
  if (has_text(b, 0, "II", 2)) {
    d.little = true;
  } else if (!has_text(b, 0, "MM", 2)) {
    return false;
  }
  if (!fits(b, 0, 16)) return false;
  const uint64_t magic = read_uint(b, 2, 2, d.little);
  if (magic == 43) {  // BigTIFF: offset size 8, reserved 0, then the offset
    d.big = true;
    if (read_uint(b, 4, 2, d.little) != 8 || read_uint(b, 6, 2, d.little) != 0) return false;
    d.offset = read_uint(b, 8, 8, d.little);
  } else if (magic == 42) {
    d.offset = read_uint(b, 4, 4, d.little);
  } else {
    return false;
  }
  if (!fits(b, d.offset, d.count_size())) return false;
  d.count = read_uint(b, d.offset, d.count_size(), d.little);
  return d.count <= (b.size() - d.offset) / d.entry_size() && fits(b, d.end(), d.value_size());
}

std::string tiff_profile(const std::string& b) {
  TiffDirectory d;
  if (!tiff_directory(b, d)) return "";
  for (uint64_t i = 0; i < d.count; ++i) {
    const uint64_t entry = d.entry(i);
    if (read_uint(b, entry, 2, d.little) != kIccTag) continue;
    const uint64_t type = read_uint(b, entry + 2, 2, d.little);
    const uint64_t size = read_uint(b, entry + 4, d.value_size(), d.little);
    const uint64_t value = entry + 4 + d.value_size();
    const uint64_t at =
        size <= static_cast<uint64_t>(d.value_size()) ? value : read_uint(b, value, d.value_size(), d.little);
    if ((type != 1 && type != 7) || size > kMaxIccProfileBytes || !fits(b, at, size)) {
      throw ImageError("its ICC profile (TIFF tag 34675) has a bad type, size or offset");
    }
    return b.substr(at, size);
  }
  return "";
}

// Appends a copy of the first directory with the profile's entry (and the
// profile) at the end of the file and points the header at it: every other
// entry keeps its values and offsets, and the old directory is left unused.
std::string tiff_embed(const std::string& b, const std::string& icc) {
  TiffDirectory d;
  if (!tiff_directory(b, d) || d.big) {
    throw OutputError("cannot embed the ICC profile: the encoded TIFF has no readable classic directory");
  }
  std::vector<std::string> entries;
  for (uint64_t i = 0; i < d.count; ++i) {
    if (read_uint(b, d.entry(i), 2, d.little) != kIccTag) entries.push_back(b.substr(d.entry(i), 12));
  }
  std::string out = b;
  if (out.size() % 2 != 0) out += '\0';  // TIFF offsets are even
  std::string icc_entry;
  append_uint(icc_entry, kIccTag, 2, d.little);
  append_uint(icc_entry, 7, 2, d.little);  // UNDEFINED
  append_uint(icc_entry, icc.size(), 4, d.little);
  append_uint(icc_entry, out.size(), 4, d.little);
  out += icc;
  if (out.size() % 2 != 0) out += '\0';
  entries.push_back(icc_entry);
  // Entries are sorted by tag.
  std::stable_sort(entries.begin(), entries.end(), [&](const std::string& x, const std::string& y) {
    return read_uint(x, 0, 2, d.little) < read_uint(y, 0, 2, d.little);
  });
  const size_t directory = out.size();
  append_uint(out, entries.size(), 2, d.little);
  for (const std::string& entry : entries) out += entry;
  out += b.substr(d.end(), 4);  // the next directory
  if (entries.size() > 0xffff || out.size() > UINT32_MAX || icc.size() > UINT32_MAX) {
    throw OutputError("cannot embed the ICC profile: the TIFF file would exceed 4 GB");
  }
  write_uint(out, 4, directory, 4, d.little);
  return out;
}

// --- WebP: RIFF chunks --------------------------------------------------------

// The whole chunks inside the RIFF container, each with its padding byte to an
// even size, stopping at one it does not hold.
std::vector<Unit> webp_chunks(const std::string& b, size_t& stop, size_t& riff_end) {
  std::vector<Unit> chunks;
  riff_end = static_cast<size_t>(std::min<uint64_t>(b.size(), uint64_t{8} + le32(b, 4)));
  size_t at = 12;
  while (at <= riff_end && riff_end - at >= 8) {
    const uint64_t padded = uint64_t{le32(b, at + 4)} + le32(b, at + 4) % 2;
    if (padded > riff_end - at - 8) break;
    chunks.push_back({at, static_cast<size_t>(at + 8 + padded)});
    at = chunks.back().end;
  }
  stop = at;
  return chunks;
}

bool is_webp(const std::string& b) { return has_text(b, 0, "RIFF", 4) && has_text(b, 8, "WEBP", 4); }

std::string webp_profile(const std::string& b) {
  size_t stop = 0, riff_end = 0;
  for (const Unit& chunk : webp_chunks(b, stop, riff_end)) {
    if (!has_text(b, chunk.begin, "ICCP", 4)) continue;
    std::string icc = b.substr(chunk.begin + 8, le32(b, chunk.begin + 4));
    check_size(icc);
    return icc;
  }
  return "";
}

// --- EXIF orientation and TIFF samples ---------------------------------------

// The value of tag `tag` (a SHORT or LONG: its first) in the first directory
// of the TIFF structure `b` (a TIFF file, or an EXIF block), if it has one.
std::optional<uint64_t> first_directory_value(const std::string& b, uint64_t tag) {
  TiffDirectory d;
  if (!tiff_directory(b, d)) return std::nullopt;
  for (uint64_t i = 0; i < d.count; ++i) {
    const uint64_t entry = d.entry(i);
    if (read_uint(b, entry, 2, d.little) != tag) continue;
    const uint64_t type = read_uint(b, entry + 2, 2, d.little), value = entry + 4 + d.value_size();
    if (type == 3) return read_uint(b, value, 2, d.little);
    if (type == 4) return read_uint(b, value, 4, d.little);
    return std::nullopt;
  }
  return std::nullopt;
}

// The EXIF block of a PNG (eXIf chunk) or WebP (EXIF chunk), or "".
std::string exif_block(const std::string& b) {
  size_t stop = 0, riff_end = 0;
  if (has_text(b, 0, kPngSignature, 8)) {
    for (const Unit& chunk : png_chunks(b, stop)) {
      if (png_chunk_is(b, chunk, "eXIf")) return b.substr(chunk.begin + 8, chunk.end - chunk.begin - 12);
    }
  } else if (is_webp(b)) {
    for (const Unit& chunk : webp_chunks(b, stop, riff_end)) {
      if (has_text(b, chunk.begin, "EXIF", 4)) return b.substr(chunk.begin + 8, le32(b, chunk.begin + 4));
    }
  }
  return "";
}

// A VP8X chunk (extended format) for a simple file's VP8 or VP8L bitstream.
std::string vp8x_for(const std::string& b, const Unit& chunk) {
  const size_t data = chunk.begin + 8, size = chunk.end - data;
  uint64_t width = 0, height = 0;
  bool alpha = false;
  if (has_text(b, chunk.begin, "VP8 ", 4) && size >= 10 && has_text(b, data + 3, "\x9d\x01\x2a", 3)) {
    width = read_uint(b, data + 6, 2, true) & 0x3fff;
    height = read_uint(b, data + 8, 2, true) & 0x3fff;
  } else if (has_text(b, chunk.begin, "VP8L", 4) && size >= 5 && u8(b, data) == 0x2f) {
    const uint64_t bits = read_uint(b, data + 1, 4, true);
    width = (bits & 0x3fff) + 1;
    height = (bits >> 14 & 0x3fff) + 1;
    alpha = (bits >> 28 & 1) != 0;
  }
  if (width == 0 || height == 0) {
    throw OutputError("cannot embed the ICC profile: the encoded WebP has no VP8, VP8L or VP8X chunk first");
  }
  std::string vp8x = "VP8X";
  append_uint(vp8x, 10, 4, true);
  vp8x += static_cast<char>(alpha ? 0x10 : 0x00);
  vp8x.append(3, '\0');
  append_uint(vp8x, width - 1, 3, true);
  append_uint(vp8x, height - 1, 3, true);
  return vp8x;
}

std::string webp_embed(const std::string& b, const std::string& icc) {
  size_t stop = 0, riff_end = 0;
  const std::vector<Unit> chunks = is_webp(b) ? webp_chunks(b, stop, riff_end) : std::vector<Unit>{};
  if (chunks.empty()) throw OutputError("cannot embed the ICC profile: the encoded WebP has no chunks");
  std::string out = b.substr(0, 12);
  size_t first = 0;
  if (has_text(b, chunks.front().begin, "VP8X", 4) && chunks.front().end - chunks.front().begin >= 18) {
    out += bytes_of(b, chunks[first++]);
  } else {
    out += vp8x_for(b, chunks.front());
  }
  out[12 + 8] = static_cast<char>(u8(out, 12 + 8) | 0x20);  // the ICC profile flag
  std::string iccp = "ICCP";
  append_uint(iccp, icc.size(), 4, true);
  out += iccp + icc;
  if (icc.size() % 2 != 0) out += '\0';
  for (size_t i = first; i < chunks.size(); ++i) {
    if (!has_text(b, chunks[i].begin, "ICCP", 4)) out += bytes_of(b, chunks[i]);
  }
  out += b.substr(stop, riff_end - stop);
  if (out.size() - 8 > UINT32_MAX) throw OutputError("cannot embed the ICC profile: the WebP would exceed 4 GB");
  write_uint(out, 4, out.size() - 8, 4, true);
  return out;
}

}  // namespace

std::string read_icc_profile(const std::string& encoded) {
  if (has_text(encoded, 0, kPngSignature, 8)) return png_profile(encoded);
  if (has_text(encoded, 0, "\xff\xd8\xff", 3)) return jpeg_profile(encoded);
  if (is_webp(encoded)) return webp_profile(encoded);
  if (has_text(encoded, 0, "II", 2) || has_text(encoded, 0, "MM", 2)) return tiff_profile(encoded);
  return "";
}

int read_exif_orientation(const std::string& encoded) {
  std::string exif = exif_block(encoded);
  if (exif.compare(0, 6, std::string("Exif\0\0", 6)) == 0) exif.erase(0, 6);
  const std::optional<uint64_t> orientation = first_directory_value(exif, 0x0112);
  return orientation && *orientation >= 1 && *orientation <= 8 ? static_cast<int>(*orientation) : 1;
}

bool is_grey_alpha_tiff(const std::string& encoded) {
  return first_directory_value(encoded, 277) == uint64_t{2};  // SamplesPerPixel
}

bool tiff_alpha_is_associated(const std::string& encoded) {
  return first_directory_value(encoded, 338) == uint64_t{1};  // ExtraSamples: associated alpha
}

std::string without_png_profile(const std::string& encoded) {
  return has_text(encoded, 0, kPngSignature, 8) ? png_without_profile(encoded) : "";
}

bool extension_holds_icc_profile(const std::string& extension) {
  static const char* const holding[] = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp"};
  return std::find(std::begin(holding), std::end(holding), extension) != std::end(holding);
}

std::string embed_icc_profile(const std::string& encoded, const std::string& icc) {
  if (icc.empty()) throw OutputError("cannot embed an empty ICC profile");
  if (has_text(encoded, 0, kPngSignature, 8)) return png_embed(encoded, icc);
  if (has_text(encoded, 0, "\xff\xd8", 2)) return jpeg_embed(encoded, icc);
  if (is_webp(encoded)) return webp_embed(encoded, icc);
  if (has_text(encoded, 0, "II", 2) || has_text(encoded, 0, "MM", 2)) return tiff_embed(encoded, icc);
  throw OutputError("cannot embed an ICC profile in this format (PNG, JPEG, TIFF and WebP hold one)");
}

}  // namespace stylize
