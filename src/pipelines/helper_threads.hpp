// What the pipelines' helper threads (decoders, tile readers, writers) share.
#pragma once

#include <sys/resource.h>
#include <unistd.h>

namespace xai {

// Helper threads run at a lower priority than the model's threads: the model's parallel regions wait
// for their slowest thread, so a helper preempting one of them stalls all of them, while a helper that
// waits costs nothing (the bounded queues keep it ahead when the model pauses). Best effort: without
// the permission, threads keep the normal priority.
inline void yield_to_the_model() { ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10); }

}  // namespace xai
