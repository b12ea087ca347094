#include "methods/cam.hpp"

#include <torch/csrc/autograd/autograd.h>

#include <opencv2/imgproc.hpp>

#include "methods/cam_methods.hpp"
#include "model/feature_map.hpp"
#include "model/torch_model.hpp"
#include "xai/error.hpp"
#include "xai/feature_layout.hpp"

namespace xai {
namespace {

// ReLU(method map), then per-image min-max normalisation at the layer's resolution (the reference
// library's order, so maps are comparable). A constant map becomes all zero.
std::vector<LayerMap> make_maps(const std::string& layer, const torch::Tensor& activation, const FeatureLayout& layout,
                                const torch::Tensor& raw_map, int calls, const std::string& model_path) {
  torch::Tensor cam = torch::relu(raw_map).to(torch::kCPU, torch::kFloat).contiguous();  // [N,h,w]
  if (!torch::isfinite(cam).all().item<bool>())
    throw model_error(model_path + ": activation or gradient at layer '" + layer +
                      "' is not finite (NaN/Inf); the model's output cannot be explained");
  std::vector<LayerMap> maps;
  const int64_t h = cam.size(1), w = cam.size(2);
  for (int64_t i = 0; i < cam.size(0); ++i) {
    LayerMap m;
    m.layer = layer;
    m.calls = calls;
    m.activation_shape = {activation.size(1), activation.size(2), activation.size(3)};
    m.reshape = layout.reshape();
    cv::Mat raw(static_cast<int>(h), static_cast<int>(w), CV_32FC1, cam[i].data_ptr<float>());
    double lo, hi;
    cv::minMaxLoc(raw, &lo, &hi);
    m.raw_min = lo;
    m.raw_max = hi;
    if (hi > lo) {
      raw.convertTo(m.map, CV_32FC1, 1.0 / (hi - lo), -lo / (hi - lo));
    } else {
      m.map = cv::Mat::zeros(raw.size(), CV_32FC1);
      m.constant = true;
    }
    maps.push_back(std::move(m));
  }
  return maps;
}

// Whole images per pass when probes must run the full network from the input.
constexpr int64_t kWholeImageProbes = 32;

// Ablation-CAM's probes only run the layers after the capture point, and every pass also runs the
// layers before it once, so fewer, larger passes win: as many probes as fit in 256 MiB of
// activations, at least 32. (Score-CAM's whole-image probes are sized by the model's tuner.)
int activation_probe_batch(const torch::Tensor& activation) {
  const int64_t per_probe = std::max<int64_t>(1, activation[0].numel() * static_cast<int64_t>(activation.element_size()));
  const int64_t fit = (int64_t{256} << 20) / per_probe;
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(activation.size(1), std::max<int64_t>(32, fit))));
}

}  // namespace

cv::Mat upsample_map(const cv::Mat& map, int width, int height) {
  if (map.cols == width && map.rows == height) return map.clone();
  cv::Mat resized;
  cv::resize(map, resized, cv::Size(width, height), 0, 0, cv::INTER_LINEAR);
  return resized;
}

