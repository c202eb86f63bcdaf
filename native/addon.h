// Shared plumbing of the addon: per-feature registration and per-environment state.
#pragma once
#include <napi.h>

namespace regcache {

// Each feature file registers an initializer that adds its exports; addon.cc
// runs them all, so adding a feature never edits a central list.
using InitFn = void (*)(Napi::Env env, Napi::Object exports);
struct Registrar {
  explicit Registrar(InitFn fn);
};

// Per-environment state (worker threads each get their own).
class HandleCloses;
struct AddonData {
  Napi::FunctionReference errorClass;   // RdmaError, handed over by src/native.ts
  Napi::FunctionReference closedClass;  // ClosedError (its subclass for use after close())
  Napi::FunctionReference pmixErrorClass;  // PmixError (native/pmix/pmix.cc)
  HandleCloses* handleCloses = nullptr;  // libuv handles being closed (handle-closes.h)
};
AddonData& Data(Napi::Env env);

}  // namespace regcache
