// OUT/index.html: the slide in a deep-zoom viewer (Leaflet, copied from Debian's libjs-leaflet into
// OUT/viewer/ so the page works offline and from file://), with each stitched map and probability map
// as a layer that can be shown, hidden and made more or less opaque; clicking a tile shows its
// probabilities. The pyramid (OUT/viewer/tiles/Z/X_Y.jpg, 256-px JPEG tiles) covers the tissue only:
// glass is drawn as the page's background, and the page lists the tiles that exist, so it never asks
// for a missing file.
#pragma once

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <memory>
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

// The viewer's deep-zoom pyramid (OUT/viewer/tiles/). It depends on the slide, the tiles' resolution
// and the tissue only, so a slide run starts it before its tiles are explained, on one thread at a low
// priority (the model's passes keep theirs; on a GPU node the host's cores are otherwise idle), and
// write_slide_viewer finishes it with every worker. Kept when OUT/viewer/pyramid.json says it was made
// from the same slide and layout; that stamp is written only when every tile is, so a pyramid left
// unfinished (a stopped or failed run) is redone, not trusted.
struct ViewerPyramid {
  int max_zoom = 0;            // zoom max_zoom shows the slide at the tiles' resolution; each below halves it
  double base_downsample = 1;  // level-0 pixels per pixel at max_zoom
  std::vector<std::vector<std::string>> tiles;  // per zoom: "X_Y" of every tile written (those over tissue)
};

class PyramidWriter {
 public:
  PyramidWriter(const Slide& slide, const SlideLayout& layout, const cv::Mat& tissue_mask, const std::string& out_dir);
  ~PyramidWriter();  // stops the background thread (unfinished tiles are abandoned) and joins it
  PyramidWriter(const PyramidWriter&) = delete;
  PyramidWriter& operator=(const PyramidWriter&) = delete;
  void start_in_background();
  // Writes what is left with `workers` threads (the background one helps), rethrows the first tile's
  // error, then stamps the pyramid. Returns its tile count and whether an earlier run's was kept.
  nlohmann::ordered_json finish(int workers);
  const ViewerPyramid& plan() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Writes OUT/viewer/ (Leaflet, the pyramid, the layers, the tile table) and OUT/index.html. The
// pyramid is `pyramid`, finished here, or (none given) made here. Returns what slide.json says about
// the viewer.
nlohmann::ordered_json write_slide_viewer(const Slide& slide, const SlideLayout& layout, const SlideMaps& maps,
                                          const std::vector<Record>& tiles, const cv::Mat& tissue_mask,
                                          const std::vector<ViewerLayer>& layers, int workers, const std::string& out_dir,
                                          PyramidWriter* pyramid = nullptr);

// What identifies a slide file: OpenSlide's quickhash when it has one, else its size and level sizes.
std::string slide_identity(const Slide& slide);

}  // namespace xai
