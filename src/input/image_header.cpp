#include "input/image_header.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>

#include "xai/error.hpp"

namespace xai {
namespace {

// Bounds-checked little/big-endian reads: a header is untrusted, every offset may point anywhere.
struct Bytes {
  const std::string& s;
  bool has(uint64_t at, uint64_t n) const { return at <= s.size() && n <= s.size() - at; }
  unsigned u8(uint64_t at) const { return has(at, 1) ? static_cast<unsigned char>(s[at]) : 0u; }
  uint32_t u16(uint64_t at, bool little) const {
    if (!has(at, 2)) return 0;
    return little ? u8(at) | (u8(at + 1) << 8) : (u8(at) << 8) | u8(at + 1);
  }
  uint32_t u32(uint64_t at, bool little) const {
    if (!has(at, 4)) return 0;
    return little ? u16(at, true) | (u16(at + 2, true) << 16) : (u16(at, false) << 16) | u16(at + 2, false);
  }
  uint64_t u64(uint64_t at, bool little) const {
    if (!has(at, 8)) return 0;
    const uint64_t a = u32(at, little), b = u32(at + 4, little);
    return little ? a | (b << 32) : (a << 32) | b;
  }
  bool starts(uint64_t at, const char* magic, size_t n) const { return has(at, n) && s.compare(at, n, magic, n) == 0; }
};

// --- TIFF (also the layout of EXIF blocks) ------------------------------------------------------

struct TiffFields {
  uint64_t width = 0, height = 0;
  int bits = 0, samples = 1, sample_format = 1, photometric = -1, orientation = 0;
  bool has_extra_samples = false, next_ifd = false, ok = false;
};

// The first IFD of a TIFF structure starting at `base`.
TiffFields read_tiff_ifd(const Bytes& b, uint64_t base) {
  TiffFields f;
  if (!b.has(base, 8)) return f;
  const bool little = b.starts(base, "II", 2);
  if (!little && !b.starts(base, "MM", 2)) return f;
  const uint32_t magic = b.u16(base + 2, little);
  const bool big = magic == 43;
  if (magic != 42 && !big) return f;
  const uint64_t ifd = base + (big ? b.u64(base + 8, little) : b.u32(base + 4, little));
  const uint64_t count = big ? b.u64(ifd, little) : b.u16(ifd, little);
  const uint64_t entry_size = big ? 20 : 12, first = ifd + (big ? 8 : 2);
  if (count == 0 || count > 4096 || !b.has(first, count * entry_size)) return f;
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t e = first + i * entry_size;
    const uint32_t tag = b.u16(e, little), type = b.u16(e + 2, little);
    const uint64_t n = big ? b.u64(e + 4, little) : b.u32(e + 4, little);
    const uint64_t field = e + (big ? 12 : 8);
    const unsigned size = type == 3 ? 2 : type == 4 ? 4 : type == 16 ? 8 : type == 1 ? 1 : 0;
    if (size == 0 || n == 0) continue;
    // Values that do not fit in the entry live at an offset (from the TIFF structure's start).
    const uint64_t inline_room = big ? 8 : 4;
    uint64_t at = field;
    if (n * size > inline_room) at = base + (big ? b.u64(field, little) : b.u32(field, little));
    auto value = [&](uint64_t k) -> uint64_t {
      const uint64_t p = at + k * size;
      return size == 1 ? b.u8(p) : size == 2 ? b.u16(p, little) : size == 4 ? b.u32(p, little) : b.u64(p, little);
    };
    switch (tag) {
      case 256: f.width = value(0); break;
      case 257: f.height = value(0); break;
      case 258: {
        uint64_t most = 0;  // the widest sample decides the decoded depth
        for (uint64_t k = 0; k < std::min<uint64_t>(n, 16); ++k) most = std::max(most, value(k));
        f.bits = static_cast<int>(std::min<uint64_t>(most, 1024));
        break;
      }
      case 262: f.photometric = static_cast<int>(std::min<uint64_t>(value(0), 1024)); break;
      case 274: f.orientation = static_cast<int>(std::min<uint64_t>(value(0), 1024)); break;
      case 277: f.samples = static_cast<int>(std::min<uint64_t>(value(0), 1024)); break;
      case 338: f.has_extra_samples = true; break;
      case 339: f.sample_format = static_cast<int>(std::min<uint64_t>(value(0), 1024)); break;
      default: break;
    }
  }
  const uint64_t next_at = first + count * entry_size;
  f.next_ifd = (big ? b.u64(next_at, little) : b.u32(next_at, little)) != 0;
  f.ok = true;
  return f;
}

void read_tiff(const Bytes& b, ImageHeader& h) {
  const TiffFields f = read_tiff_ifd(b, 0);
  if (!f.ok) return;
  h.width = f.width;
  h.height = f.height;
  h.bits_per_sample = f.bits == 0 ? 1 : f.bits;
  h.floating_point = f.sample_format == 3;
  // OpenCV gives 1, 3 or 4 channels: palette (3) and YCbCr/CMYK become colour.
  h.channels = f.samples >= 4 ? 4 : f.samples >= 3 || f.photometric == 3 ? 3 : f.samples == 2 ? 2 : 1;
  h.more_frames = f.next_ifd;
  h.exif_orientation = f.orientation;
}

// --- JPEG -----------------------------------------------------------------------------------------

void read_jpeg(const Bytes& b, ImageHeader& h) {
  h.bits_per_sample = 8;
  uint64_t at = 2;
  while (b.has(at, 4)) {
    if (b.u8(at) != 0xFF) return;  // not at a marker: damaged header
    const unsigned marker = b.u8(at + 1);
    if (marker == 0xFF) {  // fill byte
      ++at;
      continue;
    }
    if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {
      at += 2;
      continue;
    }
    if (marker == 0xDA || marker == 0xD9) return;  // start of scan / end: the header is over
    const uint32_t length = b.u16(at + 2, false);
    if (length < 2) return;
    const uint64_t data = at + 4;
    const bool is_sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (is_sof && b.has(data, 6)) {
      h.bits_per_sample = static_cast<int>(b.u8(data));
      h.height = b.u16(data + 1, false);
      h.width = b.u16(data + 3, false);
      const unsigned components = b.u8(data + 5);
      h.channels = components == 1 ? 1 : 3;  // CMYK is converted to BGR
    }
    if (marker == 0xE1 && b.starts(data, "Exif\0\0", 6)) {
      const TiffFields exif = read_tiff_ifd(b, data + 6);
      if (exif.ok) h.exif_orientation = exif.orientation;
    }
    at += 2 + length;
  }
}

// --- PNG ------------------------------------------------------------------------------------------

uint32_t png_crc32(const unsigned char* data, size_t n) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) c = table[(c ^ data[i]) & 0xFFu] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

