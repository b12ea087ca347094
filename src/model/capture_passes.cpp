// Where passes that capture one layer run: the staged capture (model/staged_capture.hpp), checked
// against the capture clone (the module as loaded, instrumented) on a probe before it is trusted.
#include <torch/csrc/autograd/autograd.h>

#include <limits>
#include <sstream>

#include "model/torch_model.hpp"
#include "xai/error.hpp"

namespace xai {
namespace {

// How far the staged capture's layer output and gradient may be from the capture clone's, relative to the
// largest magnitude of each: its suffix runs with batch norms folded into the convolutions, the same
// arithmetic in another order (measured: ≤ 1e-6); a wrong cut is off by the values' own size.
constexpr double kStagedCaptureTolerance = 1e-4;

constexpr int kCapturePassesBeforeStaging = 1;

double relative_difference(const torch::Tensor& expected, const torch::Tensor& got) {
  if (expected.sizes() != got.sizes()) return std::numeric_limits<double>::infinity();
  const double scale = expected.abs().max().item<double>();
  const double difference = (expected - got).abs().max().item<double>();
  return scale > 0 ? difference / scale : difference;
}

std::string decimal(double value) {
  std::ostringstream out;
  out.precision(2);
  out << value;
  return out.str();
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
  if (!inference_clone) return nullptr;  // --no-inference-clone: everything on the module as loaded
  const CloneBatch kind = images == 1 ? CloneBatch::single_image : CloneBatch::batched;
  StagedSlot& slot = staged_captures[{layer, kind}];
  if (slot.decided) return slot.capture.get();
  // Building and checking it costs about 20 passes (ResNet50: 0.4 s, and a copy of the weights), which a
  // single explained image would never earn back: the first pass of each kind runs on the capture clone.
  if (++slot.requests <= kCapturePassesBeforeStaging) return nullptr;
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
    double gradients = 0;
    if (expected_logits.requires_grad() && got.logits.requires_grad()) {
      const auto top = [](const torch::Tensor& logits) { return std::get<0>(logits.max(1)).sum(); };
      const torch::Tensor expected_gradient = torch::autograd::grad({top(expected_logits)}, {session.activations[0]})[0];
      const torch::Tensor got_gradient = torch::autograd::grad({top(got.logits)}, {got.activation})[0];
      gradients = relative_difference(expected_gradient, got_gradient);
    } else if (expected_logits.requires_grad() != got.logits.requires_grad()) {
      gradients = std::numeric_limits<double>::infinity();
    }
    if (staged->calls() != session.call_count[0])
      problem = "the layer runs " + std::to_string(staged->calls()) + " times in the cut graph, " +
                std::to_string(session.call_count[0]) + " in the model";
    else if (!(probabilities <= kInferenceCloneTolerance))
      problem = "its probabilities differed by " + decimal(probabilities);
    else if (!(activations <= kStagedCaptureTolerance))
      problem = "its layer output differed by " + decimal(activations) + " of its largest value";
    else if (!(gradients <= kStagedCaptureTolerance))
      problem = "its gradient differed by " + decimal(gradients) + " of its largest value";
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

std::string Model::gradient_passes() const {
  std::string summary;
  for (const auto& [key, slot] : impl_->staged_captures) {
    const std::string how = !slot.decided ? "the module as loaded (one pass: staging starts at the second)"
                            : slot.capture ? "staged (the layers before it on the inference clone)"
                                           : "the module as loaded (staging refused: " + slot.note + ")";
    const std::string what =
        key.first + (key.second == CloneBatch::single_image ? " (single images): " : " (batches): ") + how;
    summary += (summary.empty() ? "" : "; ") + what;
  }
  return summary;
}

}  // namespace xai
