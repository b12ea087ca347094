#include "output/figure_scene.hpp"

#include <cairo-pdf.h>
#include <cairo.h>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <sstream>

#include "core/text.hpp"
#include "output/render.hpp"
#include "xai/error.hpp"

namespace xai {
namespace {

// ---- cairo: PDF and PNG ----

struct CairoImage {
  std::vector<unsigned char> pixels;
  cairo_surface_t* surface = nullptr;
  explicit CairoImage(const cv::Mat& bgr) {
    CV_Assert(bgr.type() == CV_8UC3);
    const int stride = cairo_format_stride_for_width(CAIRO_FORMAT_RGB24, bgr.cols);
    pixels.assign(static_cast<size_t>(stride) * bgr.rows, 255);
    for (int y = 0; y < bgr.rows; ++y)
      for (int x = 0; x < bgr.cols; ++x) {
        const cv::Vec3b p = bgr.at<cv::Vec3b>(y, x);
        unsigned char* out = &pixels[static_cast<size_t>(y) * stride + 4 * x];  // B, G, R, unused (little-endian)
        out[0] = p[0], out[1] = p[1], out[2] = p[2];
      }
    surface = cairo_image_surface_create_for_data(pixels.data(), CAIRO_FORMAT_RGB24, bgr.cols, bgr.rows, stride);
  }
  ~CairoImage() { cairo_surface_destroy(surface); }
  CairoImage(const CairoImage&) = delete;
  CairoImage& operator=(const CairoImage&) = delete;
};

void paint_image(cairo_t* cr, const cv::Mat& bgr, const cv::Rect2d& at, cairo_filter_t filter) {
  if (bgr.empty() || !(at.width > 0) || !(at.height > 0)) return;  // nothing to draw (cairo needs an invertible scale)
  const CairoImage image(bgr);
  cairo_save(cr);
  cairo_translate(cr, at.x, at.y);
  cairo_scale(cr, at.width / bgr.cols, at.height / bgr.rows);
  cairo_set_source_surface(cr, image.surface, 0, 0);
  cairo_pattern_set_filter(cairo_get_source(cr), filter);
  cairo_paint(cr);
  cairo_restore(cr);
}

// A bar's colours in drawing order: top to bottom (high first) for the figure's, left to right (low
// first, a 1-row image) for a panel's.
cv::Mat bar_colours(const PlacedBar& bar) {
  const cv::Mat column = scale_colour_column(bar.scale, bar.raster_pixels > 1 ? bar.raster_pixels : kBarRows);
  if (!bar.horizontal) return column;
  cv::Mat flipped;
  cv::flip(column, flipped, 0);
  return flipped.t();
}

// `raster`: the bar as an image of its colours (exact at its ends after scaling to pixels); otherwise
// a vector gradient.
void draw_scene(cairo_t* cr, const Scene& scene, bool raster) {
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  for (const auto& image : scene.images) paint_image(cr, image.bgr, image.at, raster ? CAIRO_FILTER_GOOD : CAIRO_FILTER_NEAREST);
  for (const auto& rect : scene.rects) {
    cairo_rectangle(cr, rect.at.x, rect.at.y, rect.at.width, rect.at.height);
    cairo_set_source_rgb(cr, rect.bgr[2] / 255.0, rect.bgr[1] / 255.0, rect.bgr[0] / 255.0);
    cairo_fill(cr);
  }
  for (const auto& stroke : scene.strokes) {
    if (stroke.points.size() < 2) continue;
    cairo_set_source_rgb(cr, stroke.bgr[2] / 255.0, stroke.bgr[1] / 255.0, stroke.bgr[0] / 255.0);
    cairo_set_line_width(cr, stroke.width);
    const double dash[] = {2.5, 1.5};
    cairo_set_dash(cr, dash, stroke.dashed ? 2 : 0, 0);
    cairo_move_to(cr, stroke.points[0].x, stroke.points[0].y);
    for (size_t i = 1; i < stroke.points.size(); ++i) cairo_line_to(cr, stroke.points[i].x, stroke.points[i].y);
    cairo_stroke(cr);
    cairo_set_dash(cr, nullptr, 0, 0);
  }
  for (const auto& marker : scene.markers) {
    cairo_set_source_rgb(cr, marker.bgr[2] / 255.0, marker.bgr[1] / 255.0, marker.bgr[0] / 255.0);
    if (marker.diamond) {
      const double r = marker.radius;
      cairo_move_to(cr, marker.at.x, marker.at.y - r);
      cairo_line_to(cr, marker.at.x + r, marker.at.y);
      cairo_line_to(cr, marker.at.x, marker.at.y + r);
      cairo_line_to(cr, marker.at.x - r, marker.at.y);
      cairo_close_path(cr);
      cairo_fill(cr);
    } else {
      cairo_set_line_width(cr, 0.5);
      cairo_new_sub_path(cr);
      cairo_arc(cr, marker.at.x, marker.at.y, marker.radius, 0, 2 * M_PI);
      cairo_stroke(cr);
    }
  }
  for (const auto& bar : scene.bars) {
    const cv::Mat colours = bar_colours(bar);
    if (raster) {
      paint_image(cr, colours, bar.at, CAIRO_FILTER_NEAREST);
    } else {
      cairo_pattern_t* gradient =
          bar.horizontal ? cairo_pattern_create_linear(bar.at.x, 0, bar.at.x + bar.at.width, 0)
                         : cairo_pattern_create_linear(0, bar.at.y, 0, bar.at.y + bar.at.height);
      const int n = static_cast<int>(colours.total());
      for (int i = 0; i < n; i += 8) {
        const cv::Vec3b c = colours.at<cv::Vec3b>(i);
        cairo_pattern_add_color_stop_rgb(gradient, static_cast<double>(i) / (n - 1), c[2] / 255.0, c[1] / 255.0,
                                         c[0] / 255.0);
      }
      cairo_rectangle(cr, bar.at.x, bar.at.y, bar.at.width, bar.at.height);
      cairo_set_source(cr, gradient);
      cairo_fill(cr);
      cairo_pattern_destroy(gradient);
    }
    cairo_rectangle(cr, bar.at.x - 0.25, bar.at.y - 0.25, bar.at.width + 0.5, bar.at.height + 0.5);
    cairo_set_source_rgb(cr, 90 / 255.0, 90 / 255.0, 90 / 255.0);
    cairo_set_line_width(cr, 0.5);
    cairo_stroke(cr);
  }
  cairo_select_font_face(cr, kFontFamily, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  for (const auto& text : scene.texts) {
    cairo_set_source_rgb(cr, text.ink[2] / 255.0, text.ink[1] / 255.0, text.ink[0] / 255.0);
    cairo_set_font_size(cr, text.size);
    double x = text.x;
    if (text.right_aligned || text.centred) {
      cairo_text_extents_t extents;
      cairo_text_extents(cr, text.text.c_str(), &extents);
      x -= text.centred ? extents.x_advance / 2 : extents.x_advance;
    }
    cairo_move_to(cr, x, text.y);
    cairo_show_text(cr, text.text.c_str());
  }
}

cairo_status_t append_to_string(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

void check(cairo_status_t status, const std::string& what) {
  if (status != CAIRO_STATUS_SUCCESS) throw output_error(what + ": cairo: " + cairo_status_to_string(status));
}

std::string pdf_of(const Scene& scene, const std::string& title) {
  std::string bytes;
  cairo_surface_t* surface = cairo_pdf_surface_create_for_stream(append_to_string, &bytes, scene.width, scene.height);
  cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_TITLE, title.c_str());
  cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATOR, "xai");
  cairo_t* cr = cairo_create(surface);
  draw_scene(cr, scene, false);
  const cairo_status_t drawn = cairo_status(cr);
  cairo_destroy(cr);
  cairo_surface_finish(surface);
  const cairo_status_t finished = cairo_surface_status(surface);
  cairo_surface_destroy(surface);
  check(drawn, "PDF figure");
  check(finished, "PDF figure");
  return bytes;
}

uint32_t crc32_of(const std::string& bytes) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  uint32_t c = 0xffffffffu;
  for (unsigned char b : bytes) c = table[(c ^ b) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

void append_big_endian(std::string& out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((value >> shift) & 0xff));
}

// The PNG with a pHYs chunk after its header, so that layout programs place it at `dpi`.
std::string with_resolution(const std::string& png, double dpi) {
  constexpr size_t kAfterHeader = 8 + 25;  // signature, then IHDR (length, type, 13 bytes, CRC)
  if (png.size() < kAfterHeader || png.compare(12, 4, "IHDR") != 0) return png;
  const uint32_t per_metre = static_cast<uint32_t>(std::lround(dpi / 0.0254));
  std::string body = "pHYs";
  append_big_endian(body, per_metre);
  append_big_endian(body, per_metre);
  body.push_back(1);  // the unit: metres
  std::string chunk;
  append_big_endian(chunk, 9);
  chunk += body;
  append_big_endian(chunk, crc32_of(body));
  return png.substr(0, kAfterHeader) + chunk + png.substr(kAfterHeader);
}

std::string png_of(const Scene& scene, double dpi) {
  const double zoom = dpi / 72.0;
  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, static_cast<int>(std::ceil(scene.width * zoom)),
                                                        static_cast<int>(std::ceil(scene.height * zoom)));
  cairo_t* cr = cairo_create(surface);
  cairo_scale(cr, zoom, zoom);
  draw_scene(cr, scene, true);
  const cairo_status_t drawn = cairo_status(cr);
  cairo_destroy(cr);
  cairo_surface_flush(surface);
  // Encoded as xai's other PNGs are (OpenCV: fast deflate, run-length strategy), not by cairo: libpng's
  // defaults (level 6, every row filter tried) took 60 % of a whole `xai slide` run for its ~2000 px
  // overlays, for files ~8 % smaller. RGB24 pixels are 32-bit words, B, G, R and an unused byte in memory.
  std::string bytes;
  if (drawn == CAIRO_STATUS_SUCCESS) {
    static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "RGB24 words read as B, G, R, X bytes");
    const cv::Mat bgrx(cairo_image_surface_get_height(surface), cairo_image_surface_get_width(surface), CV_8UC4,
                       cairo_image_surface_get_data(surface),
                       static_cast<size_t>(cairo_image_surface_get_stride(surface)));
    cv::Mat bgr;
    cv::cvtColor(bgrx, bgr, cv::COLOR_BGRA2BGR);
    bytes = encode_png(bgr, "PNG figure");
  }
  cairo_surface_destroy(surface);
  check(drawn, "PNG figure");
  return with_resolution(bytes, dpi);
}

