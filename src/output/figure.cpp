#include "output/figure.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace xai {
namespace {

constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;
constexpr int kPadding = 10;
constexpr int kBarWidth = 18;
constexpr double kHeaderScale = 0.5, kTitleScale = 0.45, kLabelScale = 0.42;
// Text longer than its room is drawn smaller, down to this, before the room grows: figures sized by
// their panels, not by their longest caption.
constexpr double kSmallestScale = 0.32;
constexpr int kHeaderLine = 20, kTitleLine = 18, kLabelLine = 16;
const cv::Scalar kInk(30, 30, 30);
const cv::Vec3b kNeutral(128, 128, 128);  // "the image" under a signed colour: mid gray

int text_width(const std::string& text, double scale) {
  int baseline = 0;
  return cv::getTextSize(text, kFont, scale, 1, &baseline).width;
}

// The scale at most `scale` at which `text` fits in `room` pixels (never below kSmallestScale).
double fitted_scale(const std::string& text, double scale, int room) {
  const int width = text_width(text, scale);
  return width <= room || width <= 0 ? scale : std::max(kSmallestScale, scale * room / width);
}

void draw_text(cv::Mat& canvas, const std::string& text, cv::Point at, double scale) {
  cv::putText(canvas, text, at, kFont, scale, kInk, 1, cv::LINE_AA);
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

std::string short_number(double value) {
  if (value == 0) return "0";
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", value);
  return text;
}

namespace {

// The colours of a column of values (CV_32FC1, N x 1) in one call: a colour map's table is built per
// call, ~0.5 ms, too slow to build once per row of a bar.
cv::Mat scale_colours(const ColourScale& scale, const cv::Mat& values) {
  if (scale.kind == ColourScale::Kind::colormap) {
    const double span = scale.high - scale.low;
    cv::Mat levels = span > 0 ? cv::Mat((values - scale.low) / span) : cv::Mat(values.size(), CV_32FC1, cv::Scalar(1.0));
    levels = cv::max(cv::min(levels, 1.0), 0.0);
    return colorize(levels, scale.colormap);
  }
  // As render_signed_map draws a value over the image, drawn over mid gray.
  const double limit = std::max(std::abs(scale.low), std::abs(scale.high));
  const cv::Mat gray(values.size(), CV_8UC3, cv::Scalar(kNeutral[0], kNeutral[1], kNeutral[2]));
  return render_signed_map(gray, values, limit, scale.signed_colormap);
}

}  // namespace

cv::Mat scale_colour_column(const ColourScale& scale, int rows) {
  cv::Mat values(rows, 1, CV_32FC1);
  for (int row = 0; row < rows; ++row) {
    const double t = rows > 1 ? static_cast<double>(row) / (rows - 1) : 0.0;
    values.at<float>(row, 0) = static_cast<float>(scale.high - t * (scale.high - scale.low));
  }
  return scale_colours(scale, values);
}

cv::Vec3b scale_colour(const ColourScale& scale, double value) {
  return scale_colours(scale, cv::Mat(1, 1, CV_32FC1, cv::Scalar(value))).at<cv::Vec3b>(0, 0);
}

cv::Mat compose_figure(const std::vector<cv::Mat>& panels, const std::vector<std::string>& titles,
                       const std::vector<std::string>& header, const ColourScale* scale, int columns,
                       FigureLayout* layout) {
  CV_Assert(!panels.empty() && panels.size() == titles.size());
  const int count = static_cast<int>(panels.size());
  columns = columns > 0 ? std::min(columns, count) : count;
  const int rows = (count + columns - 1) / columns;
  int cell_w = 0, panel_h = 0, title_lines = 1;
  std::vector<std::vector<std::string>> title_text;
  for (int i = 0; i < count; ++i) {
    cell_w = std::max(cell_w, panels[i].cols);
    panel_h = std::max(panel_h, panels[i].rows);
    title_text.push_back(split_lines(titles[i]));
    title_lines = std::max<int>(title_lines, static_cast<int>(title_text.back().size()));
  }
  // Titles fit their cell, drawn smaller when they must; only what does not fit even so widens it.
  for (int i = 0; i < count; ++i)
    for (const auto& line : title_text[i]) cell_w = std::max(cell_w, text_width(line, kSmallestScale));
  const int cell_h = panel_h + title_lines * kTitleLine;
  // The bar's labels: the ends and the middle, and the units beneath.
  std::string high_label, mid_label, low_label;
  int bar_block_w = 0, units_w = 0;
  if (scale) {
    high_label = (scale->saturates ? ">=" : "") + short_number(scale->high);
    low_label = (scale->saturates ? "<=" : "") + short_number(scale->low);
    mid_label = short_number((scale->low + scale->high) / 2);
    bar_block_w = kPadding + kBarWidth + 6 +
                  std::max({text_width(high_label, kLabelScale), text_width(low_label, kLabelScale),
                            text_width(mid_label, kLabelScale)});
    units_w = text_width(scale->units, kSmallestScale);
  }
  const int grid_w = columns * cell_w + (columns - 1) * kPadding;
  const int grid_h = rows * cell_h + (rows - 1) * kPadding;
  const int header_h = header.empty() ? 0 : static_cast<int>(header.size()) * kHeaderLine + kPadding / 2;
  // The header fits the panels' width, drawn smaller when it must.
  int header_w = 0;
  for (const auto& line : header) header_w = std::max(header_w, text_width(line, kSmallestScale));
  const int width = kPadding * 2 + std::max({grid_w + bar_block_w, header_w, units_w});
  const int text_room = width - 2 * kPadding;
  const int top = kPadding + header_h;
  const int height = top + grid_h + (scale ? kLabelLine + 4 : 0) + kPadding;
  cv::Mat canvas(height, width, CV_8UC3, cv::Scalar(255, 255, 255));

  for (size_t l = 0; l < header.size(); ++l)
    draw_text(canvas, header[l], {kPadding, kPadding + kHeaderLine * static_cast<int>(l + 1) - 6},
              fitted_scale(header[l], kHeaderScale, text_room));
  FigureLayout placed;
  for (int i = 0; i < count; ++i) {
    const int x = kPadding + (i % columns) * (cell_w + kPadding), y = top + (i / columns) * (cell_h + kPadding);
    const cv::Rect where(x + (cell_w - panels[i].cols) / 2, y + (panel_h - panels[i].rows) / 2, panels[i].cols,
                         panels[i].rows);
    panels[i].copyTo(canvas(where));
    placed.panels.push_back(where);
    for (size_t l = 0; l < title_text[i].size(); ++l)
      draw_text(canvas, title_text[i][l], {x, y + panel_h + kTitleLine * static_cast<int>(l + 1) - 4},
                fitted_scale(title_text[i][l], kTitleScale, cell_w));
  }
  if (scale) {
    // The colour bar, as tall as a row of panels: top row `high`, bottom row `low`.
    const int bar_x = kPadding + grid_w + kPadding;
    placed.bar = cv::Rect(bar_x, top, kBarWidth, panel_h);
    cv::Mat strip = canvas(placed.bar);  // a view: resize writes into the canvas
    cv::resize(scale_colour_column(*scale, panel_h), strip, placed.bar.size(), 0, 0, cv::INTER_NEAREST);
    cv::rectangle(canvas, cv::Rect(bar_x - 1, top - 1, kBarWidth + 2, panel_h + 2), cv::Scalar(90, 90, 90), 1);
    const int label_x = bar_x + kBarWidth + 6;
    draw_text(canvas, high_label, {label_x, top + 10}, kLabelScale);
    draw_text(canvas, mid_label, {label_x, top + panel_h / 2 + 5}, kLabelScale);
    draw_text(canvas, low_label, {label_x, top + panel_h}, kLabelScale);
    // Units on the last line, right-aligned to the bar's labels so long ones stay on the canvas.
    const double units_scale = fitted_scale(scale->units, kLabelScale, text_room);
    const int units_x = std::max(kPadding, kPadding + grid_w + bar_block_w - text_width(scale->units, units_scale));
    draw_text(canvas, scale->units, {units_x, top + grid_h + kLabelLine}, units_scale);
  }
  if (layout) *layout = placed;
  return canvas;
}

}  // namespace xai
