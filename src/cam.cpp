#include "xai/cam.hpp"

#include <torch/csrc/autograd/autograd.h>

#include <opencv2/imgproc.hpp>

#include "cam_methods.hpp"
#include "torch_model.hpp"
#include "xai/error.hpp"

namespace xai {
namespace {

// ReLU(method map), then per-image min-max normalisation at the layer's resolution (the reference
// library's order, so maps are comparable). A constant map becomes all zero.
std::vector<LayerMap> make_maps(const std::string& layer, const torch::Tensor& activation,
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
    cv::Mat raw(static_cast<int>(h), static_cast<int>(w), CV_32FC1, cam[i].data_ptr<float>());
    double lo, hi;
    cv::minMaxLoc(raw, &lo, &hi);
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

// Score-CAM's probes are whole images through the whole network: 32 per pass amortises the
// per-pass overhead, larger batches stop paying (README, Speed). Ablation-CAM's probes only run the
// layers after the capture point, and every pass also runs the layers before it once, so fewer,
// larger passes win: as many probes as fit in 256 MiB of activations, at least 32.
int automatic_probe_batch(const std::string& method, const torch::Tensor& activation) {
  if (method != "ablationcam") return 32;
  const int64_t per_probe = std::max<int64_t>(1, activation[0].numel() * static_cast<int64_t>(activation.element_size()));
  const int64_t fit = (int64_t{256} << 20) / per_probe;
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(activation.size(1), std::max<int64_t>(32, fit))));
}

}  // namespace

std::vector<std::string> cam_method_names() {
  std::vector<std::string> names;
  for (const auto& method : all_cam_methods()) names.push_back(method.name);
  return names;
}

cv::Mat upsample_map(const cv::Mat& map, int width, int height) {
  if (map.cols == width && map.rows == height) return map.clone();
  cv::Mat resized;
  cv::resize(map, resized, cv::Size(width, height), 0, 0, cv::INTER_LINEAR);
  return resized;
}

