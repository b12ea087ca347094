#include "output/explanation_files.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <opencv2/imgproc.hpp>
#include <set>

#include "core/image_geometry.hpp"
#include "methods/perturbation.hpp"
#include "output/figure.hpp"
#include "output/print_figure.hpp"
#include "output/npy.hpp"
#include "output/render.hpp"
#include "core/text.hpp"

namespace xai {
namespace {

namespace fs = std::filesystem;

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

// A figure panel: at most this many pixels on its longer side (a 4000-px X-ray's figure would be
// 8000 px wide); smaller images keep their (enlarged) size.
constexpr int kLargestPanel = 1024;

std::string percent(double p) {
  char text[16];
  std::snprintf(text, sizeof text, "%.3f", p);
  return text;
}

std::string model_title(const ExplainPlan& plan) {
  if (!plan.card.name.empty()) return plan.card.name;
  return fs::path(plan.model.value("path", std::string("model"))).filename().string();
}

// "predicted: LABEL (p=0.973)", the figures' second header line.
std::string predicted_text(const ExplainPlan& plan, const Prediction& p) {
  return "predicted: " + plan.labels.at(p.predicted) + " (p=" + percent(p.probabilities.at(p.predicted)) + ")";
}

// "METHOD" or "METHOD (LAYER)": a map's name in titles and legends.
std::string map_title(const std::string& method, const std::string& layer) {
  return method + (layer.empty() ? "" : " (" + layer + ")");
}

// The header of one map's figure or grid: model, prediction, what is explained and how.
std::vector<std::string> figure_header(const ExplainPlan& plan, const MethodResult& result, int class_index,
                                       const std::string& layer) {
  const Prediction& p = result.prediction;
  std::vector<std::string> lines = {"model: " + model_title(plan),
                                    predicted_text(plan, p) + "   explained: " + plan.labels.at(class_index) + " (p=" +
                                        percent(p.probabilities.at(class_index)) + ")"};
  lines.push_back("method: " + result.method + (layer.empty() ? "" : "   layer: " + layer));
  return lines;
}

// One enlarged, possibly gray, background for every overlay of the image; its figure panel beside.
struct Canvas {
  cv::Mat original;    // the visible part in colour, enlarged: the figures' first panel
  cv::Mat background;  // what overlays are drawn on, enlarged
  int factor = 1;
  std::string input_note;  // what the model saw of it (input_note), for figure headers
};

// One method's result being rendered: what every stage of render_result reads.
struct ResultRendering {
  const Canvas& canvas;
  const MethodResult& result;
  const ExplainPlan& plan;
  const std::string& stem;
  // Files are named by class and by layer only when the result has several of them.
  bool per_class = false, per_layer = false;

  ResultRendering(const Canvas& canvas, const MethodResult& result, const ExplainPlan& plan, const std::string& stem)
      : canvas(canvas), result(result), plan(plan), stem(stem) {
    std::set<int> classes;
    std::set<std::string> layers;
    for (const auto& m : result.maps) {
      classes.insert(m.class_index);
      layers.insert(m.layer);
    }
    per_class = classes.size() > 1;
    per_layer = layers.size() > 1;
  }

