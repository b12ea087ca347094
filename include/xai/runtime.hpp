// Process-wide settings of the inference runtime.
#pragma once

namespace xai {

// Intra-op threads for model execution; n <= 0 means one per CPU core. LibTorch from Debian
// starts with one thread on some machines, where a ResNet50 forward pass is then many times slower.
void set_thread_count(int n);
int thread_count();  // as set (reported with the model, since it can change float results slightly)

// Keeps freed tensor memory in the process instead of handing it back to the kernel. glibc serves
// every buffer over 128 KiB-32 MiB with its own mmap and unmaps it on free, so each batch's
// activations are page-faulted in afresh (README, Allocator, has the measurement). Memory stays bounded by the largest batch's working set; call once at start-up.
void keep_freed_memory();

}  // namespace xai
