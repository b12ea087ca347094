// GradientSHAP (Lundberg & Lee 2017; captum's GradientShap): expected gradients. Each of `--samples`
// draws takes a baseline b from a distribution — the image blurred (Gaussian σ = 1/20 of its shorter side)
// plus Gaussian noise — the input x with noise of its own, and α uniform in [0, 1), and contributes
// ∇f(b + α(x̃ − b)) ⊙ (x̃ − b); the map is their mean, summed over channels, sign kept. Noise σ = `--noise` ×
// (max − min of the model's input); each draw depends on (seed, draw) alone, so the batch size never
// changes a map. In expectation Σ attributions ≈ f(x) − E f(b).
#include <algorithm>
#include <random>

#include "methods/input_gradients.hpp"

namespace xai {
namespace {

// A uniform number in [0, 1) from draw `draw` of the stream `seed` (the noise's scheme).
double uniform_draw(uint64_t seed, uint64_t draw) {
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ULL + draw);
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

class GradientShapMethod final : public ExplanationMethod {
 public:
  std::string name() const override { return "gradientshap"; }
  MethodFamily family() const override { return MethodFamily::gradient; }
  MapKind map_kind() const override { return {/*is_signed=*/true, /*display_min_max=*/false}; }
  MethodNeeds needs() const override { return {/*layer=*/false, /*extra_passes=*/true}; }
  std::vector<SettingUse> settings() const override {
    return {Setting::target, Setting::probe_batch, {Setting::samples, std::to_string(GradientOptions{}.samples)}, Setting::noise, Setting::seed};
  }

  nlohmann::ordered_json parameters(const ExplainOptions& options, const std::vector<std::string>&,
                                    const ModelCard&) const override {
    return {{"samples", options.gradients.samples},
            {"noise", options.gradients.noise},
            {"baselines", "blur (Gaussian, sigma 1/20 of the shorter side) + noise"},
            {"seed", options.lime.seed},
            {"probe_batch", probe_batch_parameter(options.gradients.batch_size)},
            {"target", target_description(options, false)}};
  }

  std::vector<MethodResult> compute(Model& model, const std::vector<const PreparedImage*>& images,
                                    const ExplainOptions& options, const std::vector<std::string>&) const override {
    const int samples = options.gradients.samples;
    if (samples < 1) throw usage_error(setting_name("samples") + " must be positive");
    if (!(options.gradients.noise >= 0)) throw usage_error(setting_name("noise") + " must be at least 0");
    const uint64_t seed = options.lime.seed;
    return attribute_each(name(), model, images, options, [&](const ScoreGradient& g, const PreparedImage& image, int cls) {
      const InputBlob& x = image.blob;
      const InputBlob blurred = normalise(baseline_view(image.view, Baseline::blur), model.card());
      const auto [lo, hi] = std::minmax_element(x.values.begin(), x.values.end());
      const double sigma = options.gradients.noise * (*hi - *lo);
      const size_t per_image = x.values.size();
      std::vector<std::vector<float>> differences(samples);  // x̃ − b of the draws in flight
      std::vector<double> sum(per_image, 0.0);
      double score_sum = 0;
      InputAttribution a;
      gradients_of(
          g, x, cls, samples, options.gradients.batch_size, a,
          [&](int k, float* dst) {
            const uint64_t draw = 3 * static_cast<uint64_t>(k);
            std::vector<float> baseline(per_image);
            add_gaussian_noise(x.values, sigma, seed, draw, dst);  // x̃, turned into the path point below
            add_gaussian_noise(blurred.values, sigma, seed, draw + 1, baseline.data());
            const double alpha = uniform_draw(seed, draw + 2);
            std::vector<float>& d = differences[k];
            d.resize(per_image);
            for (size_t i = 0; i < per_image; ++i) {
              d[i] = dst[i] - baseline[i];
              dst[i] = static_cast<float>(baseline[i] + alpha * d[i]);
            }
          },
          [&](int k, const float* gradient, double score) {
            for (size_t i = 0; i < per_image; ++i) sum[i] += double(gradient[i]) * differences[k][i];
            std::vector<float>().swap(differences[k]);
            score_sum += score;
          });
      for (auto& v : sum) v /= samples;
      a.score = score_sum / samples;
      a.pixels = channel_sum(sum, x, a.total);
      return std::make_pair(std::move(a), nlohmann::ordered_json{{"mean_path_score", a.score}, {"sum", a.total}});
    });
  }
};

}  // namespace

std::unique_ptr<ExplanationMethod> gradientshap_method() { return std::make_unique<GradientShapMethod>(); }

}  // namespace xai