// ---- SVG, written here: cairo draws SVG text as glyph outlines; journals want <text> ----

std::string hex_colour(const cv::Vec3b& bgr) {
  char text[8];
  std::snprintf(text, sizeof text, "#%02x%02x%02x", bgr[2], bgr[1], bgr[0]);
  return text;
}

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", value);
  return text;
}

std::string svg_of(const Scene& scene, const std::string& title) {
  std::ostringstream out;
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" width=\""
      << number(scene.width / kPointsPerMm) << "mm\" height=\"" << number(scene.height / kPointsPerMm)
      << "mm\" viewBox=\"0 0 " << number(scene.width) << " " << number(scene.height) << "\">\n"
      << "<title>" << markup_escaped(title) << "</title>\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  for (const auto& image : scene.images)
    out << "<image x=\"" << number(image.at.x) << "\" y=\"" << number(image.at.y) << "\" width=\"" << number(image.at.width)
        << "\" height=\"" << number(image.at.height)
        << "\" preserveAspectRatio=\"none\" style=\"image-rendering:pixelated\" xlink:href=\"data:image/png;base64,"
        << base64_encode(encode_png(image.bgr, "figure panel")) << "\"/>\n";
  for (const auto& rect : scene.rects)
    out << "<rect x=\"" << number(rect.at.x) << "\" y=\"" << number(rect.at.y) << "\" width=\"" << number(rect.at.width)
        << "\" height=\"" << number(rect.at.height) << "\" fill=\"" << hex_colour(rect.bgr) << "\"/>\n";
  for (const auto& stroke : scene.strokes) {
    out << "<polyline fill=\"none\" stroke=\"" << hex_colour(stroke.bgr) << "\" stroke-width=\"" << number(stroke.width)
        << "\"" << (stroke.dashed ? " stroke-dasharray=\"2.5 1.5\"" : "") << " points=\"";
    for (const auto& p : stroke.points) out << number(p.x) << "," << number(p.y) << " ";
    out << "\"/>\n";
  }
  for (const auto& marker : scene.markers) {
    const double r = marker.radius;
    if (marker.diamond)
      out << "<polygon fill=\"" << hex_colour(marker.bgr) << "\" points=\"" << number(marker.at.x) << ","
          << number(marker.at.y - r) << " " << number(marker.at.x + r) << "," << number(marker.at.y) << " "
          << number(marker.at.x) << "," << number(marker.at.y + r) << " " << number(marker.at.x - r) << ","
          << number(marker.at.y) << "\"/>\n";
    else
      out << "<circle fill=\"none\" stroke=\"" << hex_colour(marker.bgr) << "\" stroke-width=\"0.5\" cx=\""
          << number(marker.at.x) << "\" cy=\"" << number(marker.at.y) << "\" r=\"" << number(r) << "\"/>\n";
  }
  for (size_t b = 0; b < scene.bars.size(); ++b) {
    const PlacedBar& bar = scene.bars[b];
    // The figure's bar keeps the plain ids; a panel's bar is numbered.
    const bool figure_bar = scene.figure_bar == b;
    const std::string id = figure_bar ? "colour-bar" : "colour-bar-" + std::to_string(b);
    const cv::Mat colours = bar_colours(bar);
    const int n = static_cast<int>(colours.total());
    out << "<defs><linearGradient id=\"" << id << "\" x1=\"0\" y1=\"0\" x2=\"" << (bar.horizontal ? 1 : 0)
        << "\" y2=\"" << (bar.horizontal ? 0 : 1) << "\">";
    for (int i = 0; i < n; i += 8)
      out << "<stop offset=\"" << static_cast<double>(i) / (n - 1) << "\" stop-color=\""
          << hex_colour(colours.at<cv::Vec3b>(i)) << "\"/>";
    out << "</linearGradient></defs>\n"
        << "<rect id=\"" << id << "-strip\" x=\"" << number(bar.at.x) << "\" y=\"" << number(bar.at.y) << "\" width=\""
        << number(bar.at.width) << "\" height=\"" << number(bar.at.height) << "\" fill=\"url(#" << id
        << ")\" stroke=\"#5a5a5a\" stroke-width=\"0.5\"/>\n";
  }
  for (const auto& text : scene.texts)
    out << "<text x=\"" << number(text.x) << "\" y=\"" << number(text.y) << "\" font-family=\"" << kFontFamily
        << ", sans-serif\" font-size=\"" << number(text.size) << "\" fill=\"" << hex_colour(text.ink) << "\""
        << (text.right_aligned ? " text-anchor=\"end\"" : text.centred ? " text-anchor=\"middle\"" : "") << ">"
        << markup_escaped(text.text) << "</text>\n";
  out << "</svg>\n";
  return out.str();
}