  // STEM.METHOD[.LABEL][.layer-LAYER]: the name every file of one map starts with.
  std::string base_of(const DenseMap& m) const {
    std::string s;
    if (per_class) s += "." + file_safe(plan.labels.at(m.class_index));
    if (per_layer) s += ".layer-" + file_safe(m.layer);
    return stem + "." + result.method + s;
  }
};

std::string size_text(const cv::Size& size) { return std::to_string(size.width) + "x" + std::to_string(size.height); }

// What a map was computed as, beside how it is drawn: a 7x7 CAM drawn over a 224-pixel image looks
// smooth only because it was upsampled.
std::string native_text(const DenseMap& computed, const DenseMap& dense, const cv::Size& image_size) {
  const auto [low, high] = value_range(computed);
  const std::string constant = low == high ? ", all " + short_number(low) : "";  // a blank map says why it is blank
  if (!dense.segments.empty()) return std::to_string(dense.region_weights.size()) + " regions" + constant;
  const cv::Size native = computed.values.size();
  return size_text(native) + " map" + (native.width < image_size.width || native.height < image_size.height ? ", upsampled" : "") +
         constant;
}

// What the model saw of the input: its size, the part it sees (a centre crop) and the size it was resized to.
std::string input_note(const PreparedImage& image, const ModelCard& card) {
  const cv::Size original(image.image.pixels.cols, image.image.pixels.rows);
  const cv::Size model(card.input_width, card.input_height);
  const bool cropped = !image.visible.empty() && image.visible.size() != original;
  std::string note = "input " + size_text(original) + " px";
  if (cropped) note += ": the model sees its centre " + size_text(image.visible.size()) + " (shown)";
  if (original != model || cropped)
    note += std::string(cropped ? ", " : ": ") + "resized to " + size_text(model) + " for the model";
  else
    note += ", the model's own size";
  if (!cropped && card.resize == ResizeMode::stretch &&
      std::abs(static_cast<double>(original.width) / original.height - static_cast<double>(model.width) / model.height) > 0.01)
    note += " (stretched: its aspect changes)";
  return note;
}

// Which classes the rows are, in words.
std::string targets_text(const ExplainOptions& options) {
  const TargetSpec& t = options.cam.target;
  if (options.lime.all_classes) return "explained: every class";
  switch (t.kind) {
    case TargetSpec::Kind::predicted: return "explained: the predicted class";
    case TargetSpec::Kind::given: return "explained: a given class";
    case TargetSpec::Kind::top_k: return "explained: the " + std::to_string(t.k) + " most probable classes";
    case TargetSpec::Kind::above: return "explained: every class with p >= " + short_number(t.threshold);
  }
  return "";
}

// One map as the panel figure shows it.
struct PanelEntry {
  std::string column;  // METHOD or METHOD (LAYER)
  std::string native;  // what the map was computed as: "7x7 map, upsampled", "48 regions"
  int class_index = 0;
  cv::Mat overlaid;
  ColourScale scale;
};

// Per class: the layer-by-layer grid's tiles and their captions.
struct LayerGrid {
  std::vector<cv::Mat> tiles;
  std::vector<std::string> captions;
};

// What the report says about one map, before any file is named.
ExplainedMap describe_map(const DenseMap& m, const ResultRendering& r) {
  ExplainedMap written;
  written.method = r.result.method;
  written.class_index = m.class_index;
  written.label = r.plan.labels.at(m.class_index);
  written.probability = r.result.prediction.probabilities.at(m.class_index);
  written.layer = m.layer;
  written.stats = compute_map_stats(m.values);
  if (m.details.contains("faithfulness"))
    for (const char* key : {"deletion_auc", "insertion_auc", "deletion_gain", "insertion_gain"})
      written.faithfulness[key] = m.details["faithfulness"][key];
  return written;
}

// BASE.png (the overlay) and BASE.npy (the map as stored).
void add_map_files(const ResultRendering& r, const DenseMap& m, const cv::Mat& overlaid, const std::string& base,
                   ExplainedMap& written, RenderedExplanation& out) {
  out.files.push_back({base + ".png", encode_png(overlaid, base)});
  written.files.push_back({"overlay", base + ".png"});
  const cv::Mat stored = stored_map(m, r.plan.options.map_size);
  written.stored_size = stored.size();
  out.files.push_back({base + ".npy", npy_of(stored)});
  written.files.push_back({"map", base + ".npy"});
}

// BASE.figure.png: the original beside the overlay, with a header and a colour bar; laid out for print
// (print_figure.hpp) as BASE.figure.svg/.pdf, or .png at a dpi, when asked.
void add_figure(const ResultRendering& r, const DenseMap& m, const cv::Mat& overlaid, const std::string& native,
                const std::string& base, ExplainedMap& written, RenderedExplanation& out) {
  const ColourScale scale = colour_scale_of(m, r.plan.options);
  const std::vector<std::string> titles = {"original",
                                           map_title(r.result.method, m.layer) + "\n" + native};
  std::vector<std::string> header = figure_header(r.plan, r.result, m.class_index, m.layer);
  header.push_back(r.canvas.input_note);
  const FigureFormat format = r.plan.options.figure_format;
  const double dpi = r.plan.options.figure_dpi;
  const std::string name = base + ".figure." + to_string(format);
  // On screen (png without a dpi) the panels at most kLargestPanel pixels, each pixel one pixel of the
  // file; for print at their full resolution, laid out in points.
  const bool screen = format == FigureFormat::png && dpi <= 0;
  const std::vector<cv::Mat> panels =
      screen ? std::vector<cv::Mat>{shrink_to_fit(r.canvas.original, kLargestPanel, cv::INTER_AREA),
                                    shrink_to_fit(overlaid, kLargestPanel, cv::INTER_AREA)}
             : std::vector<cv::Mat>{r.canvas.original, overlaid};
  PrintLayout layout;
  out.files.push_back({name, print_figure(panels, titles, header, &scale, 0, format, dpi, &layout)});
  const nlohmann::ordered_json bar = {{"x", layout.bar.x},         {"y", layout.bar.y},
                                      {"width", layout.bar.width}, {"height", layout.bar.height},
                                      {"units", layout.units}};
  written.files.push_back({"figure", name});
  written.figure = {{"file", name},
                    {"format", to_string(format)},
                    {"dpi", dpi > 0 ? nlohmann::ordered_json(dpi) : nlohmann::ordered_json(nullptr)},
                    {"colour_bar", bar},
                    {"scale", {{"low", scale.low}, {"high", scale.high}, {"units", scale.units},
                               {"kind", scale.kind == ColourScale::Kind::signed_ ? "signed" : "colormap"},
                               {"saturates", scale.saturates}}}};
}

// Region maps: the K most positive regions shown as they are, and as a separate view the K most
// negative; the regions themselves once per result (every map of a method shares them).
void add_region_views(const ResultRendering& r, const DenseMap& m, const DenseMap& drawn, bool& wrote_segments,
                      ExplainedMap& written, RenderedExplanation& out) {
  const std::string label_part = r.per_class ? "." + file_safe(written.label) : "";
  for (const bool negative : {false, true}) {
    const std::string view = r.stem + "." + r.result.method + (negative ? "-bottom" : "-top") + label_part;
    out.files.push_back({view + ".png", encode_png(render_top_segments(r.canvas.original, drawn.segments,
                                                                       m.region_weights, r.plan.options.num_features,
                                                                       negative), view)});
    written.files.push_back({negative ? "bottom" : "top", view + ".png"});
  }
  const std::string segments = r.stem + "." + r.result.method + "-segments.png";
  if (!wrote_segments) {
    cv::Mat labels;
    m.segments.convertTo(labels, CV_16U);
    out.files.push_back({segments, encode_png(labels, segments)});
    wrote_segments = true;
  }
  written.files.push_back({"segments", segments});
}

// One layer's overlay into its class's grid, captioned with the map's native size.
void add_to_layer_grid(const Canvas& canvas, const DenseMap& m, const cv::Mat& overlaid, const cv::Size& native,
                       LayerGrid& grid) {
  if (grid.tiles.empty()) {  // the original first, to compare each layer's map against
    grid.tiles.push_back(canvas.original);
    grid.captions.push_back("original\n ");
  }
  grid.tiles.push_back(overlaid);
  grid.captions.push_back(m.layer + "\n" + std::to_string(native.height) + "x" + std::to_string(native.width) +
                          (m.details.value("constant", false) ? " (constant)" : ""));
}

// The layer-by-layer view, one per class: where along the network the evidence forms.
void write_layer_grids(const ResultRendering& r, const std::map<int, LayerGrid>& grids, size_t first_map,
                       RenderedExplanation& out) {
  for (const auto& [cls, grid] : grids) {
    const std::string name =
        r.stem + "." + r.result.method + "-layers" + (r.per_class ? "." + file_safe(r.plan.labels.at(cls)) : "") + "." +
        to_string(r.plan.options.figure_format);
    const int columns = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(grid.tiles.size()))));
    std::vector<std::string> header = figure_header(r.plan, r.result, cls, "");
    header.back() += "   (each layer's map on its own 0..1 scale)";
    header.push_back(r.canvas.input_note);
    ColourScale scale;
    scale.colormap = r.plan.options.colormap;
    scale.units = "relative (0 = map minimum, 1 = maximum)";
    const int tile = std::max(224, std::min(r.plan.options.figure_size, kLargestPanel / 2));
    out.files.push_back({name, encode_grid(grid.tiles, grid.captions, columns, tile, header, &scale,
                                           r.plan.options.figure_format, r.plan.options.figure_dpi, name)});
    out.grids.push_back(name);
    for (size_t i = first_map; i < out.maps.size(); ++i)  // each layer's map names the grid it is in
      if (out.maps[i].class_index == cls) out.maps[i].files.push_back({"layers", name});
  }
}