namespace {

// The forward pass with the layers captured, and the checks that the capture worked.
struct CapturedForward {
  torch::Tensor input;
  torch::Tensor logits;
  CaptureSession session;
  std::vector<FeatureLayout> layouts;  // per layer: how its output becomes a feature map
  bool staged = false;                 // run on the staged capture, not the capture clone
};

CapturedForward forward_with_capture(Model::Impl& impl, CaptureModel& capture, const std::vector<InputBlob>& batch,
                                     const std::vector<std::string>& layers, bool needs_gradient) {
  CapturedForward f{impl.to_tensor(batch), {}, capture.make_session(CaptureSession::Mode::gradient), {}, false};
  StagedCapture* staged = layers.size() == 1 ? impl.staged_capture(layers[0], f.input.size(0)) : nullptr;
  f.staged = staged != nullptr;
  if (staged) {
    Model::Impl::StagedPass pass = impl.run_staged(*staged, f.input, needs_gradient);
    f.logits = pass.logits;
    f.session.activations[0] = pass.activation;
    f.session.call_count[0] = staged->calls();
  } else {
    // Gradient-free methods record the activation without any autograd bookkeeping.
    torch::AutoGradMode grad_mode(needs_gradient);
    ActiveCapture active(f.session);
    f.logits = impl.run(capture.module(), f.input);
  }
  for (size_t l = 0; l < layers.size(); ++l) {
    const torch::Tensor& output = f.session.activations[l];
    if (!output.defined())
      throw layer_error(impl.path + ": layer '" + layers[l] + "' did not run in the forward pass");
    const auto sizes = output.sizes();
    FeatureLayout layout = infer_feature_layout(std::vector<int64_t>(sizes.begin(), sizes.end()), f.input.size(2),
                                                f.input.size(3), impl.card.tokens);
    if (layout.kind == FeatureLayout::Kind::none)
      throw layer_error(impl.path + ": layer '" + layers[l] + "' output has shape " + c10::str(sizes) + "; " +
                        (layout.problem.empty() ? "CAM needs a (N,C,H,W) feature map (or transformer tokens)"
                                                : layout.problem));
    f.layouts.push_back(std::move(layout));
  }
  return f;
}

// The explained score of each image at one target rank: the target's logit, or for a single-logit
// binary model's negative class the negated logit.
struct RankScores {
  std::vector<int> classes;     // per image
  std::vector<int64_t> column;  // output column per image
  std::vector<float> sign;      // +1, or −1 for a single-logit model's negative class
  torch::Tensor scores;         // [N], attached to the graph
};

RankScores rank_scores(const torch::Tensor& logits, const std::vector<std::vector<int>>& targets, size_t rank) {
  const int64_t n = logits.size(0);
  const bool single_logit = logits.size(1) == 1;
  RankScores r{std::vector<int>(n), std::vector<int64_t>(n), std::vector<float>(n, 1.0f), {}};
  for (int64_t i = 0; i < n; ++i) {
    r.classes[i] = targets[i][rank];
    r.column[i] = single_logit ? 0 : r.classes[i];
    if (single_logit && r.classes[i] == 0) r.sign[i] = -1.0f;
  }
  const auto index = torch::tensor(r.column, torch::kLong).to(logits.device()).unsqueeze(1);
  const auto signs = torch::tensor(r.sign).to(logits.device());
  r.scores = logits.gather(1, index).squeeze(1) * signs;
  return r;
}

// The extra forward passes of the probe methods (Score-CAM, Ablation-CAM) for layer `l`.
CamProbe make_probe(Model::Impl& impl, CaptureModel& capture, const CapturedForward& f, size_t l,
                    const RankScores& r, const torch::Tensor& activation, const CamMethod& method, int batch_size) {
  // `activation` is the feature map; replacements go back into the layer's own layout.
  const FeatureLayout& layout = f.layouts[l];
  const torch::Tensor output = f.session.activations[l].detach();
  CamProbe probe;
  // Forward-only probes are whole images through the model's forward-only pass: the very pass the
  // model's tuner measures for the perturbation methods, so it sizes them too.
  if (batch_size > 0)
    probe.batch_size = batch_size;
  else if (method.forward_only)
    probe.tuner = &impl.batch_tuner;
  else
    probe.batch_size = activation_probe_batch(activation);
  probe.input_height = f.input.size(2);
  probe.input_width = f.input.size(3);
  probe.scores = r.scores.detach();
  const OutputKind kind = impl.card.output;
  probe.masked_probability = [&impl, &f, &r, &activation, kind](int64_t i, const torch::Tensor& masks) {
    c10::InferenceMode inference;
    // The masked copies are as many images as the pass: not holding them is the pass's memory error.
    return impl.within_memory(masks, [&] {
      const torch::Tensor out = impl.forward_only(f.input[i].unsqueeze(0) * masks);
      return class_probabilities(out, kind).select(1, r.classes[i]).to(activation.scalar_type());
    });
  };
  probe.replaced_score = [&impl, &capture, &f, &r, &activation, l, &layout, output](int64_t i,
                                                                                    const torch::Tensor& replacement) {
    const int call = f.session.call_count[l];
    auto run_replaced = [&](const torch::Tensor& replaced, const torch::Tensor& input, int64_t expected) {
      CaptureSession session = capture.make_session(CaptureSession::Mode::replace);
      session.replacements[l] = from_feature_map(replaced, layout, output, i);
      session.replace_at_call[l] = call;
      ActiveCapture active(session);
      return impl.run(capture.module(), input, expected);
    };
    // No autograd, but not InferenceMode: the capture module is shared with the gradient methods,
    // whose runs leave TorchScript's executor with plans specialised for autograd; under
    // InferenceMode those plans fail to save their (inference) inputs — Grad-CAM then Ablation-CAM
    // on a traced DenseNet did.
    torch::NoGradGuard no_grad;
    torch::Tensor out;
    try {
      // The layers before the capture point run for one image; the replacement batch flows on.
      out = run_replaced(replacement, f.input[i].unsqueeze(0), replacement.size(0));
    } catch (const Error&) {
    }
    if (!out.defined() || out.size(0) != replacement.size(0)) {
      // Something downstream mixes the layer's output with earlier tensors of batch 1: run whole
      // copies of the image, a bounded number at a time (the probe batch may be large).
      std::vector<torch::Tensor> parts;
      for (int64_t first = 0; first < replacement.size(0); first += kWholeImageProbes) {
        const int64_t count = std::min<int64_t>(kWholeImageProbes, replacement.size(0) - first);
        parts.push_back(run_replaced(replacement.narrow(0, first, count),
                                     f.input[i].unsqueeze(0).expand({count, -1, -1, -1}).contiguous(), count));
      }
      out = torch::cat(parts);
    }
    return (out.select(1, r.column[i]) * r.sign[i]).to(activation.scalar_type());
  };
  return probe;
}

}  // namespace