// In the file's units; a PNG's snapped parts on their whole pixels exactly.
cv::Rect2d scaled(const cv::Rect2d& r, double zoom, bool whole_pixels) {
  const auto to = [&](double v) { return whole_pixels ? std::round(v * zoom) : v * zoom; };
  return {to(r.x), to(r.y), to(r.width), to(r.height)};
}

// A PNG's bars on whole pixels, one colour per pixel: the first and last are exactly the scale's ends.
void snap_bars(Scene& scene, double zoom) {
  for (auto& bar : scene.bars) {
    const double x0 = std::round(bar.at.x * zoom), y0 = std::round(bar.at.y * zoom);
    const double x1 = std::round(bar.at.br().x * zoom), y1 = std::round(bar.at.br().y * zoom);
    bar.at = cv::Rect2d(x0 / zoom, y0 / zoom, (x1 - x0) / zoom, (y1 - y0) / zoom);
    bar.raster_pixels = static_cast<int>(bar.horizontal ? x1 - x0 : y1 - y0);
  }
}

// A PNG's images on whole pixels: one drawn at its own size is copied pixel for pixel.
void snap_images(Scene& scene, double zoom) {
  for (auto& image : scene.images) {
    const double x0 = std::round(image.at.x * zoom), y0 = std::round(image.at.y * zoom);
    // At least a pixel a side: a 2000x1 image's panel is a line, not nothing.
    const double w = std::max(1.0, std::round(image.at.width * zoom)), h = std::max(1.0, std::round(image.at.height * zoom));
    image.at = cv::Rect2d(x0 / zoom, y0 / zoom, w / zoom, h / zoom);
  }
}

}  // namespace

