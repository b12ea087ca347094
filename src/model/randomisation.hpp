// Cascading model-parameter randomisation (Adebayo et al. 2018, "Sanity checks for saliency maps"):
// the model's parametrised modules grouped into stages from the output down, and copies of the model
// with the parameters of chosen modules re-initialised. The model itself is never modified.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "xai/model.hpp"

namespace xai {

// One step of the cascade: the modules whose parameters it re-initialises.
struct RandomisationStage {
  std::string name;                  // "fc", "layer3", "conv1+bn1"
  std::vector<std::string> modules;  // module paths that own parameters or buffers
};

// The model's stages from the output down: each of stage_layers() is a stage; parametrised modules
// outside every stage (the head, the stem, a final norm) form one stage per run of consecutive
// modules in execution order. Modules that do not run are left out (they cannot change a map);
// parameters of the model itself (not of a submodule) belong to the last (input-side) stage.
// Throws layer_error when the model has no parametrised submodule.
std::vector<RandomisationStage> randomisation_cascade(Model& model);

// A deep copy of `model` (its own parameters, card and inference clone) whose parameters and
// buffers under `modules` (each with every module inside it; "" is the model's own parameters) are
// re-initialised as PyTorch's reset_parameters() does:
//   weights with ≥ 2 dimensions (convolutions, linear layers) ~ U(−1/√fan_in, 1/√fan_in), their
//   biases the same; normalisation layers (type name containing "Norm") weight 1, bias 0, running
//   mean 0, running variance 1; any other parameter ~ N(mean, std) of its own trained values.
// The values depend on `seed` and each parameter's name only, so a module gets the same values
// whichever other modules are randomised with it (the cascade's steps are cumulative).
// Throws layer_error for an unknown module path.
Model randomised_copy(Model& model, const std::vector<std::string>& modules, uint64_t seed);

}  // namespace xai
