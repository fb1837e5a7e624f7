#include "core/thread_name.hpp"

#include <pthread.h>

namespace voicegate {

void set_thread_name(const std::string& name) {
    (void)pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

}  // namespace voicegate
