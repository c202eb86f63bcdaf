#include "errors.h"

#include <cstring>

#include "addon.h"

namespace regcache {

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const char* detail) {
  Napi::FunctionReference& cls = Data(env).errorClass;
  if (cls.IsEmpty()) {
    // Only reachable if the loader was bypassed; still say what failed.
    std::string msg = std::string(syscall) + ": " + std::strerror(err);
    return Napi::Error::New(env, msg);
  }
  Napi::Value args[] = {Napi::Number::New(env, err), Napi::String::New(env, syscall),
                        detail ? Napi::Value(Napi::String::New(env, detail)) : env.Undefined()};
  Napi::Object obj = cls.New({args[0], args[1], args[2]});
  return Napi::Error(env, obj);
}

void ThrowErrno(Napi::Env env, int err, const char* syscall, const char* detail) {
  throw ErrnoError(env, err, syscall, detail);
}

}  // namespace regcache
