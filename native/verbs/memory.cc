// addressOf(view): the address of a view's first byte, as a bigint.
#include "verbs/memory.h"

#include <string>

#include "addon.h"

namespace regcache::verbs {

static size_t ElementSize(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array: case napi_uint8_array: case napi_uint8_clamped_array: return 1;
    case napi_int16_array: case napi_uint16_array: return 2;
    case napi_int32_array: case napi_uint32_array: case napi_float32_array: return 4;
    default: return 8;  // float64, bigint64, biguint64
  }
}

Span ViewSpan(Napi::Value v, const char* name) {
  napi_env env = v.Env();
  void* data = nullptr;
  size_t length = 0;
  napi_value buffer = nullptr;
  if (v.IsTypedArray()) {
    napi_typedarray_type type;
    size_t count = 0, offset = 0;
    NAPI_THROW_IF_FAILED(env, napi_get_typedarray_info(env, v, &type, &count, &data, &buffer, &offset), Span{});
    length = count * ElementSize(type);
  } else if (v.IsDataView()) {
    size_t offset = 0;
    NAPI_THROW_IF_FAILED(env, napi_get_dataview_info(env, v, &length, &data, &buffer, &offset), Span{});
  } else if (v.IsArrayBuffer()) {
    buffer = v;
    NAPI_THROW_IF_FAILED(env, napi_get_arraybuffer_info(env, v, &data, &length), Span{});
  } else {
    throw Napi::TypeError::New(env, std::string(name) +
                                        " must be a Buffer, TypedArray, DataView, ArrayBuffer or SharedArrayBuffer");
  }
  bool detached = false;
  if (buffer) napi_is_detached_arraybuffer(env, buffer, &detached);
  if (detached) throw Napi::RangeError::New(env, std::string(name) + " is detached (its ArrayBuffer was transferred)");
  if (length == 0 || !data) throw Napi::RangeError::New(env, std::string(name) + " is zero-length");
  return Span{data, length};
}

namespace {

Napi::Value AddressOf(const Napi::CallbackInfo& info) {
  Span s = ViewSpan(info[0], "view");
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(reinterpret_cast<uintptr_t>(s.data)));
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("addressOf", Napi::Function::New(env, AddressOf, "addressOf"));
}

Registrar registrar(Init);

}  // namespace
}  // namespace regcache::verbs
