// Process-wide settings of the inference runtime.
#pragma once

namespace xai {

// Intra-op threads for model execution; n <= 0 means one per CPU core. LibTorch from Debian
// starts with one thread on some machines, where a ResNet50 forward pass is then ~10x slower.
void set_thread_count(int n);
int thread_count();

}  // namespace xai
