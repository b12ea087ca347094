// The model as the methods call it: class probabilities of perturbed images (perturbation.hpp) and
// class scores with their input gradients (gradient_attribution.hpp). Here, not in model/, because
// they exist for the methods; they reach LibTorch through the model's internals.
#include <torch/csrc/autograd/autograd.h>

#include "model/torch_model.hpp"
#include "methods/gradient_attribution.hpp"
#include "methods/perturbation.hpp"

namespace xai {

namespace {

// Class probabilities of an input on the model's device, both forms of model_classifier share it:
// the first row of the first batch is the unperturbed image, whose prediction the methods want.
struct DeviceProbabilities {
  Model::Impl& impl;
  Prediction* unperturbed;
  bool first = true;

  std::vector<double> operator()(const torch::Tensor& input) {
    const torch::Tensor logits = impl.forward_only(input);
    if (first && unperturbed) {
      const torch::Tensor row = logits[0].to(torch::kCPU, torch::kFloat).contiguous();
      *unperturbed = make_prediction(std::vector<float>(row.data_ptr<float>(), row.data_ptr<float>() + row.numel()),
                                     impl.card.output);
    }
    first = false;
    const torch::Tensor probabilities =
        class_probabilities(logits, impl.card.output).to(torch::kCPU, torch::kDouble).contiguous();
    const double* p = probabilities.data_ptr<double>();
    return std::vector<double>(p, p + probabilities.numel());
  }
};

torch::Tensor on_device(const float* values, c10::IntArrayRef shape, const torch::Device& device) {
  return torch::from_blob(const_cast<float*>(values), shape, torch::kFloat).to(device);
}

// The scores of `classes` for a batch on the host and their gradients with respect to the input.
ScoreGradients score_gradients(Model::Impl& impl, const torch::Tensor& host, const std::vector<int>& classes) {
  torch::AutoGradMode grad_mode(true);
  const torch::Tensor input = host.to(impl.device).clone().requires_grad_(true);
  const torch::Tensor logits = impl.run(impl.module, input);
  // The explained score: the class's logit, or for a single-logit binary model's negative class
  // the negated logit (as Grad-CAM's).
  std::vector<int64_t> column(classes.size());
  std::vector<float> sign(classes.size(), 1.0f);
  for (size_t i = 0; i < classes.size(); ++i) {
    column[i] = logits.size(1) == 1 ? 0 : classes[i];
    if (logits.size(1) == 1 && classes[i] == 0) sign[i] = -1.0f;
  }
  const torch::Tensor scores =
      logits.gather(1, torch::tensor(column, torch::kLong).to(logits.device()).unsqueeze(1)).squeeze(1) *
      torch::tensor(sign).to(logits.device());
  impl.require_gradient(scores);
  const torch::Tensor gradient = torch::autograd::grad({scores.sum()}, {input})[0].to(torch::kCPU).contiguous();
  const torch::Tensor cpu_scores = scores.detach().to(torch::kCPU, torch::kDouble).contiguous();
  ScoreGradients out;
  out.scores.assign(cpu_scores.data_ptr<double>(), cpu_scores.data_ptr<double>() + cpu_scores.numel());
  out.gradients.assign(gradient.data_ptr<float>(), gradient.data_ptr<float>() + gradient.numel());
  return out;
}

}  // namespace

Classifier model_classifier(Model& model, Prediction* unperturbed) {
  Model::Impl& impl = model.impl();
  model.labels();  // checks the outputs against the card once
  auto probabilities = std::make_shared<DeviceProbabilities>(DeviceProbabilities{impl, unperturbed});
  Classifier classifier = [probabilities, &impl](const ImageBatch& batch) {
    c10::InferenceMode inference;
    return (*probabilities)(
        on_device(batch.values, {batch.count, batch.channels, batch.height, batch.width}, impl.device));
  };
  // The base is copied to the device once; each batch then brings only its masks, and the images are
  // composed there. The arithmetic is the host's (fill + mask · (original − fill), one rounding each),
  // so the images are the same bits wherever they are composed.
  classifier.on_base = [probabilities, &impl](const InputBlob& original, const InputBlob& fill) -> MaskClassifier {
    c10::InferenceMode inference;
    const std::vector<int64_t> shape = {1, original.channels, original.height, original.width};
    const torch::Tensor fill_image = on_device(fill.values.data(), shape, impl.device);
    const torch::Tensor difference = on_device(original.values.data(), shape, impl.device) - fill_image;
    return [probabilities, &impl, fill_image, difference](int count, const float* masks) {
      c10::InferenceMode inference;
      // The batch's masks and images may not fit beside the model (the expanded view allocates nothing: it
      // gives the error the batch's shape).
      const torch::Tensor images = impl.within_memory(difference.expand({count, -1, -1, -1}), [&] {
        const torch::Tensor mask = on_device(masks, {count, 1, difference.size(2), difference.size(3)}, impl.device);
        return fill_image + mask * difference;
      });
      return (*probabilities)(images);
    };
  };
  return classifier;
}

ScoreGradient model_score_gradient(Model& model) {
  Model::Impl& impl = model.impl();
  model.labels();  // checks the outputs against the card once
  return {[&impl](const ImageBatch& batch, const std::vector<int>& classes) {
            const torch::Tensor host = torch::from_blob(
                const_cast<float*>(batch.values), {batch.count, batch.channels, batch.height, batch.width}, torch::kFloat);
            // The copy, the forward and the backward may each run out of memory (the backward holds the most).
            return impl.within_memory(host, [&] { return score_gradients(impl, host, classes); });
          },
          &model.gradient_batch_tuner()};
}

}  // namespace xai
