// The bytes behind a JavaScript view: TypedArray (including Buffer), DataView
// or ArrayBuffer, byteOffset honoured. (SharedArrayBuffer is wrapped in a
// Uint8Array by the TypeScript layer, which N-API 8 handles like any view.)
#pragma once
#include <napi.h>

#include <cstddef>

namespace regcache::verbs {

struct Span {
  void* data;
  size_t length;
};

// TypeError for a non-view; RangeError for a detached or zero-length view.
Span ViewSpan(Napi::Value v, const char* name);

}  // namespace regcache::verbs
