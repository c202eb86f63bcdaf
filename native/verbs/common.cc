#include "verbs/common.h"

#include <cmath>

#include "addon.h"

namespace regcache::verbs {

void ThrowClosed(Napi::Env env, const char* what) {
  Napi::FunctionReference& cls = Data(env).closedClass;
  if (!cls.IsEmpty()) throw Napi::Error(env, cls.New({Napi::String::New(env, what)}));
  // Only reachable if the loader was bypassed: the same code, on a plain Error.
  Napi::Error err = Napi::Error::New(env, std::string(what) + " is closed");
  err.Set("code", Napi::String::New(env, "ERR_CLOSED"));
  throw err;
}

uint64_t ArgU64(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = info[i];
  if (!v.IsBigInt()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a bigint");
  bool lossless = false;
  uint64_t out = v.As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless) throw Napi::RangeError::New(info.Env(), std::string(name) + " must fit in 64 unsigned bits");
  return out;
}

double ArgNumber(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = info[i];
  if (!v.IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

uint32_t ArgU32(const Napi::CallbackInfo& info, size_t i, const char* name) {
  double d = ArgNumber(info, i, name);
  if (!(d >= 0 && d <= 4294967295.0) || std::floor(d) != d)
    throw Napi::RangeError::New(info.Env(), std::string(name) + " must be an integer in [0, 2^32)");
  return static_cast<uint32_t>(d);
}

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = info[i];
  if (!v.IsString()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

void TeardownHook::Arm(napi_env env) {
  if (env_) return;
  env_ = env;
  napi_add_env_cleanup_hook(env, &TeardownHook::Hook, this);
}

void TeardownHook::Disarm() {
  if (!env_) return;
  napi_remove_env_cleanup_hook(env_, &TeardownHook::Hook, this);
  env_ = nullptr;
}

void TeardownHook::Hook(void* arg) {
  auto* self = static_cast<TeardownHook*>(arg);
  self->env_ = nullptr;  // Node drops the hook after this call
  self->Release();
}

}  // namespace regcache::verbs
