// Errors thrown to JavaScript: an RdmaError carrying errno, code and the failing call.
#pragma once
#include <napi.h>

namespace regcache {

// Builds an RdmaError(errno, syscall, detail) through the class registered by JS.
Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const char* detail = nullptr);

// Throws it (C++ exceptions are enabled through node-addon-api).
[[noreturn]] void ThrowErrno(Napi::Env env, int err, const char* syscall, const char* detail = nullptr);

}  // namespace regcache
