// xai's public API, one header: load a TorchScript classifier (model.hpp), choose methods and their
// settings (explain_options.hpp, settings.hpp; the registry in methods.hpp lists them, method_settings.hpp
// declares how each is given), plan once and
// explain images (explain.hpp) or a whole folder (batch.hpp). Errors carry the exit code of their kind
// (error.hpp). Everything else in the source tree is internal and may change.
//
//   xai::Model model = xai::Model::load("model.pt");
//   xai::ExplainOptions options;
//   options.methods = {"gradcam", "lime"};
//   const xai::ExplainPlan plan = xai::plan_explanations(model, options);
//   const xai::ExplainOutcome outcome = xai::explain_image(model, plan, "patch.png");
#pragma once

#include "xai/atomic_file.hpp"
#include "xai/batch.hpp"
#include "xai/error.hpp"
#include "xai/explain.hpp"
#include "xai/explain_options.hpp"
#include "xai/explain_plan.hpp"
#include "xai/explanation_outcome.hpp"
#include "xai/feature_layout.hpp"
#include "xai/image.hpp"
#include "xai/inputs.hpp"
#include "xai/map_stats.hpp"
#include "xai/method_settings.hpp"
#include "xai/methods.hpp"
#include "xai/model.hpp"
#include "xai/model_card.hpp"
#include "xai/prepared_image.hpp"
#include "xai/settings.hpp"
