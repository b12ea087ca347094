// DICOM decoding with DCMTK (dicom.hpp, dicom_decoder.hpp). DCMTK parses the file and decompresses
// encapsulated pixel data (JPEG baseline/extended/lossless, JPEG-LS, RLE; deflate is parsed); the
// sample layout, the Modality LUT and the window are applied here, in double precision, following
// PS3.3 C.7.6.3 and C.11.2.1.2 — the same definitions as pydicom's apply_modality_lut/apply_voi_lut,
// which the tests compare against.
#include <dcmtk/config/osconfig.h>  // first, as DCMTK requires
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcstack.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/oflog/oflog.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <atomic>
#include <fstream>
#include <mutex>
#include <unistd.h>

#include "input/dicom_decoder.hpp"
#include "core/text.hpp"
#include "xai/error.hpp"
#include "core/statistics.hpp"

namespace xai {
namespace {

// The bytes in a file of their own while DCMTK reads them (deferred values are read from it later).
struct TemporaryCopy {
  std::string path;
  explicit TemporaryCopy(const std::string& bytes) {
    static std::atomic<unsigned> counter{0};
    path = (std::filesystem::temp_directory_path() /
            ("xai-dicom-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".dcm"))
               .string();
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw output_error(path + ": cannot write a temporary copy of a DICOM file");
  }
  ~TemporaryCopy() {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
  TemporaryCopy(const TemporaryCopy&) = delete;
  TemporaryCopy& operator=(const TemporaryCopy&) = delete;
};

std::string text_of(DcmDataset& data, const DcmTagKey& tag) {
  OFString value;
  if (data.findAndGetOFString(tag, value).bad()) return "";
  std::string text = value.c_str();
  while (!text.empty() && (text.back() == ' ' || text.back() == '\0')) text.pop_back();
  return text;
}

int integer_of(DcmDataset& data, const DcmTagKey& tag, int fallback) {
  Uint16 value = 0;
  if (data.findAndGetUint16(tag, value).good()) return value;
  return fallback;
}

std::optional<double> number_of(DcmDataset& data, const DcmTagKey& tag) {
  Float64 value = 0;
  if (data.findAndGetFloat64(tag, value, 0).good() && std::isfinite(value)) return value;
  return std::nullopt;
}

// The linear VOI function of PS3.3 C.11.2.1.2.1, mapped to [0, 1].
double linear_window(double x, double center, double width) {
  const double low = center - 0.5 - (width - 1) / 2, high = center - 0.5 + (width - 1) / 2;
  if (x <= low) return 0;
  if (x > high) return 1;
  return (x - (center - 0.5)) / (width - 1) + 0.5;
}

// DCMTK allocates an element's declared length before reading its value. From a file it defers values
// over kDeferredBytes until they are used, so a forged length costs nothing while parsing.
constexpr Uint32 kDeferredBytes = 4096;

// Bytes of one uncompressed frame. YBR_FULL_422 (uncompressed) stores two luma samples and one pair of
// chroma samples per two pixels.
size_t native_frame_bytes(const DicomInfo& info, int samples) {
  const size_t pixels = static_cast<size_t>(info.rows) * info.columns;
  const size_t frame_samples = info.photometric == "YBR_FULL_422" ? pixels * 2 : pixels * samples;
  return frame_samples * (info.bits_allocated / 8);
}

// Refuses any element whose declared length the file cannot hold, before a value is used: DCMTK
// would allocate that length when the (deferred) value is read.
void check_declared_lengths(DcmFileFormat& file, size_t file_bytes, const std::string& name) {
  // A deflated dataset can hold more than the file: zlib expands at most 1032 times.
  const uint64_t allowed = static_cast<uint64_t>(file_bytes) *
                           (file.getDataset()->getOriginalXfer() == EXS_DeflatedLittleEndianExplicit ? 1032u : 1u);
  DcmStack stack;
  while (file.nextObject(stack, OFTrue).good()) {
    DcmObject* object = stack.top();
    if (!object || !object->isLeaf()) continue;
    const Uint32 length = object->getLength();
    if (length != DCM_UndefinedLength && length > allowed)
      throw input_error(name + ": not a readable DICOM file (element " + std::string(object->getTag().toString().c_str()) +
                        " declares " + std::to_string(length) + " bytes in a file of " + std::to_string(file_bytes) + ")");
  }
}

// The file's dataset, values over kDeferredBytes left in the file until they are used.
DcmDataset& load_dataset(DcmFileFormat& file, const std::string& path, size_t file_bytes, const std::string& name) {
  const OFCondition read = file.loadFile(path.c_str(), EXS_Unknown, EGL_noChange, kDeferredBytes);
  if (read.bad()) throw input_error(name + ": not a readable DICOM file (" + std::string(read.text()) + ")");
  check_declared_lengths(file, file_bytes, name);
  return *file.getDataset();
}

bool is_colour(const std::string& photometric) {
  return photometric == "RGB" || photometric == "YBR_FULL" || photometric == "YBR_FULL_422";
}

// How the samples are stored: what reading them needs beyond DicomInfo.
struct SampleLayout {
  int high_bit = 0;
  int samples = 1;      // per pixel
  int planar = 0;       // Planar Configuration: 1 = one plane per colour
  bool colour = false;  // RGB or YBR as stored, before any decompression
};

// The header tags into `info` (the report's account) and the sample layout.
SampleLayout read_header(DcmDataset& data, DicomInfo& info) {
  SampleLayout layout;
  info.modality = text_of(data, DCM_Modality);
  info.rows = integer_of(data, DCM_Rows, 0);
  info.columns = integer_of(data, DCM_Columns, 0);
  info.photometric = text_of(data, DCM_PhotometricInterpretation);
  info.bits_allocated = integer_of(data, DCM_BitsAllocated, 0);
  info.bits_stored = integer_of(data, DCM_BitsStored, info.bits_allocated);
  layout.high_bit = integer_of(data, DCM_HighBit, info.bits_stored - 1);
  info.is_signed = integer_of(data, DCM_PixelRepresentation, 0) == 1;
  layout.samples = integer_of(data, DCM_SamplesPerPixel, 1);
  layout.planar = integer_of(data, DCM_PlanarConfiguration, 0);
  const std::string frames_text = text_of(data, DCM_NumberOfFrames);
  info.frames = frames_text.empty() ? 1 : std::max(1, std::atoi(frames_text.c_str()));
  info.transfer_syntax = DcmXfer(data.getOriginalXfer()).getXferName();
  layout.colour = is_colour(info.photometric);
  return layout;
}

// Refuses what xai cannot decode, before any pixel is touched (the size against --max-pixels first).
void check_supported(DcmDataset& data, const DicomInfo& info, const SampleLayout& layout, const std::string& name,
                     long long max_pixels) {
  if (!data.tagExists(DCM_PixelData)) throw input_error(name + ": DICOM file without pixel data (a report or a structured document?)");
  if (info.rows <= 0 || info.columns <= 0) throw input_error(name + ": DICOM file without Rows/Columns");
  if (static_cast<long long>(info.rows) * info.columns > max_pixels)
    throw input_error(name + ": " + std::to_string(info.columns) + "x" + std::to_string(info.rows) +
                      " pixels is over the limit (" + setting_name("max_pixels") + ")");
  if (info.bits_allocated != 8 && info.bits_allocated != 16)
    throw input_error(name + ": DICOM with " + std::to_string(info.bits_allocated) +
                      " bits allocated is not supported (8 or 16)");
  const int high_bit = layout.high_bit;
  if (info.bits_stored < 1 || info.bits_stored > info.bits_allocated || high_bit < info.bits_stored - 1 ||
      high_bit >= info.bits_allocated)
    throw input_error(name + ": inconsistent Bits Stored / High Bit (" + std::to_string(info.bits_stored) + " / " +
                      std::to_string(high_bit) + " of " + std::to_string(info.bits_allocated) + ")");
  const bool monochrome = info.photometric == "MONOCHROME1" || info.photometric == "MONOCHROME2";
  if (!(monochrome && layout.samples == 1) && !(layout.colour && layout.samples == 3))
    throw input_error(name + ": photometric interpretation '" + info.photometric + "' with " +
                      std::to_string(layout.samples) +
                      " sample(s) per pixel is not supported (MONOCHROME1/2, RGB, YBR_FULL, YBR_FULL_422)");
}

// Encapsulated (compressed) pixel data decoded in place to native little-endian samples.
void decompress_pixel_data(DcmDataset& data, DicomInfo& info, const std::string& name) {
  const DcmXfer syntax(data.getOriginalXfer());
  if (!syntax.isEncapsulated()) return;
  const OFCondition decoded = data.chooseRepresentation(EXS_LittleEndianExplicit, nullptr);
  if (decoded.bad() || !data.canWriteXfer(EXS_LittleEndianExplicit))
    throw input_error(name + ": DICOM transfer syntax " + info.transfer_syntax + " (" + syntax.getXferID() +
                      ") cannot be decoded by this build of DCMTK" +
                      (decoded.bad() ? " (" + std::string(decoded.text()) + ")" : ""));
  // The JPEG decoder turns YCbCr into RGB and says so in the dataset.
  info.photometric = text_of(data, DCM_PhotometricInterpretation);
}

// The frame: 1-based; the middle one by default. Under --frames all every frame was counted and
// named: a frame left unnamed is one whose file could not be counted.
void choose_frame(const DicomReading& reading, const std::string& name, DicomInfo& info,
                  std::vector<std::string>& warnings) {
  if (reading.all_frames && reading.frame == 0 && info.frames > 1)
    throw input_error(name + ": " + setting_name("all_frames") + ": the file declares " + std::to_string(info.frames) +
                      " frames, more than its pixel data holds (truncated file?)");
  info.frame = reading.frame > 0 ? reading.frame : (info.frames + 1) / 2;
  if (info.frame > info.frames)
    throw input_error(name + ": " + setting_name("frame") + " " + std::to_string(reading.frame) + ", but the file has " +
                      std::to_string(info.frames) + " frame(s)");
  if (info.frames > 1 && reading.frame == 0)
    warnings.push_back("multi-frame DICOM: explained frame " + std::to_string(info.frame) + " of " +
                       std::to_string(info.frames) + " (the middle one; " + setting_name("frame") + " N chooses)");
}

// The pixel data's bytes, whatever VR it was stored with (8-bit samples may be stored as OW).
const Uint8* pixel_bytes(DcmElement& element, int bits_allocated, const std::string& name) {
  if (bits_allocated == 8) {
    Uint8* values = nullptr;
    if (element.getUint8Array(values).good() && values) return values;
  }
  Uint16* words = nullptr;
  if (element.getUint16Array(words).bad() || !words) throw input_error(name + ": cannot read the pixel data");
  return reinterpret_cast<const Uint8*>(words);
}

// The chosen frame's first byte, after checking that the pixel data holds it.
const Uint8* frame_data(DcmDataset& data, const DicomInfo& info, int samples, const std::string& name) {
  DcmElement* element = nullptr;
  if (data.findAndGetElement(DCM_PixelData, element).bad() || !element)
    throw input_error(name + ": cannot read the pixel data");
  const size_t frame_bytes = native_frame_bytes(info, samples);
  const Uint8* raw = pixel_bytes(*element, info.bits_allocated, name);
  const size_t available = element->getLength();
  if (available < frame_bytes * info.frame)
    throw input_error(name + ": pixel data is " + std::to_string(available) + " bytes, frame " + std::to_string(info.frame) +
                      " needs " + std::to_string(frame_bytes * info.frame) + " (truncated file?)");
  return raw + frame_bytes * (info.frame - 1);
}

// Stored values: Bits Stored below High Bit, sign-extended when Pixel Representation is 1.
struct StoredSamples {
  const Uint8* frame;
  size_t bytes_per_sample;
  int bits_stored, shift;
  uint32_t mask;
  bool is_signed;

  StoredSamples(const Uint8* frame, const DicomInfo& info, int high_bit)
      : frame(frame),
        bytes_per_sample(info.bits_allocated / 8),
        bits_stored(info.bits_stored),
        shift(high_bit + 1 - info.bits_stored),
        mask(info.bits_stored >= 32 ? 0xffffffffu : ((1u << info.bits_stored) - 1u)),
        is_signed(info.is_signed) {}

  double operator()(size_t i) const {
    uint32_t v = bytes_per_sample == 1 ? frame[i] : reinterpret_cast<const Uint16*>(frame)[i];
    v = (v >> shift) & mask;
    if (is_signed && (v >> (bits_stored - 1)) & 1u) return static_cast<double>(v) - std::ldexp(1.0, bits_stored);
    return static_cast<double>(v);
  }
};

// A colour image in BGR, [0, 1]: the samples de-interleaved, YBR_FULL turned into RGB.
cv::Mat colour_image(const StoredSamples& sample, const DicomInfo& info, int planar) {
  const size_t pixels = static_cast<size_t>(info.rows) * info.columns;
  const bool subsampled = info.photometric == "YBR_FULL_422";
  const double full = std::ldexp(1.0, info.bits_stored) - 1;
  cv::Mat bgr(info.rows, info.columns, CV_32FC3);
  for (size_t p = 0; p < pixels; ++p) {
    double c0, c1, c2;
    if (subsampled) {
      const size_t pair = p / 2 * 4;
      c0 = sample(pair + p % 2), c1 = sample(pair + 2), c2 = sample(pair + 3);
    } else if (planar == 1) {
      c0 = sample(p), c1 = sample(pixels + p), c2 = sample(2 * pixels + p);
    } else {
      c0 = sample(3 * p), c1 = sample(3 * p + 1), c2 = sample(3 * p + 2);
    }
    double r = c0, g = c1, b = c2;
    if (info.photometric != "RGB") {  // YBR_FULL (PS3.3 C.7.6.3.1.2), full-range JPEG equations
      const double half = (full + 1) / 2;
      r = c0 + 1.402 * (c2 - half);
      g = c0 - 0.344136 * (c1 - half) - 0.714136 * (c2 - half);
      b = c0 + 1.772 * (c1 - half);
    }
    cv::Vec3f& px = bgr.at<cv::Vec3f>(static_cast<int>(p / info.columns), static_cast<int>(p % info.columns));
    px[0] = static_cast<float>(std::clamp(b / full, 0.0, 1.0));
    px[1] = static_cast<float>(std::clamp(g / full, 0.0, 1.0));
    px[2] = static_cast<float>(std::clamp(r / full, 0.0, 1.0));
  }
  return bgr;
}

// Modality LUT: Rescale Slope/Intercept (a Modality LUT Sequence is not applied: said so).
std::vector<double> modality_values(DcmDataset& data, const StoredSamples& sample, DicomInfo& info,
                                    std::vector<std::string>& warnings) {
  info.rescale_slope = number_of(data, DCM_RescaleSlope).value_or(1.0);
  info.rescale_intercept = number_of(data, DCM_RescaleIntercept).value_or(0.0);
  if (data.tagExists(DCM_ModalityLUTSequence))
    warnings.push_back("the file has a Modality LUT Sequence, which xai does not apply (Rescale Slope/Intercept is)");
  const size_t pixels = static_cast<size_t>(info.rows) * info.columns;
  std::vector<double> values(pixels);
  for (size_t p = 0; p < pixels; ++p) values[p] = sample(p) * info.rescale_slope + info.rescale_intercept;
  return values;
}

// Which window applies: --dicom-window or the card's, else the file's first Window Center/Width,
// else the value range. Says where it came from in `info`.
DicomWindow resolve_window(DcmDataset& data, const DicomReading& reading, DicomInfo& info,
                           std::vector<std::string>& warnings) {
  DicomWindow window = reading.window;
  const std::optional<double> tag_center = number_of(data, DCM_WindowCenter), tag_width = number_of(data, DCM_WindowWidth);
  if (window.kind == DicomWindow::Kind::tags) {
    if (tag_center && tag_width && *tag_width >= 1) {
      window.kind = DicomWindow::Kind::given;
      window.center = *tag_center;
      window.width = *tag_width;
      info.window_source = "tags";
      const std::string function = text_of(data, DCM_VOILUTFunction);
      if (!function.empty()) info.voi_function = function;
    } else {
      window.kind = DicomWindow::Kind::minmax;
      info.window_source = "minmax (no window in the file)";
      if (reading.window_from == "option")
        warnings.push_back(setting_name("dicom_window") +
                           " tags: the file has no Window Center/Width; its value range is used");
    }
  } else if (window.kind == DicomWindow::Kind::given) {
    // The caller's window is reported by the name of the setting that gave it (the CLI: "--dicom-window").
    const std::string from = reading.window_from == "option" ? setting_name("dicom_window") : reading.window_from;
    info.window_source = window.preset.empty() ? from : "preset " + window.preset + " (" + from + ")";
    if (!window.preset.empty() && info.modality != "CT")
      warnings.push_back("window preset " + window.preset + " is for CT (Hounsfield units), but the modality is " +
                         (info.modality.empty() ? "not given" : info.modality));
  } else {
    info.window_source = window.kind == DicomWindow::Kind::minmax ? "minmax"
                                                                  : "percentile " + std::to_string(window.percentile);
  }
  return window;
}

// The window's centre, width and VOI function in `info`; a range window is measured on `values`.
void choose_window(DcmDataset& data, const DicomReading& reading, const std::vector<double>& values, DicomInfo& info,
                   std::vector<std::string>& warnings) {
  const DicomWindow window = resolve_window(data, reading, info, warnings);
  if (window.kind == DicomWindow::Kind::minmax || window.kind == DicomWindow::Kind::percentile) {
    const double p = window.kind == DicomWindow::Kind::minmax ? 0.0 : window.percentile / 100.0;
    const std::vector<double> range = quantiles(values, {p, 1.0 - p});
    const double low = range[0], high = range[1];
    // The range maps exactly onto [0, 1]: LINEAR_EXACT with centre and width of the range.
    info.voi_function = "LINEAR_EXACT";
    info.window_center = (low + high) / 2;
    info.window_width = high > low ? high - low : 1.0;
  } else {
    info.window_center = window.center;
    info.window_width = window.width;
  }
  if (info.voi_function != "LINEAR" && info.voi_function != "LINEAR_EXACT" && info.voi_function != "SIGMOID") {
    warnings.push_back("VOI LUT Function '" + info.voi_function + "' is not supported; LINEAR is used");
    info.voi_function = "LINEAR";
  }
}

// The VOI function applied: a gray image in [0, 1], MONOCHROME1 inverted to display as MONOCHROME2.
cv::Mat windowed_image(const std::vector<double>& values, DicomInfo& info) {
  info.inverted = info.photometric == "MONOCHROME1";
  cv::Mat gray(info.rows, info.columns, CV_32FC1);
  float* g = gray.ptr<float>();
  const double c = info.window_center, w = info.window_width;
  for (size_t p = 0; p < values.size(); ++p) {
    double y;
    if (info.voi_function == "LINEAR_EXACT")
      y = std::clamp((values[p] - c) / w + 0.5, 0.0, 1.0);
    else if (info.voi_function == "SIGMOID")
      y = 1.0 / (1.0 + std::exp(-4.0 * (values[p] - c) / w));
    else
      y = linear_window(values[p], c, w);
    g[p] = static_cast<float>(info.inverted ? 1.0 - y : y);
  }
  return gray;
}

}  // namespace

void register_dicom_codecs() {
  static std::once_flag once;
  std::call_once(once, [] {
    // DCMTK logs parser complaints to stderr by default: xai reports one line per file itself.
    OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
    DJDecoderRegistration::registerCodecs(EDC_photometricInterpretation);
    DJLSDecoderRegistration::registerCodecs();
    DcmRLEDecoderRegistration::registerCodecs();
  });
}

int dicom_frame_count(const std::string& path) {
  register_dicom_codecs();
  std::error_code ec;
  const uintmax_t file_bytes = std::filesystem::file_size(path, ec);
  if (ec) return 0;
  DcmFileFormat file;
  if (file.loadFile(path.c_str(), EXS_Unknown, EGL_noChange, kDeferredBytes).bad()) return 0;
  DcmDataset& data = *file.getDataset();
  const std::string text = text_of(data, DCM_NumberOfFrames);
  const long long declared = text.empty() ? 1 : std::max(1LL, std::atoll(text.c_str()));
  if (declared == 1) return 1;
  DcmElement* pixel_data = nullptr;
  if (data.findAndGetElement(DCM_PixelData, pixel_data).bad() || !pixel_data) return 0;
  // A forged count must not turn one file into millions of inputs: every frame must fit in the file.
  if (DcmXfer(data.getOriginalXfer()).isEncapsulated())
    return declared <= static_cast<long long>(file_bytes) && declared <= INT_MAX ? static_cast<int>(declared) : 0;
  DicomInfo info;
  info.rows = integer_of(data, DCM_Rows, 0);
  info.columns = integer_of(data, DCM_Columns, 0);
  info.bits_allocated = integer_of(data, DCM_BitsAllocated, 0);
  info.photometric = text_of(data, DCM_PhotometricInterpretation);
  const size_t frame_bytes = native_frame_bytes(info, integer_of(data, DCM_SamplesPerPixel, 1));
  const Uint32 length = pixel_data->getLength();
  if (frame_bytes == 0 || length == DCM_UndefinedLength || declared > static_cast<long long>(length / frame_bytes)) return 0;
  return static_cast<int>(declared);
}

DecodedDicom decode_dicom(const std::string& bytes, const std::string& name, const DicomReading& reading,
                          long long max_pixels) {
  register_dicom_codecs();
  // Values over kDeferredBytes are read when used; every declared length is checked against the
  // file's size before anything is used.
  const TemporaryCopy copy(bytes);
  DcmFileFormat file;
  DcmDataset& data = load_dataset(file, copy.path, bytes.size(), name);
  DecodedDicom out;
  DicomInfo& info = out.info;
  const SampleLayout layout = read_header(data, info);
  check_supported(data, info, layout, name, max_pixels);
  decompress_pixel_data(data, info, name);
  choose_frame(reading, name, info, out.warnings);
  const StoredSamples sample(frame_data(data, info, layout.samples, name), info, layout.high_bit);
  if (layout.colour) {
    if (reading.window_from == "option")
      out.warnings.push_back(setting_name("dicom_window") + " applies to monochrome DICOM images; this one is " +
                             info.photometric + " and is shown as stored");
    out.pixels = colour_image(sample, info, layout.planar);
    info.window_source = "none (colour)";
    return out;
  }
  const std::vector<double> values = modality_values(data, sample, info, out.warnings);
  choose_window(data, reading, values, info, out.warnings);
  out.pixels = windowed_image(values, info);
  return out;
}

}  // namespace xai
