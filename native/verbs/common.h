// Shared helpers of the verbs binding: argument checks, the "closed" error,
// type-checked unwrapping and environment-teardown registration.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

namespace regcache::verbs {

// Use after close(): a ClosedError (src/errors.ts: code 'ERR_CLOSED', errno EBADF).
[[noreturn]] void ThrowClosed(Napi::Env env, const char* what);

// Argument checks. The TypeScript layer validates first; these keep the C++
// side safe when called directly (TypeError/RangeError, never a crash).
uint64_t ArgU64(const Napi::CallbackInfo& info, size_t i, const char* name);     // BigInt >= 0
uint32_t ArgU32(const Napi::CallbackInfo& info, size_t i, const char* name);     // integer Number
double ArgNumber(const Napi::CallbackInfo& info, size_t i, const char* name);    // any Number
std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name);

// Unwraps a native object after checking its type tag, so a wrong object
// passed from JS is a TypeError instead of a wild pointer.
template <class T>
T* UnwrapTagged(Napi::Value v, const char* what) {
  Napi::Env env = v.Env();
  if (!v.IsObject() || !v.As<Napi::Object>().CheckTypeTag(&T::kTag))
    throw Napi::TypeError::New(env, std::string(what) + " expected");
  T* obj = T::Unwrap(v.As<Napi::Object>());
  if (!obj) throw Napi::TypeError::New(env, std::string(what) + " expected");
  return obj;
}

// A native object that owns kernel resources registers an environment cleanup
// hook while it is open. Node runs the hooks in reverse order of registration,
// so children (always created after their parents) are released first.
class TeardownHook {
 public:
  virtual ~TeardownHook() = default;

 protected:
  // Frees every native resource; must not call into JavaScript.
  virtual void Release() = 0;
  void Arm(napi_env env);
  void Disarm();
  // Moves this object's hook to the newest position (after it gains children
  // created earlier than itself, e.g. a QP on an older rdma_cm id).
  void Rearm() {
    napi_env env = env_;
    Disarm();
    Arm(env);
  }

 private:
  static void Hook(void* self);
  napi_env env_ = nullptr;
};

}  // namespace regcache::verbs
