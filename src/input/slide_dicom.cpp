// DICOM whole-slide images (PS3.3 A.32.8, Supplement 145): one VL Whole Slide Microscopy instance per
// pyramid level, each a grid of tiles stored as frames — TILED_FULL (every tile, row by row) or
// TILED_SPARSE (each frame's position in the Per-frame Functional Groups). Frames are read one at a time
// (DCMTK's getUncompressedFrame: a level is never decoded whole), decoded tiles kept in a small cache.
#include <dcmtk/config/osconfig.h>  // first, as DCMTK requires
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfcache.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <list>
#include <map>
#include <mutex>

#include "core/sha256.hpp"
#include "input/dicom_decoder.hpp"
#include "input/slide.hpp"
#include "xai/error.hpp"

namespace xai {
namespace {

namespace fs = std::filesystem;
constexpr const char* kWholeSlideStorage = "1.2.840.10008.5.1.4.1.1.77.1.6";
constexpr size_t kCachedTiles = 256;

std::string text_of(DcmItem& item, const DcmTagKey& tag, unsigned long index = 0) {
  OFString value;
  if (item.findAndGetOFString(tag, value, index).bad()) return "";
  return value.c_str();
}

long number_of(DcmItem& item, const DcmTagKey& tag, long fallback = 0) {
  Sint32 s = 0;
  Uint32 u = 0;
  Uint16 w = 0;
  if (item.findAndGetUint32(tag, u).good()) return static_cast<long>(u);
  if (item.findAndGetUint16(tag, w).good()) return w;
  if (item.findAndGetSint32(tag, s).good()) return s;
  OFString text;  // IS values
  if (item.findAndGetOFString(tag, text).good() && !text.empty()) return std::atol(text.c_str());
  return fallback;
}

// One level: an instance, its tile grid and where each tile's frame is.
struct Level {
  std::string path;
  std::unique_ptr<DcmFileFormat> file;
  std::unique_ptr<DcmFileCache> cache;
  long width = 0, height = 0;        // Total Pixel Matrix
  int tile_width = 0, tile_height = 0;  // Columns, Rows
  long across = 0, down = 0;
  std::map<std::pair<long, long>, Uint32> frames;  // (tile column, tile row) -> frame, 0-based
  std::string photometric;
  int samples = 3;
  bool planar = false;  // Planar Configuration 1 (native pixel data only: decoders interleave)
  std::string sop_instance;
  std::optional<double> mpp;
  std::mutex mutex;  // DCMTK datasets are not thread-safe
  std::list<std::pair<std::pair<long, long>, cv::Mat>> cached;  // most recent first
};

class DicomSlideSource : public SlideSource {
 public:
  std::vector<std::unique_ptr<Level>> levels;  // level 0 first
  cv::Mat read_region(int64_t x0, int64_t y0, int level, int width, int height) const override;