// Every class side by side on one scale (each class's own overlay is scaled to its own largest
// weight): which class the evidence favours, and by how much, can be read across the panels.
void write_class_comparison(const ResultRendering& r, const std::vector<DenseMap>& dense,
                            const std::vector<DenseMap>& drawn, size_t first_map, RenderedExplanation& out) {
  const ExplainPlan& plan = r.plan;
  const Prediction& prediction = r.result.prediction;
  double limit = 0;
  for (const auto& m : dense) limit = std::max(limit, -colour_scale_of(m, plan.options).low);
  std::vector<cv::Mat> panels{r.canvas.original};
  std::vector<std::string> titles{"original\n "};
  for (const auto& m : drawn) {
    panels.push_back(m.segments.empty()
                         ? render_signed_map(r.canvas.background, m.values, limit, plan.options.signed_colormap)
                         : render_signed_segments(r.canvas.background, m.segments, m.region_weights, limit,
                                                  plan.options.signed_colormap));
    titles.push_back(plan.labels.at(m.class_index) + "\np=" + percent(prediction.probabilities.at(m.class_index)));
  }
  ColourScale scale = colour_scale_of(dense.front(), plan.options);
  scale.low = -limit;
  scale.high = limit;
  std::vector<std::string> header = figure_header(plan, r.result, dense.front().class_index, "");
  header[1] = predicted_text(plan, prediction);
  header.back() += "   every class on one scale";
  const int tile = std::max(160, std::min(plan.options.figure_size, kLargestPanel / 2));
  const int columns = std::min<int>(static_cast<int>(panels.size()), 5);
  const std::string name = r.stem + "." + r.result.method + "-classes." + to_string(plan.options.figure_format);
  out.files.push_back({name, encode_grid(panels, titles, columns, tile, header, &scale, plan.options.figure_format,
                                         plan.options.figure_dpi, name)});
  out.grids.push_back(name);
  for (size_t i = first_map; i < out.maps.size(); ++i) out.maps[i].files.push_back({"classes", name});
}

