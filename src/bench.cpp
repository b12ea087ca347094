#include "xai/bench.hpp"

#include <algorithm>
#include <chrono>
#include <functional>
#include <random>

#include "torch_model.hpp"
#include "xai/batch.hpp"

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

BenchResult bench_cam(Model& model, const BenchOptions& options) {
  BenchResult result;
  result.batch_size = options.batch_size;
  result.repeats = options.repeats;
  CamRequest request = options.cam;
  if (request.layers.empty()) request.layers = {model.default_layer()};
  result.layer = request.layers.front();

  std::vector<InputBlob> batch;
  for (int i = 0; i < options.batch_size; ++i) batch.push_back(synthetic_input(model.card(), 1234u + i));
  model.labels();  // checks outputs once, outside the timed region

  result.forward_ms = median_ms(options.warmup, options.repeats, [&] { model.predict(batch); });
  result.explain_ms = median_ms(options.warmup, options.repeats, [&] { explain_cam(model, batch, request); });
  result.ratio = result.explain_ms / result.forward_ms;

  if (options.full_backward) {
    Model::Impl& impl = model.impl();
    std::vector<torch::Tensor> parameters;
    for (auto p : impl.module.parameters()) parameters.push_back(p);
    for (auto& p : parameters) p.requires_grad_(true);
    const torch::Tensor input = impl.to_tensor(batch);
    result.full_backward_ms = median_ms(options.warmup, options.repeats, [&] {
      torch::AutoGradMode grad_mode(true);
      torch::Tensor x = input.clone().requires_grad_(true);
      torch::Tensor logits = impl.run(impl.module, x);
      std::get<0>(logits.max(1)).sum().backward();
      for (auto& p : parameters) p.mutable_grad() = torch::Tensor();
    });
    for (auto& p : parameters) p.requires_grad_(false);
  }
  return result;
}

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

  std::vector<double> raw_rates, batch_rates, ratios;
  for (int round = 0; round < rounds; ++round) {
    auto t = std::chrono::steady_clock::now();
    raw_pass();
    raw_rates.push_back(images / std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count());
    options.output_dir = (dir / ("out" + std::to_string(round))).string();
    t = std::chrono::steady_clock::now();
    run_batch(model, {(dir / "in").string()}, options);
    batch_rates.push_back(images / std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count());
    ratios.push_back(batch_rates.back() / raw_rates.back());
  }
  result.rounds = rounds;
  result.raw_images_per_second = median(raw_rates);
  result.batch_images_per_second = median(batch_rates);
  result.ratio = median(ratios);
  result.min_ratio = *std::min_element(ratios.begin(), ratios.end());
  result.max_ratio = *std::max_element(ratios.begin(), ratios.end());
  std::error_code ec;
  fs::remove_all(dir, ec);
  return result;
}

LimeBenchResult bench_lime(Model& model, const LimeOptions& lime, int warmup, int repeats) {
  LimeBenchResult result;
  result.samples = lime.samples;
  result.batch_size = lime.batch_size;
  result.repeats = repeats;
  model.labels();
  std::vector<InputBlob> batch;
  for (int i = 0; i < lime.batch_size; ++i) batch.push_back(synthetic_input(model.card(), 99u + i));
  result.per_image_forward_ms = median_ms(warmup, repeats, [&] { model.predict(batch); }) / lime.batch_size;

  // A textured image at the model's input size, so SLIC behaves as on real data.
  Image image;
  image.path = "synthetic";
  const InputBlob blob = synthetic_input(model.card(), 7u);
  std::vector<cv::Mat> planes;
  for (int c = 0; c < blob.channels; ++c) {
    cv::Mat plane(blob.height, blob.width, CV_32FC1, const_cast<float*>(blob.values.data()) + c * blob.height * blob.width);
    planes.push_back(plane * 0.15 + 0.5);
  }
  cv::merge(planes, image.pixels);
  cv::min(cv::max(image.pixels, 0.0), 1.0, image.pixels);
  LimeExplanation last;
  result.lime_ms = median_ms(std::min(warmup, 1), repeats, [&] { last = explain_lime(model, image, lime); });
  result.segments = last.segment_count;
  result.ratio = result.lime_ms / (lime.samples * result.per_image_forward_ms);
  return result;
}

}  // namespace xai
