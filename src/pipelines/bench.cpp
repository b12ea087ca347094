#include "pipelines/bench.hpp"

#include <algorithm>
#include <chrono>
#include <functional>
#include <random>

#include "model/torch_model.hpp"
#include "xai/batch.hpp"
#include "model/batch_tuner.hpp"
#include "core/file_read.hpp"
#include "output/results_log.hpp"
#include "input/slide.hpp"
#include "pipelines/slide_run.hpp"
#include "methods/perturbation.hpp"
#include "xai/explain.hpp"
#include "methods/gradient_attribution.hpp"
#include <opencv2/imgproc.hpp>

#include <unistd.h>

#include <filesystem>
#include <opencv2/imgcodecs.hpp>

namespace xai {
namespace {

double median(std::vector<double> values) {
  std::nth_element(values.begin(), values.begin() + values.size() / 2, values.end());
  return values[values.size() / 2];
}

double median_ms(int warmup, int repeats, const std::function<void()>& work) {
  for (int i = 0; i < warmup; ++i) work();
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    work();
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  return median(times);
}

// A smooth random image, so activations look like those of a real input.
InputBlob synthetic_input(const ModelCard& card, unsigned seed) {
  InputBlob blob{card.channel_count(), card.input_height, card.input_width, {}};
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  const int cell = 8;
  std::vector<float> coarse(static_cast<size_t>(blob.channels) * (blob.height / cell + 2) * (blob.width / cell + 2));
  for (auto& v : coarse) v = noise(rng);
  const int cw = blob.width / cell + 2, ch = blob.height / cell + 2;
  for (int c = 0; c < blob.channels; ++c)
    for (int y = 0; y < blob.height; ++y)
      for (int x = 0; x < blob.width; ++x)
        blob.values.push_back(coarse[(static_cast<size_t>(c) * ch + y / cell) * cw + x / cell]);
  return blob;
}

}  // namespace

namespace {

// A prepared synthetic image: what every method reads (original, model view, normalised blob).
PreparedImage synthetic_prepared(const ModelCard& card, unsigned seed) {
  const InputBlob noise = synthetic_input(card, seed);
  std::vector<cv::Mat> planes;
  for (int c = 0; c < noise.channels; ++c) {
    cv::Mat plane(noise.height, noise.width, CV_32FC1,
                  const_cast<float*>(noise.values.data()) + static_cast<size_t>(c) * noise.height * noise.width);
    planes.push_back(plane * 0.15 + 0.5);  // textured, in [0,1] nearly everywhere, so SLIC behaves as on real data
  }
  PreparedImage p;
  p.path = "synthetic";
  cv::merge(planes, p.view);
  cv::min(cv::max(p.view, 0.0), 1.0, p.view);
  if (p.view.channels() == 3)
    cv::cvtColor(p.view, p.image.pixels, cv::COLOR_RGB2BGR);
  else
    p.image.pixels = p.view.clone();
  p.image.path = p.path;
  p.blob = normalise(p.view, card);
  return p;
}

double full_backward_ms(Model& model, const std::vector<InputBlob>& batch, int warmup, int runs) {
  Model::Impl& impl = model.impl();
  std::vector<torch::Tensor> parameters;
  for (auto p : impl.module.parameters()) parameters.push_back(p);
  for (auto& p : parameters) p.requires_grad_(true);
  const torch::Tensor input = impl.to_tensor(batch);
  const double ms = median_ms(warmup, runs, [&] {
    torch::AutoGradMode grad_mode(true);
    torch::Tensor x = input.clone().requires_grad_(true);
    torch::Tensor logits = impl.run(impl.module, x);
    std::get<0>(logits.max(1)).sum().backward();
    for (auto& p : parameters) p.mutable_grad() = torch::Tensor();
  });
  for (auto& p : parameters) p.requires_grad_(false);
  return ms;
}

}  // namespace

BenchResult bench_method(Model& model, const BenchOptions& options) {
  if (options.explain.methods.size() != 1) throw usage_error("bench: give one " + setting_name("methods"));
  const ExplainPlan plan = plan_explanations(model, options.explain);
  const ExplanationMethod& method = *plan.methods.front();
  BenchResult result;
  result.method = method.name();
  result.family = to_string(method.family());
  result.layers = plan.layers;
  result.parameters = plan.parameters.front();
  result.batch_size = options.batch_size;
  result.runs = options.runs;

  std::vector<PreparedImage> images;
  for (int i = 0; i < options.batch_size; ++i) images.push_back(synthetic_prepared(plan.card, 1234u + i));
  std::vector<const PreparedImage*> pointers;
  std::vector<InputBlob> batch;
  for (const auto& image : images) pointers.push_back(&image), batch.push_back(image.blob);

  result.forward_ms = median_ms(options.warmup, options.runs, [&] { model.predict(batch); });
  std::vector<ComputedExplanation> last;
  // A single-pass method is quick: warm it as much as the forward pass; the others take long enough.
  const int warmup = method.needs().extra_passes ? std::min(options.warmup, 1) : options.warmup;
  // Each run's time outside the model's passes (the host's share: writing masks, noise, regressions)
  // is the wall time less the time the method spent in them; its median goes beside the explain time.
  std::vector<double> outside_ms;
  result.explain_ms = median_ms(warmup, options.runs, [&] {
    const auto start = std::chrono::steady_clock::now();
    last = compute_explanations(model, plan, pointers);
    double model_ms = 0;
    for (const auto& c : last) model_ms += c.results.front().model_ms;
    outside_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() -
                         model_ms);
  });
  result.ratio = result.explain_ms / result.forward_ms;