// The outputs of one method's result: per map its files and report entry, then the grids that
// compare its maps.
void render_result(const Canvas& canvas, const cv::Size& image_size, const MethodResult& result, size_t result_index,
                   const ExplainPlan& plan, const std::string& stem, RenderedExplanation& out,
                   std::vector<PanelEntry>& panel) {
  const ResultRendering r(canvas, result, plan, stem);
  // Maps at the image's size for the stored .npy and the statistics; at the enlarged size for drawing
  // (continuous maps interpolate from their own resolution; region maps stay exact per region).
  const std::vector<DenseMap> dense = dense_maps(result, image_size);
  const std::vector<DenseMap> drawn = canvas.factor > 1 ? dense_maps(result, canvas.background.size()) : dense;
  std::map<int, LayerGrid> layer_grids;  // per class
  bool wrote_segments = false;
  const size_t first_map = out.maps.size();
  for (size_t k = 0; k < dense.size(); ++k) {
    const DenseMap& m = dense[k];
    const std::string base = r.base_of(m);
    const cv::Mat overlaid = render_map(canvas.background, drawn[k], plan.options.colormap, plan.options.alpha,
                                      plan.options.signed_colormap);
    ExplainedMap written = describe_map(m, r);
    add_map_files(r, m, overlaid, base, written, out);
    const std::string native = native_text(result.maps[k], m, image_size);
    if (plan.options.figures) add_figure(r, m, overlaid, native, base, written, out);
    if (!m.segments.empty()) add_region_views(r, m, drawn[k], wrote_segments, written, out);
    if (r.per_layer) add_to_layer_grid(canvas, m, overlaid, result.maps[k].values.size(), layer_grids[m.class_index]);
    if (plan.options.panel)
      panel.push_back({map_title(result.method, m.layer), native, m.class_index, overlaid,
                       colour_scale_of(m, plan.options)});
    out.maps.push_back(std::move(written));
    out.sources.push_back({result_index, k});
  }
  write_layer_grids(r, layer_grids, first_map, out);
  if (r.per_class && !r.per_layer && !dense.empty() && dense.front().is_signed)
    write_class_comparison(r, dense, drawn, first_map, out);
}

