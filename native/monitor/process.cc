// pidCell: an Int32Array-sized ArrayBuffer whose first word is this process's
// pid, rewritten in the child by a pthread_atfork handler. JavaScript compares
// it with the pid it saw when it built a cache (one load): after fork() the
// child sees a different value and stops using the parent's registrations.
// (process.pid is read once at start-up and stays the parent's in a forked child.)
#include <pthread.h>
#include <unistd.h>

#include "addon.h"

namespace regcache::monitor {
namespace {

alignas(64) int32_t pidCell[16];

void AfterForkInChild() { pidCell[0] = static_cast<int32_t>(getpid()); }

void Init(Napi::Env env, Napi::Object exports) {
  static bool installed = false;
  if (!installed) {
    pidCell[0] = static_cast<int32_t>(getpid());
    pthread_atfork(nullptr, nullptr, AfterForkInChild);
    installed = true;
  }
  exports.Set("pidCell", Napi::ArrayBuffer::New(env, pidCell, sizeof pidCell));
}

Registrar registrar(Init);

}  // namespace
}  // namespace regcache::monitor