 private:
  cv::Mat tile(Level& level, long column, long row) const;
};

// The frame, decoded to 8-bit BGR (white where the level has no tile: glass never scanned).
cv::Mat DicomSlideSource::tile(Level& level, long column, long row) const {
  const std::lock_guard<std::mutex> lock(level.mutex);
  for (auto it = level.cached.begin(); it != level.cached.end(); ++it)
    if (it->first == std::make_pair(column, row)) {
      level.cached.splice(level.cached.begin(), level.cached, it);
      return it->second;
    }
  cv::Mat bgr(level.tile_height, level.tile_width, CV_8UC3, cv::Scalar::all(255));
  const auto frame = level.frames.find({column, row});
  if (frame != level.frames.end()) {
    DcmDataset& data = *level.file->getDataset();
    DcmElement* element = nullptr;
    if (data.findAndGetElement(DCM_PixelData, element).bad() || !element)
      throw input_error(level.path + ": no pixel data");
    Uint32 frame_bytes = 0;
    if (element->getUncompressedFrameSize(&data, frame_bytes).bad()) throw input_error(level.path + ": no frame size");
    std::vector<Uint8> buffer(frame_bytes + (frame_bytes & 1));
    Uint32 start_fragment = 0;
    OFString colour_model;
    const OFCondition read = element->getUncompressedFrame(&data, frame->second, start_fragment, buffer.data(),
                                                           static_cast<Uint32>(buffer.size()), colour_model, level.cache.get());
    if (read.bad())
      throw input_error(level.path + ": frame " + std::to_string(frame->second + 1) + " cannot be decoded (" +
                        read.text() + "; transfer syntax " + DcmXfer(data.getOriginalXfer()).getXferName() + ")");
    const std::string model = colour_model.c_str();
    if (level.samples == 1) {
      const cv::Mat gray(level.tile_height, level.tile_width, CV_8UC1, buffer.data());
      cv::cvtColor(gray, bgr, cv::COLOR_GRAY2BGR);
    } else if (model == "RGB" || model == "YBR_FULL") {
      cv::Mat samples(level.tile_height, level.tile_width, CV_8UC3, buffer.data());
      if (level.planar) {  // RRR...GGG...BBB: interleave
        const size_t plane = static_cast<size_t>(level.tile_width) * level.tile_height;
        std::vector<cv::Mat> planes;
        for (int c = 0; c < 3; ++c) planes.emplace_back(level.tile_height, level.tile_width, CV_8UC1, buffer.data() + c * plane);
        cv::merge(planes, samples);
      }
      if (model == "RGB") {
        cv::cvtColor(samples, bgr, cv::COLOR_RGB2BGR);
      } else {  // DICOM's order is Y, Cb, Cr; OpenCV's YCrCb wants Y, Cr, Cb
        std::vector<cv::Mat> ybr;
        cv::split(samples, ybr);
        std::swap(ybr[1], ybr[2]);
        cv::Mat ycrcb;
        cv::merge(ybr, ycrcb);
        cv::cvtColor(ycrcb, bgr, cv::COLOR_YCrCb2BGR);
      }
    } else {
      throw input_error(level.path + ": colour model " + model + " of its frames is not read (RGB, YBR_FULL and "
                        "MONOCHROME are)");
    }
  }
  level.cached.emplace_front(std::make_pair(column, row), bgr);
  if (level.cached.size() > kCachedTiles) level.cached.pop_back();
  return bgr;
}

cv::Mat DicomSlideSource::read_region(int64_t x0, int64_t y0, int level_index, int width, int height) const {
  Level& level = *levels[level_index];
  const double downsample = info.levels[level_index].downsample;
  // OpenSlide's convention: the region's top-left in level-0 pixels, its size in the level's.
  const long lx = static_cast<long>(std::floor(x0 / downsample)), ly = static_cast<long>(std::floor(y0 / downsample));
  cv::Mat out(height, width, CV_8UC3, cv::Scalar::all(255));
  for (long row = std::max(0L, ly / level.tile_height); row <= (ly + height - 1) / level.tile_height && row < level.down; ++row)
    for (long column = std::max(0L, lx / level.tile_width);
         column <= (lx + width - 1) / level.tile_width && column < level.across; ++column) {
      const cv::Rect tile_rect(static_cast<int>(column * level.tile_width - lx), static_cast<int>(row * level.tile_height - ly),
                               level.tile_width, level.tile_height);
      // The tile within the region, and within the level (the last row and column overhang it).
      const cv::Rect in_level(static_cast<int>(-lx), static_cast<int>(-ly), static_cast<int>(level.width), static_cast<int>(level.height));
      const cv::Rect part = tile_rect & cv::Rect(0, 0, width, height) & in_level;
      if (part.empty()) continue;
      const cv::Mat pixels = tile(level, column, row);
      pixels(cv::Rect(part.x - tile_rect.x, part.y - tile_rect.y, part.width, part.height)).copyTo(out(part));
    }
  return out;
}

// Each frame's tile from the Per-frame Functional Groups (TILED_SPARSE): Plane Position (Slide)'s
// 1-based column and row in the Total Pixel Matrix.
void sparse_frames(DcmDataset& data, Level& level) {
  DcmSequenceOfItems* per_frame = nullptr;
  if (data.findAndGetSequence(DCM_PerFrameFunctionalGroupsSequence, per_frame).bad() || !per_frame)
    throw input_error(level.path + ": TILED_SPARSE without a Per-frame Functional Groups Sequence");
  for (unsigned long f = 0; f < per_frame->card(); ++f) {
    DcmItem* position = nullptr;
    if (per_frame->getItem(f)->findAndGetSequenceItem(DCM_PlanePositionSlideSequence, position).bad() || !position)
      throw input_error(level.path + ": frame " + std::to_string(f + 1) + " has no Plane Position (Slide)");
    const long x = number_of(*position, DCM_ColumnPositionInTotalImagePixelMatrix) - 1;
    const long y = number_of(*position, DCM_RowPositionInTotalImagePixelMatrix) - 1;
    if (x < 0 || y < 0 || x % level.tile_width || y % level.tile_height)
      throw input_error(level.path + ": frame " + std::to_string(f + 1) + " is not on the tile grid (" + std::to_string(x + 1) +
                        ", " + std::to_string(y + 1) + ")");
    level.frames[{x / level.tile_width, y / level.tile_height}] = static_cast<Uint32>(f);
  }
}

// A level from one instance; none when the instance is not a pyramid level (label, overview, thumbnail).
std::unique_ptr<Level> read_level(const std::string& path, std::string* series) {
  auto level = std::make_unique<Level>();
  level->path = path;
  level->file = std::make_unique<DcmFileFormat>();
  // Values over 4 KiB (the pixel data) stay in the file until a frame is read.
  if (level->file->loadFile(path.c_str(), EXS_Unknown, EGL_noChange, 4096).bad()) return nullptr;
  DcmDataset& data = *level->file->getDataset();
  if (text_of(data, DCM_SOPClassUID) != kWholeSlideStorage) return nullptr;
  if (text_of(data, DCM_ImageType, 2) != "VOLUME") return nullptr;
  *series = text_of(data, DCM_SeriesInstanceUID);
  level->width = number_of(data, DCM_TotalPixelMatrixColumns);
  level->height = number_of(data, DCM_TotalPixelMatrixRows);
  level->tile_width = static_cast<int>(number_of(data, DCM_Columns));
  level->tile_height = static_cast<int>(number_of(data, DCM_Rows));
  level->samples = static_cast<int>(number_of(data, DCM_SamplesPerPixel, 3));
  level->photometric = text_of(data, DCM_PhotometricInterpretation);
  level->planar = number_of(data, DCM_PlanarConfiguration) == 1 && !DcmXfer(data.getOriginalXfer()).isEncapsulated();
  level->sop_instance = text_of(data, DCM_SOPInstanceUID);
  if (level->width < 1 || level->height < 1 || level->tile_width < 1 || level->tile_height < 1)
    throw input_error(path + ": no Total Pixel Matrix or tile size");
  if (number_of(data, DCM_BitsAllocated, 8) != 8 || (level->samples != 1 && level->samples != 3))
    throw input_error(path + ": only 8-bit, 1- or 3-sample whole-slide images are read");
  level->across = (level->width + level->tile_width - 1) / level->tile_width;
  level->down = (level->height + level->tile_height - 1) / level->tile_height;
  const long frames = number_of(data, DCM_NumberOfFrames, 1);
  if (text_of(data, DCM_DimensionOrganizationType) == "TILED_SPARSE") {
    sparse_frames(data, *level);
  } else {
    // TILED_FULL: every tile, row by row (the first focal plane and optical path when there are more).
    if (frames < level->across * level->down)
      throw input_error(path + ": TILED_FULL with " + std::to_string(frames) + " frames for " +
                        std::to_string(level->across * level->down) + " tiles");
    for (long r = 0; r < level->down; ++r)
      for (long c = 0; c < level->across; ++c) level->frames[{c, r}] = static_cast<Uint32>(r * level->across + c);
  }
  // Pixel Spacing (mm, row then column) in the Shared Functional Groups' Pixel Measures.
  DcmItem* shared = nullptr;
  DcmItem* measures = nullptr;
  if (data.findAndGetSequenceItem(DCM_SharedFunctionalGroupsSequence, shared).good() && shared &&
      shared->findAndGetSequenceItem(DCM_PixelMeasuresSequence, measures).good() && measures) {
    Float64 spacing = 0;
    if (measures->findAndGetFloat64(DCM_PixelSpacing, spacing, 1).good() && spacing > 0) level->mpp = spacing * 1000.0;
  }
  level->cache = std::make_unique<DcmFileCache>();
  return level;
}

}  // namespace

std::unique_ptr<SlideSource> open_dicom_slide(const std::string& path) {
  register_dicom_codecs();
  std::error_code ec;
  const bool folder = fs::is_directory(path, ec);
  const fs::path dir = folder ? fs::path(path) : fs::path(path).parent_path();
  std::string wanted_series;
  if (!folder) {  // one instance named: its series' levels
    if (!read_level(path, &wanted_series))
      throw input_error(path + ": not a DICOM whole-slide image (VL Whole Slide Microscopy, image type VOLUME)");
  }
  auto source = std::make_unique<DicomSlideSource>();
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir.empty() ? fs::path(".") : dir, ec))
    if (entry.is_regular_file(ec)) names.push_back(entry.path().string());
  std::sort(names.begin(), names.end());
  std::string first_series;
  for (const auto& name : names) {
    if (!is_dicom_slide_path(name)) continue;
    std::string series;
    std::unique_ptr<Level> level = read_level(name, &series);
    if (!level) continue;
    if (!wanted_series.empty() && series != wanted_series) continue;
    if (first_series.empty()) first_series = series;
    if (series != first_series)
      throw input_error(path + ": holds more than one whole-slide series: name one of its files");
    source->levels.push_back(std::move(level));
  }
  if (source->levels.empty())
    throw input_error(path + ": no DICOM whole-slide image in it (VL Whole Slide Microscopy instances, image type VOLUME)");
  std::sort(source->levels.begin(), source->levels.end(), [](const auto& a, const auto& b) { return a->width > b->width; });
  SlideInfo& info = source->info;
  info.path = path;
  info.vendor = "dicom";
  const Level& base = *source->levels.front();
  std::string instances;
  for (const auto& level : source->levels) {
    const double downsample = static_cast<double>(base.width) / level->width;
    info.levels.push_back({level->width, level->height, downsample});
    instances += level->sop_instance + ":" + std::to_string(level->width) + "x" + std::to_string(level->height) + ";";
  }
  if (base.mpp && *base.mpp >= kFinestPlausibleMpp && *base.mpp <= kCoarsestPlausibleMpp) info.mpp_x = info.mpp_y = base.mpp;
  // Identifies the slide for resumes and merges without its UIDs (which link to a patient's study).
  info.properties["dicom.hash"] = sha256_hex(instances);
  info.properties["dicom.levels"] = std::to_string(info.levels.size());
  return source;
}

}  // namespace xai