// STEM.panel.EXT: the question "what does each method see?" in one figure: the original, then one
// column per method (and layer) with each map's own colour bar and units; one row per explained class,
// its original captioned with the class and its probability.
void write_panel(const Canvas& canvas, const std::vector<PanelEntry>& entries, const ExplainPlan& plan,
                 const Prediction& prediction, const std::string& stem, RenderedExplanation& out) {
  std::vector<std::string> columns;
  std::vector<int> classes;
  for (const auto& e : entries) {
    if (std::find(columns.begin(), columns.end(), e.column) == columns.end()) columns.push_back(e.column);
    if (std::find(classes.begin(), classes.end(), e.class_index) == classes.end()) classes.push_back(e.class_index);
  }
  const cv::Mat panel_original = shrink_to_fit(canvas.original, kLargestPanel / 2, cv::INTER_AREA);
  std::vector<FigurePanel> panels;
  for (const int cls : classes) {
    panels.push_back({panel_original, plan.labels.at(cls) + "\np=" + percent(prediction.probabilities.at(cls)),
                      std::nullopt});
    for (const auto& column : columns) {
      const auto found = std::find_if(entries.begin(), entries.end(),
                                      [&](const PanelEntry& e) { return e.column == column && e.class_index == cls; });
      if (found == entries.end()) {  // a method that explained other classes: an empty cell says so
        panels.push_back({cv::Mat(panel_original.size(), CV_8UC3, cv::Scalar(255, 255, 255)), column + "\n(not explained)",
                          std::nullopt});
        continue;
      }
      panels.push_back({shrink_to_fit(found->overlaid, kLargestPanel / 2, cv::INTER_AREA), column + "\n" + found->native,
                        found->scale});
    }
  }
  std::string methods;
  for (const auto& column : columns) methods += (methods.empty() ? "" : ", ") + column;
  std::vector<std::string> header = {
      "model: " + model_title(plan),
      predicted_text(plan, prediction) + "   " + targets_text(plan.options),
      "methods: " + methods + "   (each map on its own scale)"};
  header.push_back(canvas.input_note);
  const std::string name = stem + ".panel." + to_string(plan.options.figure_format);
  out.files.push_back({name, print_panels(panels, header, nullptr, static_cast<int>(columns.size()) + 1,
                                          plan.options.figure_format, plan.options.figure_dpi)});
  out.grids.push_back(name);
  for (auto& map : out.maps) map.files.push_back({"panel", name});
}

