// What a model file is when LibTorch cannot load it as TorchScript. Users most often hand over what
// torch.save, torch.export or another framework wrote; "corrupted checkpoint" (LibTorch's own words for
// all of these) sends them looking for a damaged download instead of to the export they need.
#pragma once

#include <string>

namespace xai {

// The reason after "PATH: " for a file LibTorch refused, naming what the file is (a state_dict, a
// pickled Python model, a checkpoint dictionary, a torch.export program, ONNX, Keras, safetensors, a
// truncated archive, ...) and how to export TorchScript instead. Where the kind is unknown, LibTorch's
// own message (`loader_message`) is kept. Reads at most the file's zip directory and the first bytes
// of its pickle; never throws.
std::string unloadable_model_reason(const std::string& path, const std::string& loader_message);

// The reason after "PATH: " for a directory given as the model (a TensorFlow SavedModel is one).
std::string model_directory_reason(const std::string& path);

}  // namespace xai
