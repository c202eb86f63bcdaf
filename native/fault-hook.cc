// __setDrainReadFault(errno, afterReads): the one test hook left in the
// production addon. The ummunotify monitor's next drain read() fails with
// `errno` after `afterReads` good ones (monitor/common.h, ReadFault), so the
// tests can check that a drain broken part way loses nothing.
//
// Why here and not in the test-only addon (native/testing/): the fault state
// must be the one the monitor's read path checks, and that lives in this
// shared object; a second .node has its own copy of every static. Reaching
// across (dlsym on this addon from the other) would be more machinery than
// the hook. It is harmless to leave in: it sets two integers, cannot touch
// memory, is undocumented, and only src/testing.ts (not shipped) calls it.
#include <napi.h>

#include "addon.h"
#include "monitor/common.h"

namespace regcache {
namespace {

Napi::Value SetDrainReadFault(const Napi::CallbackInfo& info) {
  if (!info[0].IsNumber() || !(info[1].IsNumber() || info[1].IsUndefined()))
    throw Napi::TypeError::New(info.Env(), "__setDrainReadFault(errno: number, afterReads?: number)");
  monitor::ReadFault& fault = monitor::InjectedReadFault();
  fault.err = info[0].As<Napi::Number>().Int32Value();
  fault.after_reads = info[1].IsUndefined() ? 0 : info[1].As<Napi::Number>().Int32Value();
  return info.Env().Undefined();
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("__setDrainReadFault", Napi::Function::New(env, SetDrainReadFault, "__setDrainReadFault"));
}

Registrar registrar(Init);

}  // namespace
}  // namespace regcache
