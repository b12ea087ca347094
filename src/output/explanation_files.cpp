#include "xai/explanation_files.hpp"

#include <cmath>
#include <map>
#include <opencv2/imgproc.hpp>
#include <set>

#include "xai/npy.hpp"
#include "xai/render.hpp"
#include "xai/text.hpp"

namespace xai {
namespace {

std::string npy_of(const cv::Mat& map) {
  CV_Assert(map.type() == CV_32FC1 && map.isContinuous());
  return npy_bytes(reinterpret_cast<const float*>(map.data),
                   {static_cast<size_t>(map.rows), static_cast<size_t>(map.cols)});
}

// The map as stored: at most `longest` pixels on its longer side. Region maps keep exact region
// values (nearest neighbour); continuous maps are averaged over each stored pixel.
cv::Mat stored_map(const DenseMap& map, int longest) {
  return shrink_to_fit(map.values, longest, map.segments.empty() ? cv::INTER_AREA : cv::INTER_NEAREST);
}

std::string thumbnail_png(const cv::Mat& display, const std::string& name) {
  return encode_png(shrink_to_fit(display, 160, cv::INTER_AREA), name);
}

// The outputs of one method's result.
void render_result(const cv::Mat& display, const MethodResult& result, size_t result_index, const ExplainPlan& plan,
                   const std::string& stem, RenderedExplanation& out) {
  std::set<int> classes;
  std::set<std::string> layers;
  for (const auto& m : result.maps) {
    classes.insert(m.class_index);
    layers.insert(m.layer);
  }
  const bool per_class = classes.size() > 1, per_layer = layers.size() > 1;
  auto suffix_for = [&](const DenseMap& m) {
    std::string s;
    if (per_class) s += "." + file_safe(plan.labels.at(m.class_index));
    if (per_layer) s += ".layer-" + file_safe(m.layer);
    return s;
  };
  const std::vector<DenseMap> dense = dense_maps(result, display.size());
  std::map<int, std::pair<std::vector<cv::Mat>, std::vector<std::string>>> layer_tiles;  // per class
  bool wrote_segments = false;
  for (size_t k = 0; k < dense.size(); ++k) {
    const DenseMap& m = dense[k];
    const std::string base = stem + "." + result.method + suffix_for(m);
    const cv::Mat overlaid = render_map(display, m, plan.options.colormap, plan.options.alpha);
    ExplainedMap written;
    written.method = result.method;
    written.class_index = m.class_index;
    written.label = plan.labels.at(m.class_index);
    written.probability = result.prediction.probabilities.at(m.class_index);
    written.layer = m.layer;
    written.stats = compute_map_stats(m.values);
    if (m.details.contains("faithfulness"))
      for (const char* key : {"deletion_auc", "insertion_auc", "deletion_gain", "insertion_gain"})
        written.faithfulness[key] = m.details["faithfulness"][key];
    out.files.push_back({base + ".png", encode_png(overlaid, base)});
    written.files.push_back({"overlay", base + ".png"});
    const cv::Mat stored = stored_map(m, plan.options.map_size);
    written.stored_size = stored.size();
    out.files.push_back({base + ".npy", npy_of(stored)});
    written.files.push_back({"map", base + ".npy"});
    if (!m.segments.empty()) {
      // Region maps: the most positive regions shown as they are, and the regions themselves.
      const std::string top = stem + "." + result.method + "-top" + (per_class ? "." + file_safe(written.label) : "");
      out.files.push_back({top + ".png", encode_png(render_top_segments(display, m.segments, m.region_weights), top)});
      written.files.push_back({"top", top + ".png"});
      const std::string segments = stem + "." + result.method + "-segments.png";
      if (!wrote_segments) {
        cv::Mat labels;
        m.segments.convertTo(labels, CV_16U);
        out.files.push_back({segments, encode_png(labels, segments)});
        wrote_segments = true;
      }
      written.files.push_back({"segments", segments});
    }
    if (per_layer) {
      auto& [tiles, captions] = layer_tiles[m.class_index];
      tiles.push_back(overlaid);
      const cv::Size native = result.maps[k].values.size();
      captions.push_back(m.layer + "\n" + std::to_string(native.height) + "x" + std::to_string(native.width) +
                         (m.details.value("constant", false) ? " (constant)" : ""));
    }
    out.maps.push_back(std::move(written));
    out.sources.push_back({result_index, k});
  }
  for (const auto& [cls, grid] : layer_tiles) {
    // The layer-by-layer view: where along the network the evidence forms.
    const std::string name =
        stem + "." + result.method + "-layers" + (per_class ? "." + file_safe(plan.labels.at(cls)) : "") + ".png";
    const int columns = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(grid.first.size()))));
    out.files.push_back({name, encode_png(tile_grid(grid.first, grid.second, columns), name)});
    out.grids.push_back(name);
  }
}

}  // namespace

cv::Mat render_map(const cv::Mat& display_bgr, const DenseMap& map, Colormap colormap, double alpha) {
  if (map.is_signed && !map.segments.empty())
    return render_signed_segments(display_bgr, map.segments, map.region_weights);
  if (map.is_signed) return render_signed_map(display_bgr, map.values, robust_magnitude(map.values));
  if (map.display_min_max) {
    cv::Mat stretched;
    cv::normalize(map.values, stretched, 0.0, 1.0, cv::NORM_MINMAX);
    return overlay(display_bgr, stretched, colormap, alpha);
  }
  return overlay(display_bgr, map.values, colormap, alpha);
}

RenderedExplanation render_explanation(const PreparedImage& image, const ComputedExplanation& computed,
                                       const ExplainPlan& plan, const std::string& stem, bool thumbnail) {
  const cv::Mat display = to_display_bgr(image.image);  // once per image, for every output
  RenderedExplanation out;
  for (size_t r = 0; r < computed.results.size(); ++r) render_result(display, computed.results[r], r, plan, stem, out);
  if (thumbnail) {
    out.thumbnail = stem + ".thumb.png";
    out.files.push_back({out.thumbnail, thumbnail_png(display, out.thumbnail)});
  }
  return out;
}

}  // namespace xai
