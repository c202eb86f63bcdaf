// Shared helpers of the two monitor backends: argument parsing and the packed
// reports both hand to JavaScript.
#pragma once
#include <napi.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

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

// Reports travel to JavaScript packed in one BigUint64Array, four words
// each: cookie, start, end, hint (1: [start, end) is exactly the invalidated
// part; 0: the whole watched range, hit more than once before this drain).
// One array instead of an object per report: building objects property by
// property through N-API dominated the cost of an invalidation.
constexpr size_t kRecordWords = 4;

inline void AppendRecord(std::vector<uint64_t>* out, uint64_t cookie, uint64_t start, uint64_t end, bool hint) {
  out->insert(out->end(), {cookie, start, end, hint ? 1u : 0u});
}

// { records, counter }: `counter` is a bigint, or null when not known yet.
inline Napi::Object DrainResult(Napi::Env env, const std::vector<uint64_t>& words, Napi::Value counter) {
  auto records = Napi::BigUint64Array::New(env, words.size());
  if (!words.empty()) std::memcpy(records.Data(), words.data(), words.size() * sizeof(uint64_t));
  Napi::Object out = Napi::Object::New(env);
  out.Set("records", records);
  out.Set("counter", counter);
  return out;
}

}  // namespace regcache::monitor