  long long gradient_images = 0;
  for (const auto& c : last) {
    result.model_images += c.results.front().model_images;
    gradient_images += c.results.front().gradient_images;
  }
  if (result.model_images > 0) {
    outside_ms.erase(outside_ms.begin(), outside_ms.begin() + warmup);
    result.outside_model_ms = median(outside_ms);
  }
  if (result.model_images > 0) {
    // The whole-image passes run `probe_batch` images at a time (or as many as the model's tuner
    // chose): time a pass of that size, a plain forward, or for the gradient methods a forward +
    // backward to the input.
    const bool backward = gradient_images > 0;
    const auto in_use = [](int given, const BatchTuner& tuner, int fallback) {
      return given > 0 ? given : tuner.chosen() > 0 ? tuner.chosen() : fallback;
    };
    const int probe = std::max(1, backward ? in_use(options.explain.gradients.batch_size, model.gradient_batch_tuner(),
                                                    kDefaultGradientBatch)
                                           : in_use(options.explain.lime.batch_size, model.batch_tuner(),
                                                    kDefaultProbeBatch));
    std::vector<InputBlob> probes;
    std::vector<float> stacked;
    for (int i = 0; i < probe; ++i) {
      probes.push_back(synthetic_input(plan.card, 99u + i));
      stacked.insert(stacked.end(), probes.back().values.begin(), probes.back().values.end());
    }
    const ScoreGradient gradient = model_score_gradient(model);
    const ImageBatch batch{probe, probes.front().channels, probes.front().height, probes.front().width, stacked.data()};
    result.per_image_forward_ms = median_ms(options.warmup, options.runs, [&] {
                                    if (backward)
                                      gradient(batch, std::vector<int>(probe, 0));
                                    else
                                      model.predict(probes);
                                  }) /
                                  probe;
    result.per_image_backward = backward;
    result.model_images_ratio = result.explain_ms / (result.model_images * result.per_image_forward_ms);
  }
  if (options.full_backward && single_pass_cam(method))
    result.full_backward_ms = full_backward_ms(model, batch, options.warmup, options.runs);
  return result;
}

namespace {

// Raw and pipeline passes alternate for `rounds` rounds, so a slow spell of the machine hits both;
// medians (and the ratios' range) go into `result`.
void alternate_rounds(BatchBenchResult& result, int rounds, int images, const std::function<void()>& raw_pass,
                      const std::function<void()>& pipeline_pass, const std::function<void()>& explain_pass = {}) {
  std::vector<double> raw_rates, pipeline_rates, ratios, explain_rates, explain_ratios;
  auto rate = [&](const std::function<void()>& pass) {
    const auto t = std::chrono::steady_clock::now();
    pass();
    return images / std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  };
  for (int round = 0; round < rounds; ++round) {
    raw_rates.push_back(rate(raw_pass));
    if (explain_pass) explain_rates.push_back(rate(explain_pass));
    pipeline_rates.push_back(rate(pipeline_pass));
    ratios.push_back(pipeline_rates.back() / raw_rates.back());
    if (explain_pass) explain_ratios.push_back(pipeline_rates.back() / explain_rates.back());
  }
  result.rounds = rounds;
  result.raw_images_per_second = median(raw_rates);
  result.batch_images_per_second = median(pipeline_rates);
  result.ratio = median(ratios);
  result.min_ratio = *std::min_element(ratios.begin(), ratios.end());
  result.max_ratio = *std::max_element(ratios.begin(), ratios.end());
  if (explain_pass) {
    result.explain_images_per_second = median(explain_rates);
    result.explain_ratio = median(explain_ratios);
    result.min_explain_ratio = *std::min_element(explain_ratios.begin(), explain_ratios.end());
    result.max_explain_ratio = *std::max_element(explain_ratios.begin(), explain_ratios.end());
  }
}

}  // namespace