// STEM.faithfulness[.LABEL].EXT (--faithfulness with figures): each map's deletion and insertion curves
// beside the random order's, one figure per explained class, the areas in the legend.
void write_faithfulness_curves(const ComputedExplanation& computed, const ExplainPlan& plan, const std::string& stem,
                               RenderedExplanation& out) {
  std::vector<int> classes;
  for (const auto& result : computed.results)
    for (const auto& m : result.maps)
      if (m.details.contains("faithfulness") &&
          std::find(classes.begin(), classes.end(), m.class_index) == classes.end())
        classes.push_back(m.class_index);
  for (const int cls : classes) {
    PlotFigure figure;
    const std::string label = plan.labels.at(cls);
    figure.header = {"model: " + model_title(plan), "faithfulness for " + label + ": pixels removed (deletion) or shown "
                     "(insertion) in the map's order, most important first; fill: " +
                     to_string(plan.options.faithfulness.fill)};
    for (const char* kind : {"deletion", "insertion"}) {
      Plot plot;
      plot.title = std::string(kind) + (std::string(kind) == "deletion" ? " (lower area: more faithful)" : " (higher area: more faithful)");
      plot.x_label = std::string("fraction of pixels ") + (std::string(kind) == "deletion" ? "removed" : "shown");
      plot.y_label = "p(" + label + ")";
      plot.x_ticks = {0, 0.25, 0.5, 0.75, 1};
      plot.y_ticks = {0, 0.25, 0.5, 0.75, 1};
      figure.plots.push_back(plot);
    }
    const auto curve_points = [](const nlohmann::ordered_json& curve) {
      std::vector<cv::Point2d> points;
      const auto& p = curve.at("probabilities");
      for (size_t k = 0; k < p.size(); ++k) points.emplace_back(p.size() > 1 ? static_cast<double>(k) / (p.size() - 1) : 0, p[k].get<double>());
      return points;
    };
    const nlohmann::ordered_json* random = nullptr;
    int colour = 0;
    for (const auto& result : computed.results) {
      for (const auto& m : result.maps) {
        if (m.class_index != cls || !m.details.contains("faithfulness")) continue;
        const auto& f = m.details.at("faithfulness");
        random = &f;
        const std::string name = map_title(result.method, m.layer);
        const std::string note = "deletion area " + short_number(f.at("deletion_auc").get<double>()) + ", insertion area " +
                                 short_number(f.at("insertion_auc").get<double>());
        for (int p = 0; p < 2; ++p) {
          PlotSeries series;
          series.name = name, series.note = note, series.plot = p, series.colour = colour;
          series.points = curve_points(f.at(p == 0 ? "deletion" : "insertion"));
          figure.series.push_back(std::move(series));
        }
        ++colour;
      }
    }
    if (random)  // one random order serves every map of the class
      for (int p = 0; p < 2; ++p) {
        PlotSeries series;
        series.name = "random order";
        series.note = "deletion area " + short_number(random->at("random_deletion_auc").get<double>()) +
                      ", insertion area " + short_number(random->at("random_insertion_auc").get<double>());
        series.plot = p, series.colour = -2, series.dashed = true;
        series.points = curve_points(random->at(p == 0 ? "random_deletion" : "random_insertion"));
        figure.series.push_back(std::move(series));
      }
    const bool per_class = classes.size() > 1;
    const std::string name =
        stem + ".faithfulness" + (per_class ? "." + file_safe(label) : "") + "." + to_string(plan.options.figure_format);
    out.files.push_back({name, print_plot(figure, plan.options.figure_format, plan.options.figure_dpi)});
    out.grids.push_back(name);
    for (auto& map : out.maps)
      if (map.class_index == cls && !map.faithfulness.empty()) map.files.push_back({"faithfulness_curves", name});
  }
}

}  // namespace

