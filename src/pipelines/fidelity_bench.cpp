// xai bench --fidelity: region weights of a sampled surrogate against a many-sample reference, per
// image, for fixed and adaptive sample counts on the plain module and the inference clone.
#include <algorithm>
#include <cmath>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>

#include "methods/adaptive_sampling.hpp"
#include "methods/perturbation.hpp"
#include "xai/methods.hpp"
#include "xai/atomic_file.hpp"
#include "pipelines/bench.hpp"
#include "xai/error.hpp"
#include "xai/explain.hpp"
#include "xai/prepared_image.hpp"

namespace xai {
namespace {

double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct Run {
  std::vector<double> weights;
  int class_index = 0;
  double samples = 0, ms = 0;
};

Run run_method(Model& model, const PreparedImage& image, const ExplainOptions& options) {
  const MethodResult r = find_method(options.methods.front()).compute(model, {&image}, options, {}).front();
  if (r.maps.empty() || r.maps.front().region_weights.empty())
    throw Error(ExitCode::internal, options.methods.front() + " returned no region weights");
  Run run;
  run.weights = r.maps.front().region_weights;
  run.class_index = r.maps.front().class_index;
  run.samples = r.summary.contains("sampling") ? r.summary["sampling"]["samples"].get<double>()
                                               : static_cast<double>(r.model_images);
  run.ms = r.compute_ms;
  return run;
}

}  // namespace

namespace {

std::string fixed_name(int samples, const std::string& method) {
  return "fixed " + (samples > 0 ? std::to_string(samples) : find_method(method).use_of(Setting::samples)->default_text);
}

std::string tolerance_name(double tolerance) {
  std::ostringstream s;
  s << "auto, tolerance " << tolerance;
  return s.str();
}

}  // namespace

std::vector<FidelityRowSpec> fidelity_rows(const ExplainOptions& explain, int fixed_samples, bool curve) {
  const std::string& method = explain.methods.front();
  const double tolerance = explain.lime.adaptive.tolerance;
  const bool batch_given = explain.lime.batch_size > 0;
  std::vector<FidelityRowSpec> rows = {
      {fixed_name(fixed_samples, method) + ", plain module" + (batch_given ? "" : ", batch 64"), false, fixed_samples, 0,
       batch_given ? 0 : kDefaultProbeBatch},
      {fixed_name(fixed_samples, method) + ", optimised", true, fixed_samples, 0},
      {tolerance_name(tolerance) + ", optimised", true, 0, tolerance}};
  if (curve) {
    for (int n : {250, 500, 2000}) rows.push_back({fixed_name(n, method) + ", optimised", true, n, 0});
    for (double t : {0.1, 0.05, 0.01})
      if (t != tolerance) rows.push_back({tolerance_name(t) + ", optimised", true, 0, t});
  }
  return rows;
}

nlohmann::ordered_json fidelity_rows_json(const FidelityResult& result) {
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  const double first_ms = result.rows.empty() ? 0 : result.rows.front().median_ms;
  for (const auto& row : result.rows)
    rows.push_back({{"name", row.spec.name},
                    {"optimised", row.spec.optimised},
                    {"samples", row.spec.samples > 0 ? nlohmann::ordered_json(row.spec.samples)
                                                     : nlohmann::ordered_json(row.spec.tolerance > 0 ? "auto" : "default")},
                    {"tolerance", row.spec.tolerance},
                    {"median_fidelity", row.median_fidelity},
                    {"median_samples", row.median_samples},
                    {"median_ms", row.median_ms},
                    {"time_ratio_to_first_row", row.median_ms / first_ms},
                    {"fidelity", row.fidelity},
                    {"samples_used", row.samples},
                    {"ms", row.ms}});
  return rows;
}

FidelityResult bench_fidelity(Model& plain, Model& optimised, const FidelityOptions& options) {
  const std::string method = options.explain.methods.front();
  // The sampled surrogates: they read --samples auto, whose stopping rule this measures.
  const auto surrogate = [](const ExplanationMethod& m) { return m.reads(Setting::adaptive); };
  if (!surrogate(find_method(method)))
    throw usage_error(setting_name("fidelity") + ": for the sampled surrogates " + method_names_where(surrogate) +
                      " (got " + method + ")");
  if (options.images.empty()) throw usage_error(setting_name("fidelity") + ": give the images to explain");
  FidelityResult result;
  result.method = method;
  result.plain_inference = plain.inference();
  result.optimised_inference = optimised.inference();
  for (const auto& spec : options.rows) result.rows.push_back({spec, {}, {}, {}});
  for (const std::string& path : options.images) {
    const PreparedImage image = prepare_image(path, optimised.card(), options.explain.limits);
    // The reference: many samples, another seed, the predicted class; every row explains that class.
    ExplainOptions reference = options.explain;
    reference.lime.adaptive.enabled = false;
    reference.lime.samples = reference.shap.samples = options.reference_samples;
    reference.lime.seed = options.explain.lime.seed + 1000003;
    const Run ref = run_method(optimised, image, reference);
    result.images.push_back(path);
    result.regions.push_back(static_cast<int>(ref.weights.size()));
    result.reference_ms.push_back(ref.ms);
    for (FidelityRowResult& row : result.rows) {
      ExplainOptions o = options.explain;
      o.cam.target.kind = TargetSpec::Kind::given;
      o.cam.target.class_index = ref.class_index;
      o.lime.adaptive.enabled = row.spec.tolerance > 0;
      if (row.spec.tolerance > 0) o.lime.adaptive.tolerance = row.spec.tolerance;
      if (row.spec.probe_batch > 0) o.lime.batch_size = row.spec.probe_batch;
      if (row.spec.samples > 0) o.lime.samples = o.shap.samples = row.spec.samples;
      const Run run = run_method(row.spec.optimised ? optimised : plain, image, o);
      if (run.weights.size() != ref.weights.size())
        throw Error(ExitCode::internal, path + ": the rows' regions differ from the reference's");
      row.fidelity.push_back(half_agreement(run.weights, ref.weights));
      row.samples.push_back(run.samples);
      row.ms.push_back(run.ms);
    }
  }
  for (FidelityRowResult& row : result.rows) {
    row.median_fidelity = median_of(row.fidelity);
    row.median_samples = median_of(row.samples);
    row.median_ms = median_of(row.ms);
  }
  return result;
}

void write_fidelity_plot(const FidelityResult& result, const std::string& path) {
  const int width = 1000, height = 560, left = 80, right = 330, top = 50, bottom = 60;
  cv::Mat canvas(height, width, CV_8UC3, cv::Scalar(255, 255, 255));
  double lo_x = 1e18, hi_x = 0, lo_y = 1;
  for (const auto& row : result.rows) {
    for (double s : row.samples) lo_x = std::min(lo_x, s), hi_x = std::max(hi_x, s);
    for (double f : row.fidelity) lo_y = std::min(lo_y, f);
  }
  if (hi_x <= 0) throw Error(ExitCode::internal, "fidelity plot: no samples");
  lo_x = std::pow(10, std::floor(std::log10(std::max(lo_x, 1.0)) * 4) / 4);
  hi_x = std::pow(10, std::ceil(std::log10(hi_x) * 4) / 4);
  if (hi_x <= lo_x) hi_x = lo_x * 10;
  lo_y = std::min(std::floor(lo_y * 10) / 10, 0.9);
  const int plot_w = width - left - right, plot_h = height - top - bottom;
  auto px = [&](double s) {
    return left + static_cast<int>(std::lround((std::log10(s) - std::log10(lo_x)) / (std::log10(hi_x) - std::log10(lo_x)) * plot_w));
  };
  auto py = [&](double f) { return top + static_cast<int>(std::lround((1 - f) / (1 - lo_y) * plot_h)); };
  const cv::Scalar black(0, 0, 0), grey(200, 200, 200);
  const int font = cv::FONT_HERSHEY_SIMPLEX;
  for (double f = lo_y; f <= 1.0001; f += 0.1) {
    cv::line(canvas, {left, py(f)}, {left + plot_w, py(f)}, grey, 1);
    std::ostringstream label;
    label.precision(1);
    label << std::fixed << f;
    cv::putText(canvas, label.str(), {left - 45, py(f) + 5}, font, 0.45, black, 1, cv::LINE_AA);
  }
  for (double decade = std::pow(10, std::floor(std::log10(lo_x))); decade <= hi_x; decade *= 10)
    for (int m : {1, 2, 5}) {
      const double s = decade * m;
      if (s < lo_x || s > hi_x) continue;
      cv::line(canvas, {px(s), top}, {px(s), top + plot_h}, grey, 1);
      cv::putText(canvas, std::to_string(static_cast<long long>(s)), {px(s) - 15, top + plot_h + 20}, font, 0.45, black,
                  1, cv::LINE_AA);
    }
  cv::rectangle(canvas, {left, top}, {left + plot_w, top + plot_h}, black, 1);
  cv::putText(canvas, "model images (samples), log scale", {left + plot_w / 2 - 130, height - 15}, font, 0.5, black, 1,
              cv::LINE_AA);
  cv::putText(canvas, result.method + ": Spearman rho of region weights to the reference", {left, 30}, font, 0.6,
              black, 1, cv::LINE_AA);
  const std::vector<cv::Scalar> colours = {{180, 119, 31}, {14, 127, 255}, {44, 160, 44},
                                           {40, 39, 214},  {189, 103, 148}, {75, 86, 140}};
  for (size_t r = 0; r < result.rows.size(); ++r) {
    const auto& row = result.rows[r];
    const cv::Scalar colour = colours[r % colours.size()];
    for (size_t i = 0; i < row.samples.size(); ++i)
      cv::circle(canvas, {px(row.samples[i]), py(row.fidelity[i])}, 3, colour, 1, cv::LINE_AA);
    const cv::Point m(px(row.median_samples), py(row.median_fidelity));
    cv::drawMarker(canvas, m, colour, cv::MARKER_DIAMOND, 16, 3, cv::LINE_AA);
    const int ly = top + 20 + static_cast<int>(r) * 44;
    cv::drawMarker(canvas, {left + plot_w + 20, ly}, colour, cv::MARKER_DIAMOND, 12, 2, cv::LINE_AA);
    cv::putText(canvas, row.spec.name, {left + plot_w + 32, ly + 5}, font, 0.42, black, 1, cv::LINE_AA);
    std::ostringstream stats;
    stats.precision(3);
    stats << "median rho " << row.median_fidelity << ", " << static_cast<long long>(row.median_samples)
          << " samples, " << row.median_ms / 1000 << " s";
    cv::putText(canvas, stats.str(), {left + plot_w + 32, ly + 22}, font, 0.38, black, 1, cv::LINE_AA);
  }
  std::vector<uchar> png;
  if (!cv::imencode(".png", canvas, png)) throw Error(ExitCode::output, path + ": cannot encode the plot");
  write_file_atomic(path, std::string(png.begin(), png.end()));
}

}  // namespace xai
