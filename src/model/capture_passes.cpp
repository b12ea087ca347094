// Where passes that capture one layer run: the staged capture (model/staged_capture.hpp), checked
// against the capture clone (the module as loaded, instrumented) on a probe before it is trusted.
#include <torch/csrc/autograd/autograd.h>

#include <limits>

#include "core/text.hpp"
#include "model/feature_map.hpp"
#include "model/torch_model.hpp"
#include "xai/error.hpp"

namespace xai {
namespace {

// How far the staged capture's layer output may be from the capture clone's, relative to its largest
// magnitude. Both are float32 computations of the same function in another order (batch norms folded, other
// convolution kernels): on a random-weight ResNet50 at layer4 they differ by about 1e-4. A wrong cut is off
// by the values' own size.
constexpr double kStagedCaptureTolerance = 1e-3;

// How far its Grad-CAM map of the probe may be from the capture clone's (maps in [0,1]). Float32 rounding in
// another order is amplified by the layers after the cut (a random-weight ResNet50's probe: 8e-5 at layer4,
// 2.3e-4 at layer4.2.conv3, 1.1e-2 at layer3, where float32 eager PyTorch is itself 2.2e-2 from the same
// network in float64); a suffix that computes something else moves the map by its own size.
constexpr double kStagedMapTolerance = 0.05;

// Grad-CAM maps [N, h, w] in [0,1] from a layer's output and its gradient, viewed as feature maps as the
// CAM methods do; an output that is not a feature map is compared as it is.
torch::Tensor probe_grad_cam(const torch::Tensor& output, const torch::Tensor& gradient, const FeatureLayout& layout) {
  if (layout.kind == FeatureLayout::Kind::none) return output.to(torch::kDouble);
  const torch::Tensor a = to_feature_map(output, layout).to(torch::kDouble);
  const torch::Tensor g = to_feature_map(gradient, layout).to(torch::kDouble);
  torch::Tensor cam = torch::relu((g.mean({2, 3}, true) * a).sum(1));
  cam = cam - cam.amin({1, 2}, true);
  return cam / cam.amax({1, 2}, true).clamp_min(1e-300);
}

double relative_difference(const torch::Tensor& expected, const torch::Tensor& got) {
  if (expected.sizes() != got.sizes()) return std::numeric_limits<double>::infinity();
  const double scale = expected.abs().max().item<double>();
  const double difference = (expected - got).abs().max().item<double>();
  return scale > 0 ? difference / scale : difference;
}

}  // namespace

Model::Impl::StagedPass Model::Impl::run_staged(StagedCapture& staged, const torch::Tensor& input,
                                                bool needs_gradient) {
  StagedPass pass;
  StagedCapture::Prefix prefix;
  const torch::Tensor logits = run_pass(
      [&] {
        prefix = staged.run_prefix(input);
        pass.activation = needs_gradient ? prefix.activation.detach().requires_grad_(true) : prefix.activation;
        torch::AutoGradMode grad_mode(needs_gradient);
        // A copy: the later layers may modify their input in place (`out += identity`, an in-place ReLU).
        return staged.run_suffix(pass.activation.clone(), prefix.carried);
      },
      input);
  pass.logits = logits;
  return pass;
}

StagedCapture* Model::Impl::staged_capture(const std::string& layer, int64_t images) {
  if (!staged_capture_enabled) return nullptr;
  const CloneBatch kind = images == 1 ? CloneBatch::single_image : CloneBatch::batched;
  StagedSlot& slot = staged_captures[{layer, kind}];
  if (slot.decided) return slot.capture.get();
  slot.decided = true;
  const long long counted = forward_passes;  // the checks are not the run's work
  try {
    const torch::Tensor input = probe().narrow(0, 0, kind == CloneBatch::single_image ? 1 : 2);
    auto staged = std::make_unique<StagedCapture>(module, layer, input.narrow(0, 0, 1), kind);

    // The reference: the capture clone, as the gradient methods ran it before.
    CaptureModel& capture = capture_model({layer});
    CaptureSession session = capture.make_session(CaptureSession::Mode::gradient);
    torch::Tensor expected_logits;
    {
      torch::AutoGradMode grad_mode(true);
      ActiveCapture active(session);
      expected_logits = run(capture.module(), input);
    }
    const StagedPass got = run_staged(*staged, input, expected_logits.requires_grad());

    std::string problem;
    const double probabilities = (class_probabilities(expected_logits.detach(), card.output) -
                                  class_probabilities(got.logits.detach(), card.output))
                                     .abs()
                                     .max()
                                     .item<double>();
    const double activations = relative_difference(session.activations[0].detach(), got.activation.detach());
    // What the gradient methods make of them: the probe's Grad-CAM maps (channel weights the gradient's
    // spatial mean, ReLU, [0,1]) within kStagedMapTolerance. Compared as maps, not element by element: a ReLU
    // whose input sits at zero passes the gradient in one computation and not in the other, which moves single
    // gradient elements by their whole size (3-9 % of the largest on ResNet50) but the map far less.
    double maps = 0;
    if (expected_logits.requires_grad() && got.logits.requires_grad()) {
      const auto top = [](const torch::Tensor& logits) { return std::get<0>(logits.max(1)).sum(); };
      const torch::Tensor expected_gradient = torch::autograd::grad({top(expected_logits)}, {session.activations[0]})[0];
      const torch::Tensor got_gradient = torch::autograd::grad({top(got.logits)}, {got.activation})[0];
      const auto sizes = session.activations[0].sizes();
      const FeatureLayout layout = infer_feature_layout(std::vector<int64_t>(sizes.begin(), sizes.end()),
                                                        input.size(2), input.size(3), card.tokens);
      maps = (probe_grad_cam(session.activations[0].detach(), expected_gradient, layout) -
              probe_grad_cam(got.activation.detach(), got_gradient, layout))
                 .abs()
                 .max()
                 .item<double>();
    } else if (expected_logits.requires_grad() != got.logits.requires_grad()) {
      maps = std::numeric_limits<double>::infinity();
    }
    if (staged->calls() != session.call_count[0])
      problem = "the layer runs " + std::to_string(staged->calls()) + " times in the cut graph, " +
                std::to_string(session.call_count[0]) + " in the model";
    else if (!(probabilities <= kInferenceCloneTolerance))
      problem = "its probabilities differed by " + significant_digits(probabilities, 2);
    else if (!(activations <= kStagedCaptureTolerance))
      problem = "its layer output differed by " + significant_digits(activations, 2) + " of its largest value";
    else if (!(maps <= kStagedMapTolerance))
      problem = "its Grad-CAM map of a probe differed by " + significant_digits(maps, 2) + " (of 1)";
    if (problem.empty())
      slot.capture = std::move(staged);
    else
      slot.note = problem;
  } catch (const Error&) {
    forward_passes = counted;
    throw;
  } catch (const std::exception& e) {
    slot.note = "cannot cut the model there: " + first_line(e.what());
  }
  forward_passes = counted;
  return slot.capture.get();
}

bool Model::staged_capture() const { return impl_->staged_capture_enabled; }

std::string Model::gradient_passes() const {
  std::string summary;
  for (const auto& [key, slot] : impl_->staged_captures) {
    const std::string how = slot.capture ? "staged (the layers before it on the inference clone)"
                                         : "the module as loaded (staging refused: " + slot.note + ")";
    const std::string what =
        key.first + (key.second == CloneBatch::single_image ? " (single images): " : " (batches): ") + how;
    summary += (summary.empty() ? "" : "; ") + what;
  }
  return summary;
}

}  // namespace xai