std::vector<CamExplanation> explain_cam(Model& model, const std::vector<InputBlob>& batch,
                                        const CamRequest& request) {
  const CamMethod* method = find_cam_method(request.method);
  if (!method) throw usage_error("unknown CAM method '" + request.method + "'");
  Model::Impl& impl = model.impl();
  const std::vector<std::string> layers =
      request.layers.empty() ? std::vector<std::string>{model.default_layer()} : request.layers;
  CaptureModel& capture = impl.capture_model(layers);
  const CapturedForward f = forward_with_capture(impl, capture, batch, layers, method->needs_gradient);

  const torch::Tensor cpu_logits = f.logits.detach().to(torch::kCPU, torch::kFloat).contiguous();
  const int64_t n = cpu_logits.size(0), outputs = cpu_logits.size(1);
  std::vector<CamExplanation> results(n);
  std::vector<std::vector<int>> targets(n);
  for (int64_t i = 0; i < n; ++i) {
    const float* row = cpu_logits.data_ptr<float>() + i * outputs;
    results[i].prediction = make_prediction(std::vector<float>(row, row + outputs), impl.card.output);
    results[i].capture = f.staged ? "staged" : "module as loaded";
    targets[i] = resolve_targets(request.target, results[i].prediction, impl.card.labels.size());
  }

  const size_t ranks = targets.front().size();
  for (size_t rank = 0; rank < ranks; ++rank) {
    const RankScores r = rank_scores(f.logits, targets, rank);
    std::vector<torch::Tensor> gradients(layers.size());
    if (method->needs_gradient) {
      impl.require_gradient(r.scores);
      // Images are independent in eval mode, so the gradient of the sum is each image's gradient.
      gradients = impl.within_memory(f.input, [&] {
        return torch::autograd::grad({r.scores.sum()}, f.session.activations, /*grad_outputs=*/{},
                                     /*retain_graph=*/rank + 1 < ranks, /*create_graph=*/false,
                                     /*allow_unused=*/true);
      });
    }
    const torch::Tensor cpu_scores = r.scores.detach().to(torch::kCPU);
    for (int64_t i = 0; i < n; ++i) {
      TargetExplanation t;
      t.class_index = r.classes[i];
      t.score = cpu_scores[i].item<float>();
      results[i].targets.push_back(std::move(t));
    }
    for (size_t l = 0; l < layers.size(); ++l) {
      if (method->needs_gradient && !gradients[l].defined())
        throw layer_error(impl.path + ": layer '" + layers[l] + "' does not influence the class score");
      torch::NoGradGuard no_grad;
      const torch::Tensor activation = to_feature_map(f.session.activations[l].detach(), f.layouts[l]);
      const torch::Tensor gradient = gradients[l].defined() ? to_feature_map(gradients[l], f.layouts[l]) : gradients[l];
      const CamProbe probe = make_probe(impl, capture, f, l, r, activation, *method, request.batch_size);
      // A probing method's own tensors (Score-CAM's masks, Ablation-CAM's copies) are allocated outside
      // the passes: not holding them is a memory error too.
      const torch::Tensor raw = impl.within_memory(f.input, [&] { return method->map(CamInputs{activation, gradient, probe}); });
      std::vector<LayerMap> maps = make_maps(layers[l], activation, f.layouts[l], raw, f.session.call_count[l], impl.path);
      for (int64_t i = 0; i < n; ++i) results[i].targets[rank].maps.push_back(std::move(maps[i]));
    }
  }
  return results;
}

}  // namespace xai
