// xai bench --fidelity: region weights of a sampled surrogate against a many-sample reference, per
// image, for fixed and adaptive sample counts on the plain module and the inference clone.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "methods/adaptive_sampling.hpp"
#include "methods/perturbation.hpp"
#include "xai/methods.hpp"
#include "xai/atomic_file.hpp"
#include "pipelines/bench.hpp"
#include "xai/error.hpp"
#include "xai/explain.hpp"
#include "xai/prepared_image.hpp"
#include "output/print_figure.hpp"

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

FigureFormat plot_format_of(const std::string& path) {
  const std::string extension = std::filesystem::path(path).extension().string();
  if (extension == ".png") return FigureFormat::png;
  if (extension == ".svg") return FigureFormat::svg;
  if (extension == ".pdf") return FigureFormat::pdf;
  throw usage_error(setting_name("plot") + " " + path + ": name a .png, .svg or .pdf file");
}

void write_fidelity_plot(const FidelityResult& result, const std::string& path) {
  double lo_x = 1e18, hi_x = 0, lo_y = 1;
  for (const auto& row : result.rows) {
    for (double s : row.samples) lo_x = std::min(lo_x, s), hi_x = std::max(hi_x, s);
    for (double f : row.fidelity) lo_y = std::min(lo_y, f);
  }
  if (hi_x <= 0) throw Error(ExitCode::internal, "fidelity plot: no samples");
  Plot plot;
  plot.title = result.method + ": Spearman rho of region weights to the reference";
  plot.x_label = "model images (samples), log scale";
  plot.y_label = "rho";
  plot.log_x = true;
  plot.x_min = std::pow(10, std::floor(std::log10(std::max(lo_x, 1.0)) * 4) / 4);
  plot.x_max = std::pow(10, std::ceil(std::log10(hi_x) * 4) / 4);
  if (plot.x_max <= plot.x_min) plot.x_max = plot.x_min * 10;
  plot.y_min = std::min(std::floor(lo_y * 10) / 10, 0.9);
  plot.y_max = 1;
  for (double f = plot.y_min; f <= 1.0001; f += 0.1) plot.y_ticks.push_back(std::round(f * 10) / 10);
  for (double decade = std::pow(10, std::floor(std::log10(plot.x_min))); decade <= plot.x_max; decade *= 10)
    for (int m : {1, 2, 5})
      if (decade * m >= plot.x_min && decade * m <= plot.x_max) plot.x_ticks.push_back(decade * m);
  PlotFigure figure;
  figure.header = {"xai bench --fidelity: " + std::to_string(result.images.size()) + " images; points: one per image, "
                   "diamonds: each row's median"};
  figure.plots = {plot};
  for (const auto& row : result.rows) {
    PlotSeries series;
    series.name = row.spec.name;
    std::ostringstream stats;
    stats.precision(3);
    stats << "median rho " << row.median_fidelity << ", " << static_cast<long long>(row.median_samples) << " samples, "
          << row.median_ms / 1000 << " s";
    series.note = stats.str();
    series.joined = false;
    for (size_t i = 0; i < row.samples.size(); ++i) series.points.emplace_back(row.samples[i], row.fidelity[i]);
    series.emphasised = cv::Point2d(row.median_samples, row.median_fidelity);
    figure.series.push_back(std::move(series));
  }
  write_file_atomic(path, print_plot(figure, plot_format_of(path), 0));
}

}  // namespace xai