const char kPngSignature[8] = {'\x89', 'P', 'N', 'G', '\r', '\n', '\x1a', '\n'};

void read_png(const Bytes& b, ImageHeader& h) {
  if (!b.starts(12, "IHDR", 4) || !b.has(16, 10)) return;
  h.width = b.u32(16, false);
  h.height = b.u32(20, false);
  h.bits_per_sample = static_cast<int>(b.u8(24));
  const unsigned colour = b.u8(25);
  bool transparency = false;
  // Walk the chunks (lengths only; CRCs are checked before decoding) for tRNS, acTL and eXIf.
  uint64_t at = 8;
  for (int chunks = 0; chunks < 100000 && b.has(at, 12); ++chunks) {
    const uint64_t length = b.u32(at, false);
    if (b.starts(at + 4, "tRNS", 4)) transparency = true;
    if (b.starts(at + 4, "acTL", 4)) h.more_frames = true;
    if (b.starts(at + 4, "eXIf", 4)) {
      const TiffFields exif = read_tiff_ifd(b, at + 8);
      if (exif.ok) h.exif_orientation = exif.orientation;
    }
    if (b.starts(at + 4, "IDAT", 4) || b.starts(at + 4, "IEND", 4)) break;
    at += 12 + length;
  }
  switch (colour) {
    case 0: h.channels = transparency ? 2 : 1; break;
    case 2: h.channels = transparency ? 4 : 3; break;
    case 3: h.channels = transparency ? 4 : 3; break;
    case 4: h.channels = 2; break;
    case 6: h.channels = 4; break;
    default: h.channels = 4; break;
  }
  if (colour == 3) h.bits_per_sample = 8;  // palette indices expand to 8-bit colour
}

// --- BMP, PNM, WebP -------------------------------------------------------------------------------

void read_bmp(const Bytes& b, ImageHeader& h) {
  const uint32_t dib = b.u32(14, true);
  int bits = 0;
  if (dib == 12) {
    h.width = b.u16(18, true);
    h.height = b.u16(20, true);
    bits = static_cast<int>(b.u16(24, true));
  } else if (dib >= 40) {
    const int32_t w = static_cast<int32_t>(b.u32(18, true)), ht = static_cast<int32_t>(b.u32(22, true));
    h.width = w > 0 ? static_cast<uint64_t>(w) : 0;
    h.height = ht == INT32_MIN ? 0 : static_cast<uint64_t>(ht < 0 ? -static_cast<int64_t>(ht) : ht);
    bits = static_cast<int>(b.u16(28, true));
  }
  h.bits_per_sample = 8;
  h.channels = bits == 32 ? 4 : 3;
}