std::vector<CamExplanation> explain_cam(Model& model, const std::vector<InputBlob>& batch,
                                        const CamRequest& request) {
  const CamMethod* method = find_cam_method(request.method);
  if (!method) throw usage_error("unknown CAM method '" + request.method + "'");
  Model::Impl& impl = model.impl();
  const std::vector<std::string> layers =
      request.layers.empty() ? std::vector<std::string>{model.default_layer()} : request.layers;
  CaptureModel& capture = impl.capture_model(layers);

  const torch::Tensor input = impl.to_tensor(batch);
  CaptureSession session = capture.make_session(CaptureSession::Mode::gradient);
  torch::Tensor logits;
  {
    // Gradient-free methods record the activation without any autograd bookkeeping.
    torch::AutoGradMode grad_mode(method->needs_gradient);
    ActiveCapture active(session);
    logits = impl.run(capture.module(), input);
  }
  for (size_t l = 0; l < layers.size(); ++l) {
    if (!session.activations[l].defined())
      throw layer_error(impl.path + ": layer '" + layers[l] + "' did not run in the forward pass");
    if (session.activations[l].dim() != 4)
      throw layer_error(impl.path + ": layer '" + layers[l] + "' output has shape " +
                        c10::str(session.activations[l].sizes()) + "; CAM needs a (N,C,H,W) feature map");
  }

  const torch::Tensor cpu_logits = logits.detach().to(torch::kCPU, torch::kFloat).contiguous();
  const int64_t n = cpu_logits.size(0), outputs = cpu_logits.size(1);
  std::vector<CamExplanation> results(n);
  std::vector<std::vector<int>> targets(n);
  for (int64_t i = 0; i < n; ++i) {
    const float* row = cpu_logits.data_ptr<float>() + i * outputs;
    results[i].prediction = make_prediction(std::vector<float>(row, row + outputs), impl.card.output);
    targets[i] = resolve_targets(request.target, results[i].prediction, impl.card.labels.size());
  }

  const size_t ranks = targets.front().size();
  const bool single_logit = outputs == 1;
  const OutputKind output_kind = impl.card.output;
  for (size_t rank = 0; rank < ranks; ++rank) {
    // Score per image: the target's logit; a binary model's negative class is −logit.
    std::vector<int64_t> column(n);
    std::vector<float> sign(n, 1.0f);
    for (int64_t i = 0; i < n; ++i) {
      const int cls = targets[i][rank];
      column[i] = single_logit ? 0 : cls;
      if (single_logit && cls == 0) sign[i] = -1.0f;
    }
    const auto index = torch::tensor(column, torch::kLong).to(logits.device()).unsqueeze(1);
    const auto signs = torch::tensor(sign).to(logits.device());
    torch::Tensor scores = logits.gather(1, index).squeeze(1) * signs;  // [N]
    std::vector<torch::Tensor> gradients(layers.size());
    if (method->needs_gradient) {
      // Images are independent in eval mode, so the gradient of the sum is each image's gradient.
      gradients = torch::autograd::grad({scores.sum()}, session.activations, /*grad_outputs=*/{},
                                        /*retain_graph=*/rank + 1 < ranks, /*create_graph=*/false,
                                        /*allow_unused=*/true);
    }
    const torch::Tensor cpu_scores = scores.detach().to(torch::kCPU);
    for (int64_t i = 0; i < n; ++i) {
      TargetExplanation t;
      t.class_index = targets[i][rank];
      t.score = cpu_scores[i].item<float>();
      results[i].targets.push_back(std::move(t));
    }

    // Score of image i's target from a batch of outputs, as the probability or the signed logit.
    auto target_probability = [&](int64_t i, const torch::Tensor& out) {
      const torch::Tensor col = out.select(1, column[i]);
      if (output_kind == OutputKind::softmax) return torch::softmax(out, 1).select(1, column[i]);
      const torch::Tensor p = torch::sigmoid(col);
      return sign[i] < 0 ? 1 - p : p;
    };
    for (size_t l = 0; l < layers.size(); ++l) {
      if (method->needs_gradient && !gradients[l].defined())
        throw layer_error(impl.path + ": layer '" + layers[l] + "' does not influence the class score");
      torch::NoGradGuard no_grad;
      const torch::Tensor activation = session.activations[l].detach();
      CamProbe probe;
      probe.batch_size = request.batch_size > 0 ? request.batch_size : automatic_probe_batch(method->name, activation);
      probe.input_height = input.size(2);
      probe.input_width = input.size(3);
      probe.scores = scores.detach();
      probe.masked_probability = [&](int64_t i, const torch::Tensor& masks) {
        c10::InferenceMode inference;
        const torch::Tensor out = impl.run(impl.module, input[i].unsqueeze(0) * masks);
        return target_probability(i, out).to(activation.scalar_type());
      };
      probe.replaced_score = [&](int64_t i, const torch::Tensor& replacement) {
        CaptureSession replace = capture.make_session(CaptureSession::Mode::replace);
        replace.replacements[l] = replacement;
        replace.replace_at_call[l] = session.call_count[l];
        c10::InferenceMode inference;
        ActiveCapture active(replace);
        torch::Tensor out;
        try {
          // The layers before the capture point run for one image; the replacement batch flows on.
          out = impl.run(capture.module(), input[i].unsqueeze(0), replacement.size(0));
        } catch (const Error&) {
        }
        if (!out.defined() || out.size(0) != replacement.size(0)) {
          // Something downstream mixes the layer's output with earlier tensors of batch 1: run whole
          // copies of the image, a bounded number at a time (the probe batch may be large).
          std::vector<torch::Tensor> parts;
          for (int64_t first = 0; first < replacement.size(0); first += kWholeImageProbes) {
            const int64_t count = std::min<int64_t>(kWholeImageProbes, replacement.size(0) - first);
            CaptureSession chunk = capture.make_session(CaptureSession::Mode::replace);
            chunk.replacements[l] = replacement.narrow(0, first, count);
            chunk.replace_at_call[l] = session.call_count[l];
            ActiveCapture active_chunk(chunk);
            parts.push_back(impl.run(capture.module(), input[i].unsqueeze(0).expand({count, -1, -1, -1}).contiguous()));
          }
          out = torch::cat(parts);
        }
        return (out.select(1, column[i]) * sign[i]).to(activation.scalar_type());
      };
      const torch::Tensor raw = method->map(CamInputs{activation, gradients[l], probe});
      std::vector<LayerMap> maps = make_maps(layers[l], activation, raw, session.call_count[l], impl.path);
      for (int64_t i = 0; i < n; ++i) results[i].targets[rank].maps.push_back(std::move(maps[i]));
    }
  }
  return results;
}

}  // namespace xai