std::string print_scene(Scene scene, const std::string& title, FigureFormat format, double dpi, PrintLayout* layout) {
  if (format == FigureFormat::png && dpi <= 0) dpi = kScreenDpi;
  const bool png = format == FigureFormat::png;
  const double zoom = png ? dpi / 72.0 : 1.0;
  if (png) snap_bars(scene, zoom), snap_images(scene, zoom);
  if (layout) {
    layout->width = scene.width * zoom, layout->height = scene.height * zoom;
    layout->dpi = format == FigureFormat::png ? dpi : 0;
    layout->panels.clear();
    layout->panel_bars.clear();
    for (const auto& image : scene.images) layout->panels.push_back(scaled(image.at, zoom, png));
    for (const auto& bar : scene.panel_bars)
      layout->panel_bars.push_back(bar ? scaled(scene.bars[*bar].at, zoom, png) : cv::Rect2d());
    layout->bar = scene.figure_bar ? scaled(scene.bars[*scene.figure_bar].at, zoom, png) : cv::Rect2d();
    layout->units = format == FigureFormat::png ? "px" : "pt";
  }
  switch (format) {
    case FigureFormat::png: return png_of(scene, dpi);
    case FigureFormat::pdf: return pdf_of(scene, title);
    case FigureFormat::svg: return svg_of(scene, title);
  }
  return {};
}

}  // namespace xai