cv::Mat render_map(const cv::Mat& display_bgr, const DenseMap& map, Colormap colormap, double alpha,
                   SignedColormap signed_colormap) {
  if (map.is_signed && !map.segments.empty())
    return render_signed_segments(display_bgr, map.segments, map.region_weights, 0, signed_colormap);
  if (map.is_signed) return render_signed_map(display_bgr, map.values, robust_magnitude(map.values), signed_colormap);
  if (map.display_min_max) {
    cv::Mat stretched;
    cv::normalize(map.values, stretched, 0.0, 1.0, cv::NORM_MINMAX);
    return overlay(display_bgr, stretched, colormap, alpha);
  }
  return overlay(display_bgr, map.values, colormap, alpha);
}

ColourScale colour_scale_of(const DenseMap& map, const ExplainOptions& options) {
  ColourScale scale;
  scale.colormap = options.colormap;
  scale.signed_colormap = options.signed_colormap;
  scale.alpha = options.alpha;
  if (map.is_signed) {
    // As render_map draws it: region weights relative to the largest; dense values to a robust
    // magnitude, beyond which they are drawn as the ends.
    double limit = 0, largest = 0;
    cv::minMaxLoc(cv::abs(map.values), nullptr, &largest);
    if (!map.segments.empty()) {
      for (double w : map.region_weights) limit = std::max(limit, std::abs(w));
    } else {
      limit = robust_magnitude(map.values);
      scale.saturates = largest > limit * (1 + 1e-6);
    }
    scale.kind = ColourScale::Kind::signed_;
    scale.low = -limit;
    scale.high = limit;
    scale.units = "attribution (+ for the class, - against)";
  } else if (map.display_min_max) {
    cv::minMaxLoc(map.values, &scale.low, &scale.high);
    scale.units = "map value (its range stretched over the colours)";
  } else {
    scale.units = "relative (0 = map minimum, 1 = maximum)";
  }
  return scale;
}

std::optional<ColourScale> common_colour_scale(const std::vector<ColourScale>& scales) {
  if (scales.empty()) return std::nullopt;
  for (const auto& s : scales)
    if (s.kind != scales.front().kind || s.low != scales.front().low || s.high != scales.front().high ||
        s.units != scales.front().units)
      return std::nullopt;
  return scales.front();
}

RenderedExplanation render_explanation(const PreparedImage& image, const ComputedExplanation& computed,
                                       const ExplainPlan& plan, const std::string& stem, bool thumbnail) {
  const cv::Mat display = display_bgr(image);  // once per image, for every output
  Canvas canvas;
  canvas.factor = enlargement_factor(display.size(), plan.options.figure_size);
  canvas.original = enlarge(display, canvas.factor);
  canvas.background = enlarge(overlay_background(display, plan.options.background), canvas.factor);
  canvas.input_note = input_note(image, plan.card);
  RenderedExplanation out;
  std::vector<PanelEntry> panel;
  for (size_t r = 0; r < computed.results.size(); ++r)
    render_result(canvas, display.size(), computed.results[r], r, plan, stem, out, panel);
  if (plan.options.panel && !panel.empty())
    write_panel(canvas, panel, plan, computed.results.front().prediction, stem, out);
  if (plan.options.faithfulness.enabled && (plan.options.figures || plan.options.panel))
    write_faithfulness_curves(computed, plan, stem, out);
  if (thumbnail) {
    out.thumbnail = stem + ".thumb.png";
    out.files.push_back({out.thumbnail, thumbnail_png(display, out.thumbnail)});
  }
  return out;
}

bool is_xai_output_name(const std::string& file_name) {
  // STEM.PART[.PART...].EXT: an output when a part after the stem names what xai writes.
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t dot = file_name.find('.'); dot != std::string::npos; dot = file_name.find('.', start)) {
    parts.push_back(file_name.substr(start, dot - start));
    start = dot + 1;
  }
  if (parts.size() < 2) return false;  // STEM.EXT: an input
  const std::vector<std::string> names = method_names();
  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string& part = parts[i];
    if (part == "thumb" || part == "compare" || part == "sanity" || part == "diff" || part == "panel" || part == "faithfulness" ||
        part == "agreement")
      return true;
    for (const auto& name : names)
      if (part == name || part.rfind(name + "-", 0) == 0) return true;
  }
  return false;
}

}  // namespace xai