BatchBenchResult bench_batch(Model& model, const ExplainOptions& explain, int images, int batch_size, int rounds) {
  if (rounds < 1) throw usage_error("bench: rounds must be at least 1");
  namespace fs = std::filesystem;
  BatchBenchResult result;
  result.images = images;
  result.batch_size = batch_size;
  const fs::path dir = fs::temp_directory_path() / ("xai-bench-" + std::to_string(::getpid()));
  fs::create_directories(dir / "in");
  std::vector<InputBlob> blobs;
  for (int i = 0; i < images; ++i) {
    const InputBlob blob = synthetic_input(model.card(), 500u + i);
    std::vector<cv::Mat> planes;
    for (int c = 0; c < blob.channels; ++c)
      planes.push_back(cv::Mat(blob.height, blob.width, CV_32FC1,
                               const_cast<float*>(blob.values.data()) + c * blob.height * blob.width) * 40.0 + 128.0);
    cv::Mat image;
    cv::merge(planes, image);
    image.convertTo(image, CV_8U);
    cv::imwrite((dir / "in" / ("img" + std::to_string(i) + ".png")).string(), image);
    blobs.push_back(blob);
  }
  model.labels();
  // Raw: the same number of images through the model in batches, nothing else.
  auto raw_pass = [&] {
    for (int first = 0; first < images; first += batch_size)
      model.predict(std::vector<InputBlob>(blobs.begin() + first, blobs.begin() + std::min(images, first + batch_size)));
  };
  raw_pass();  // warm-up (the executor optimises during the first runs)
  BatchOptions options;
  options.explain = explain;
  options.batch_size = batch_size;
  options.output_dir = (dir / "warm").string();
  run_batch(model, {(dir / "in").string()}, options);  // warm-up, including the capture clone

  int round = 0;
  alternate_rounds(result, rounds, images, raw_pass, [&] {
    options.output_dir = (dir / ("out" + std::to_string(round++))).string();
    run_batch(model, {(dir / "in").string()}, options);
  });
  std::error_code ec;
  fs::remove_all(dir, ec);
  return result;
}

BatchBenchResult bench_slide(Model& model, const ExplainOptions& explain, const std::string& slide_path, int batch_size,
                             int rounds) {
  if (rounds < 1) throw usage_error("bench: rounds must be at least 1");
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("xai-bench-slide-" + std::to_string(::getpid()));
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{dir};
  SlideOptions options;
  options.explain = explain;
  options.batch_size = batch_size;
  options.viewer = false;
  options.output_dir = (dir / "warm").string();
  run_slide(model, slide_path, options);  // warm-up; its journal names the tissue tiles
  // Raw: the same tiles, read and preprocessed beforehand, through the model in batches, nothing else.
  const auto report = nlohmann::ordered_json::parse(read_regular_file(options.output_dir + "/slide.json", 256ull << 20, ExitCode::output));
  const SlideLayout layout = SlideLayout::from_json(report.at("layout"));
  const Slide slide = Slide::open(slide_path);
  std::vector<PreparedImage> tiles;
  for (const auto& r : read_results(options.output_dir + "/tiles.jsonl"))
    if (r.value("status", "") == "ok")
      tiles.push_back(prepare_slide_tile(slide, layout, r.at("x").get<int64_t>(), r.at("y").get<int64_t>(), model.card()));
  if (tiles.empty()) throw usage_error(slide_path + ": no tissue tiles to time");
  std::vector<InputBlob> blobs;
  for (const auto& t : tiles) blobs.push_back(t.blob);
  const int images = static_cast<int>(blobs.size());
  auto raw_pass = [&] {
    for (int first = 0; first < images; first += batch_size)
      model.predict(std::vector<InputBlob>(blobs.begin() + first, blobs.begin() + std::min(images, first + batch_size)));
  };
  // The same explanations of the same tiles in memory (the class the run explained): the model's share.
  ExplainOptions fixed = explain;
  fixed.cam.target = TargetSpec{TargetSpec::Kind::given, report.at("maps").at("target").at("index").get<int>(), 1};
  const ExplainPlan plan = plan_explanations(model, fixed);
  auto explain_pass = [&] {
    for (int first = 0; first < images; first += batch_size) {
      std::vector<const PreparedImage*> batch;
      for (int i = first; i < std::min(images, first + batch_size); ++i) batch.push_back(&tiles[i]);
      compute_explanations(model, plan, batch);
    }
  };
  raw_pass();
  explain_pass();
  BatchBenchResult result;
  result.images = images;
  result.batch_size = batch_size;
  int round = 0;
  alternate_rounds(
      result, rounds, images, raw_pass,
      [&] {
        options.output_dir = (dir / ("out" + std::to_string(round++))).string();
        run_slide(model, slide_path, options);
      },
      explain_pass);
  return result;
}

}  // namespace xai
