// OUT/index.html: the slide in a deep-zoom viewer (Leaflet, copied from Debian's libjs-leaflet into
// OUT/viewer/ so the page works offline and from file://), with each stitched map and probability map
// as a layer that can be shown, hidden and made more or less opaque; clicking a tile shows its
// probabilities. The pyramid (OUT/viewer/tiles/Z/X_Y.jpg, 256-px JPEG tiles) covers the tissue only:
// glass is drawn as the page's background, and the page lists the tiles that exist, so it never asks
// for a missing file.
#pragma once

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "output/results_log.hpp"
#include "output/slide_outputs.hpp"

namespace xai {

// Where Leaflet is installed (Debian's libjs-leaflet); XAI_LEAFLET_DIR overrides it.
std::string leaflet_dir();
// Throws usage_error naming the package when Leaflet is not there.
void require_leaflet();

// A map layer of the viewer: an RGBA image (transparent where there is no data) over a level-0
// rectangle of the slide, with the colour scale its legend shows.
struct ViewerLayer {
  std::string name;   // "gradcam", "P(malignant)"
  std::string file;   // relative to OUT/viewer/
  cv::Mat rgba;       // CV_8UC4
  cv::Rect2d bounds;  // level-0 pixels
  bool pixelated = false;  // one pixel per tile: drawn as blocks, not smoothed
  std::string legend;      // CSS gradient stops
  std::string low, high, units;
};

// Writes OUT/viewer/ (Leaflet, the pyramid, the layers, the tile table) and OUT/index.html. The
// pyramid is kept when OUT/viewer/pyramid.json says it was made from the same slide and layout.
// Returns what slide.json says about the viewer.
nlohmann::ordered_json write_slide_viewer(const Slide& slide, const SlideLayout& layout, const SlideMaps& maps,
                                          const std::vector<Record>& tiles, const cv::Mat& tissue_mask,
                                          const std::vector<ViewerLayer>& layers, int workers, const std::string& out_dir);

// What identifies a slide file: OpenSlide's quickhash when it has one, else its size and level sizes.
std::string slide_identity(const Slide& slide);

}  // namespace xai