// Netpbm: "P<n>" then width, height and (except for bitmaps) maxval, separated by whitespace and
// '#' comments. PAM ("P7") uses WIDTH/HEIGHT/DEPTH/MAXVAL lines.
void read_pnm(const Bytes& b, ImageHeader& h) {
  const char kind = static_cast<char>(b.u8(1));
  uint64_t at = 2;
  auto next_token = [&]() -> std::string {
    while (b.has(at, 1)) {
      const char c = static_cast<char>(b.u8(at));
      if (c == '#') {
        while (b.has(at, 1) && b.u8(at) != '\n') ++at;
      } else if (std::isspace(static_cast<unsigned char>(c))) {
        ++at;
      } else {
        break;
      }
    }
    std::string token;
    while (b.has(at, 1) && token.size() < 24 && !std::isspace(static_cast<int>(b.u8(at))) && b.u8(at) != '#')
      token += static_cast<char>(b.u8(at++));
    return token;
  };
  auto number = [](const std::string& t) -> uint64_t {
    if (t.empty() || t.size() > 12 || !std::all_of(t.begin(), t.end(), ::isdigit)) return 0;
    return std::stoull(t);
  };
  if (kind == '7') {
    uint64_t depth = 0, maxval = 0;
    for (int i = 0; i < 64; ++i) {
      const std::string key = next_token();
      if (key.empty() || key == "ENDHDR") break;
      if (key == "TUPLTYPE") continue;
      const uint64_t v = number(next_token());
      if (key == "WIDTH") h.width = v;
      if (key == "HEIGHT") h.height = v;
      if (key == "DEPTH") depth = v;
      if (key == "MAXVAL") maxval = v;
    }
    h.channels = depth >= 3 ? 3 : 1;
    h.bits_per_sample = maxval > 255 ? 16 : 8;
    return;
  }
  h.width = number(next_token());
  h.height = number(next_token());
  const uint64_t maxval = (kind == '1' || kind == '4') ? 1 : number(next_token());
  h.channels = (kind == '3' || kind == '6') ? 3 : 1;
  h.bits_per_sample = maxval > 255 ? 16 : 8;
}

void read_webp(const Bytes& b, ImageHeader& h) {
  h.bits_per_sample = 8;
  h.channels = 3;
  if (b.starts(12, "VP8 ", 4) && b.u8(23) == 0x9d && b.u8(24) == 0x01 && b.u8(25) == 0x2a) {
    h.width = b.u16(26, true) & 0x3fff;
    h.height = b.u16(28, true) & 0x3fff;
  } else if (b.starts(12, "VP8L", 4) && b.u8(20) == 0x2f) {
    const uint32_t bits = b.u32(21, true);
    h.width = (bits & 0x3fff) + 1;
    h.height = ((bits >> 14) & 0x3fff) + 1;
    h.channels = 4;  // lossless WebP may carry alpha; OpenCV then gives BGRA
  } else if (b.starts(12, "VP8X", 4)) {
    const unsigned flags = b.u8(20);
    h.width = (b.u32(24, true) & 0xffffff) + 1;
    h.height = (b.u32(27, true) & 0xffffff) + 1;
    if (flags & 0x10) h.channels = 4;
    h.more_frames = (flags & 0x02) != 0;
  }
}

}  // namespace

uint64_t ImageHeader::decoded_bytes() const {
  const uint64_t pixels = width * height;
  const uint64_t sample_bytes = bits_per_sample <= 8 ? 1 : bits_per_sample <= 16 ? 2 : bits_per_sample <= 32 ? 4 : 8;
  const uint64_t native = pixels * static_cast<uint64_t>(std::max(channels, 1)) * sample_bytes;
  const uint64_t as_float = pixels * (channels == 1 ? 1u : 3u) * 4u;
  return native + as_float;
}

