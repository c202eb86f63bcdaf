// Shared helpers of the two monitor backends: argument parsing and the event
// objects both hand to JavaScript.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

namespace regcache::monitor {

// A bigint (or a safe-integer number) as an unsigned 64-bit value.
inline uint64_t U64Arg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  Napi::Value v = info[i];
  if (v.IsBigInt()) {
    bool lossless = true;
    uint64_t out = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) throw Napi::RangeError::New(info.Env(), std::string(what) + " must fit in 64 unsigned bits");
    return out;
  }
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= 0 && d <= 9007199254740991.0) || d != static_cast<double>(static_cast<uint64_t>(d)))
      throw Napi::RangeError::New(info.Env(), std::string(what) + " must be a non-negative safe integer");
    return static_cast<uint64_t>(d);
  }
  throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a bigint");
}

// One report as JavaScript sees it: { cookie, start, end, hint }. `hint` true
// means [start, end) is exactly the invalidated part; false means the whole
// watched range (it was hit more than once before this drain).
inline Napi::Object EventObject(Napi::Env env, uint64_t cookie, uint64_t start, uint64_t end, bool hint) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("cookie", Napi::BigInt::New(env, cookie));
  o.Set("start", Napi::BigInt::New(env, start));
  o.Set("end", Napi::BigInt::New(env, end));
  o.Set("hint", Napi::Boolean::New(env, hint));
  return o;
}

}  // namespace regcache::monitor
