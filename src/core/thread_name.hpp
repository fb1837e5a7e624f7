#pragma once

#include <string>

namespace voicegate {

/// Names the calling thread (the first 15 bytes of `name`, Linux's limit), so `top -H`, `perf`
/// and debuggers tell voicegate's threads apart: vg-loop-N, vg-sqlite-write, vg-pg-writer1, ...
/// Best effort: a failure is ignored.
void set_thread_name(const std::string& name);

}  // namespace voicegate
