// Internal: the registry's entries for the two kinds of method xai has today. Every CAM method is
// one adapter around its channel weighting (cam_methods.hpp); LIME is its own class.
#pragma once

#include <memory>

#include "xai/methods.hpp"

namespace xai {

struct CamMethod;

std::unique_ptr<ExplanationMethod> cam_method(const CamMethod& weighting);
// The weighting of a CAM entry; nullptr for other methods.
const CamMethod* cam_weighting(const ExplanationMethod& method);

std::unique_ptr<ExplanationMethod> lime_method();

}  // namespace xai