ImageHeader read_image_header(const std::string& bytes) {
  const Bytes b{bytes};
  ImageHeader h;
  auto refuse = [&](const char* name, const std::string& why) {
    h.format_name = name;
    h.refusal = why;
    return h;
  };
  // DICOM first: its 128-byte preamble may itself be a TIFF header (dual-format files).
  if (b.starts(128, "DICM", 4)) {
    return refuse("DICOM", "DICOM is read as an image to explain, not as a mask or region map (use an 8/16-bit PNG)");
  } else if (b.starts(0, kPngSignature, 8)) {
    h.format = ImageFormat::png, h.format_name = "PNG";
    read_png(b, h);
  } else if (b.u8(0) == 0xFF && b.u8(1) == 0xD8 && b.u8(2) == 0xFF) {
    h.format = ImageFormat::jpeg, h.format_name = "JPEG";
    read_jpeg(b, h);
  } else if (b.starts(0, "II*\0", 4) || b.starts(0, "MM\0*", 4) || b.starts(0, "II+\0", 4) ||
             b.starts(0, "MM\0+", 4)) {
    h.format = ImageFormat::tiff, h.format_name = "TIFF";
    read_tiff(b, h);
  } else if (b.starts(0, "BM", 2) && b.has(0, 26)) {
    h.format = ImageFormat::bmp, h.format_name = "BMP";
    read_bmp(b, h);
  } else if (b.u8(0) == 'P' && b.u8(1) >= '1' && b.u8(1) <= '7' && b.has(0, 3) &&
             std::isspace(static_cast<int>(b.u8(2)))) {
    h.format = ImageFormat::pnm, h.format_name = "PNM";
    read_pnm(b, h);
  } else if (b.starts(0, "RIFF", 4) && b.starts(8, "WEBP", 4)) {
    h.format = ImageFormat::webp, h.format_name = "WebP";
    read_webp(b, h);
  } else if (b.starts(0, "GIF87a", 6) || b.starts(0, "GIF89a", 6)) {
    return refuse("GIF", "GIF is not supported (convert to PNG)");
  } else if (b.starts(0, "\0\0\0\x0cjP  \r\n\x87\n", 12) || b.starts(0, "\xff\x4f\xff\x51", 4)) {
    return refuse("JPEG 2000", "JPEG 2000 is not supported (convert to PNG or TIFF)");
  } else if (b.starts(0, "Pf\n", 3) || b.starts(0, "PF\n", 3) || b.starts(0, "Pf\r", 3) || b.starts(0, "PF\r", 3)) {
    return refuse("PFM", "PFM is not supported (convert to 32-bit float TIFF)");
  } else if (b.starts(0, "#?RADIANCE", 10) || b.starts(0, "#?RGBE", 6)) {
    return refuse("Radiance HDR", "Radiance HDR is not supported (convert to 32-bit float TIFF)");
  } else if (b.starts(0, "v/1\x01", 4)) {
    return refuse("OpenEXR", "OpenEXR is not supported (convert to 32-bit float TIFF)");
  } else if (b.starts(4, "ftyp", 4)) {
    return refuse("HEIF/MP4", "HEIF/AVIF and video files are not supported (convert to PNG or JPEG)");
  } else if (b.starts(0, "%PDF", 4)) {
    return refuse("PDF", "a PDF is not an image xai reads (export the page as PNG)");
  } else {
    return refuse("", "not an image xai reads (unknown format; xai reads PNG, JPEG, TIFF, BMP, PNM and WebP)");
  }
  return h;
}

std::string png_bytes_to_decode(const std::string& bytes, const std::string& name) {
  const Bytes b{bytes};
  const bool has_iend = bytes.find("IEND", bytes.size() > 64 ? bytes.size() - 64 : 0) != std::string::npos;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  std::string kept(kPngSignature, 8);
  uint64_t at = 8;
  while (true) {
    // A chunk: 4-byte length, 4-byte type, data, 4-byte CRC of type and data.
    if (!b.has(at, 12) || b.u32(at, false) > bytes.size() - at - 12) {
      if (!has_iend) throw input_error(name + ": truncated PNG (no IEND chunk)");
      throw input_error(name + ": corrupt PNG (a chunk runs past the end of the file)");
    }
    const uint64_t length = b.u32(at, false);
    const std::string type = bytes.substr(at + 4, 4);
    if (!std::all_of(type.begin(), type.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)); }))
      throw input_error(name + ": corrupt PNG (invalid chunk type at byte " + std::to_string(at + 4) + ")");
    if (png_crc32(p + at + 4, length + 4) != b.u32(at + 8 + length, false))
      throw input_error(name + ": corrupt PNG (CRC error in " + type + " chunk at byte " + std::to_string(at) + ")");
    // Critical chunks start with an upper-case letter; tRNS is the one ancillary chunk that changes
    // the pixels (transparency becomes an alpha channel, which xai drops with a warning).
    const bool critical = std::isupper(static_cast<unsigned char>(type[0]));
    if (critical || type == "tRNS") kept.append(bytes, at, 12 + length);
    if (type == "IEND") return kept;  // anything after IEND is ignored, as libpng does
    at += 12 + length;
  }
}

}  // namespace xai
