// Where a slide run reads its tiles: the pyramid level and resolution, the tile grid and the stitched
// map's canvas (plan_slide_layout), where the tissue is, and one tile read and prepared for the model.
// A run, a merge of its shards and `xai bench --slide` share them (slide_run.hpp), so all read the same tiles.
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

#include "analysis/tissue.hpp"
#include "core/text.hpp"
#include "input/slide.hpp"
#include "input/tissue_mask.hpp"
#include "output/figure.hpp"
#include "pipelines/slide_run.hpp"

namespace xai {
namespace {

using json = nlohmann::ordered_json;

// A level's resolution counts as the wanted one within 2% (scanners round: 0.2527 µm is "40x").
constexpr double kResolutionTolerance = 0.02;
// A stitched map is at most this many pixels on its longer side, and a tile at most this many on its
// own: the journal holds every tile's map, so its size is bounded whatever the slide's.
constexpr int kTileMapSide = 64;
// Specks are debris and dust: at most (100 µm)² when the slide says its resolution.
constexpr double kSpeckMicrons = 100;

}  // namespace

SlideLayout plan_slide_layout(const Slide& slide, const SlideOptions& options, const ModelCard& card,
                              std::vector<std::string>& warnings) {
  const SlideInfo& info = slide.info();
  SlideLayout layout;
  const std::string& path = info.path;
  const std::optional<double> slide_mpp = info.mpp_x;
  if (options.level) {
    if (*options.level < 0 || *options.level >= static_cast<int>(info.levels.size()))
      throw usage_error(path + ": " + setting_name("level") + " " + std::to_string(*options.level) +
                        " does not exist (the slide has levels 0.." + std::to_string(info.levels.size() - 1) + ")");
    layout.level = *options.level;
    layout.downsample = info.levels[layout.level].downsample;
    layout.resolution_from = setting_name("level");
  } else if (options.mpp || (card.mpp && slide_mpp)) {
    const double wanted = options.mpp ? *options.mpp : *card.mpp;
    layout.resolution_from = options.mpp ? setting_name("mpp") : "card";
    if (!slide_mpp)
      throw usage_error(path + ": the slide does not say its microns per pixel, so " +
                        (options.mpp ? setting_name("mpp") + " " : std::string("the card's mpp ")) + short_number(wanted) +
                        " cannot be honoured; pass " + setting_name("level") + " N to read a level as it is");
    layout.downsample = wanted / *slide_mpp;
    if (layout.downsample < 1 - kResolutionTolerance)
      throw usage_error(path + ": the model wants " + short_number(wanted) + " µm per pixel but the slide is scanned at " +
                        short_number(*slide_mpp) + ": xai does not invent resolution (use a model for this scan, or " +
                        setting_name("level") + " 0)");
    layout.downsample = std::max(1.0, layout.downsample);
    layout.level = slide.level_for_downsample(layout.downsample * (1 + kResolutionTolerance));
    // A level within the tolerance is read as it is.
    if (std::abs(info.levels[layout.level].downsample / layout.downsample - 1) <= kResolutionTolerance)
      layout.downsample = info.levels[layout.level].downsample;
  } else {
    layout.level = 0;
    layout.downsample = info.levels[0].downsample;
    layout.resolution_from = "level 0";
    if (card.mpp)  // the card's resolution needs the slide's to be honoured: read as scanned, and say so
      warnings.push_back("the slide does not record its microns per pixel, so the card's mpp " + short_number(*card.mpp) +
                         " cannot be matched: tiles are read at level 0 as they are (check that the scan's "
                         "resolution is the model's, or pass " + setting_name("level") + ")");
    else
      warnings.push_back("the model card gives no \"mpp\" (the resolution the model was trained at): tiles are read at "
                         "level 0" + (slide_mpp ? " (" + short_number(*slide_mpp) + " µm per pixel)" : std::string()) +
                         "; add \"mpp\" to the card, or pass " + setting_name("mpp") + " or " + setting_name("level"));
  }
  layout.level_downsample = info.levels[layout.level].downsample;
  if (slide_mpp) layout.mpp = *slide_mpp * layout.downsample;
  layout.tile = options.tile > 0 ? options.tile : std::max(card.input_height, card.input_width);
  layout.stride = options.stride > 0 ? options.stride : layout.tile;
  if (layout.stride > layout.tile)
    throw usage_error(setting_name("tile_stride") + " " + std::to_string(layout.stride) + " is larger than the tile (" +
                      std::to_string(layout.tile) + "): parts of the tissue would never be read");
  layout.read_side = static_cast<int>(std::lround(layout.tile * layout.downsample / layout.level_downsample));
  layout.width = info.levels[0].width;
  layout.height = info.levels[0].height;
  const double level_w = layout.width / layout.downsample, level_h = layout.height / layout.downsample;
  layout.columns = level_w >= layout.tile ? static_cast<int>((level_w - layout.tile) / layout.stride) + 1 : 0;
  layout.rows = level_h >= layout.tile ? static_cast<int>((level_h - layout.tile) / layout.stride) + 1 : 0;
  if (layout.columns == 0 || layout.rows == 0)
    throw usage_error(path + ": the slide (" + std::to_string(layout.width) + "x" + std::to_string(layout.height) +
                      " px) holds no whole tile of " + std::to_string(layout.tile) + " px at this resolution");
  layout.min_tissue = options.min_tissue;
  // The stitched map: at most `map_size` pixels on its longer side, at most kTileMapSide per tile.
  const double longest = static_cast<double>(std::max(layout.width, layout.height));
  layout.canvas_downsample = std::max({longest / std::max(1, options.explain.map_size),
                                       layout.footprint() / kTileMapSide, 1.0});
  layout.canvas_width = std::max(1, static_cast<int>(std::ceil(layout.width / layout.canvas_downsample)));
  layout.canvas_height = std::max(1, static_cast<int>(std::ceil(layout.height / layout.canvas_downsample)));
  return layout;
}

TissueMask find_slide_tissue(const Slide& slide, const cv::Mat& thumbnail, double thumbnail_downsample,
                             const TissueSettings& settings) {
  if (!settings.mask_path.empty()) {
    TissueMask user;
    const SlideLevel& full = slide.info().levels.front();
    user.mask = read_tissue_mask(settings.mask_path, thumbnail.size(), thumbnail_downsample, full.width, full.height);
    user.fraction = cv::countNonZero(user.mask) / static_cast<double>(user.mask.total());
    return user;
  }
  const std::optional<double> mpp = slide.info().mpp_x;
  const double max_speck = mpp ? std::pow(kSpeckMicrons / (*mpp * thumbnail_downsample), 2) : 1e18;
  return detect_tissue(thumbnail, 20, 0.002, 0.0005, max_speck, settings.threshold);
}

json tissue_report_section(const TissueSettings& settings, const TissueMask& tissue) {
  if (!settings.mask_path.empty())
    return {{"method", "the user's mask (" + setting_name("tissue_mask") + ")"},
            {"mask", settings.mask_path},
            {"fraction", tissue.fraction}};
  return {{"method", (settings.threshold ? "a fixed HSV saturation threshold (" + setting_name("tissue_threshold") + ")"
                                        : std::string("Otsu on HSV saturation (floor 20)")) +
                         ", holes under 0.2 % of the thumbnail filled, specks under 0.05 % of it and under (100 µm)² removed"},
          {"threshold", tissue.threshold},
          {"threshold_given", settings.threshold ? json(*settings.threshold) : json(nullptr)},
          {"fraction", tissue.fraction}};
}

TissueSettings tissue_settings_of(const json& section) {
  TissueSettings settings;
  if (!section.is_object()) return settings;
  if (section.contains("mask") && section["mask"].is_string()) settings.mask_path = section["mask"].get<std::string>();
  if (section.contains("threshold_given") && section["threshold_given"].is_number())
    settings.threshold = section["threshold_given"].get<double>();
  return settings;
}

PreparedImage prepare_slide_tile(const Slide& slide, const SlideLayout& layout, int64_t x, int64_t y, const ModelCard& card) {
  cv::Mat region = slide.read_region(x, y, layout.level, layout.read_side, layout.read_side);
  if (region.cols != layout.tile)
    cv::resize(region, region, {layout.tile, layout.tile}, 0, 0, region.cols > layout.tile ? cv::INTER_AREA : cv::INTER_LINEAR);
  Image image;
  image.path = slide.info().path + "@" + std::to_string(x) + "," + std::to_string(y);
  region.convertTo(image.pixels, CV_32FC3, 1.0 / 255);
  image.source_channels = 3;
  image.source_bit_depth = 8;
  return prepare_decoded(std::move(image), card);
}

}  // namespace xai
