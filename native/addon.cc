// Module entry point: runs every feature's registered initializer.
#include "addon.h"

#include "handle-closes.h"

#include <unistd.h>

#include <vector>

namespace regcache {

static std::vector<InitFn>& Initializers() {
  static std::vector<InitFn> list;  // function-local: safe from static-init order
  return list;
}

Registrar::Registrar(InitFn fn) { Initializers().push_back(fn); }

AddonData& Data(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

// setErrorClass(RdmaError, ClosedError?): the classes native errors are made of.
static Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  if (!info[0].IsFunction()) throw Napi::TypeError::New(info.Env(), "error class must be a function");
  Data(info.Env()).errorClass = Napi::Persistent(info[0].As<Napi::Function>());
  if (info[1].IsFunction()) Data(info.Env()).closedClass = Napi::Persistent(info[1].As<Napi::Function>());
  return info.Env().Undefined();
}

Napi::Object InitAll(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  data->handleCloses = HandleCloses::Install(env);
  env.SetInstanceData(data);
  exports.Set("setErrorClass", Napi::Function::New(env, SetErrorClass, "setErrorClass"));
  exports.Set("pageSize", Napi::Number::New(env, static_cast<double>(sysconf(_SC_PAGESIZE))));
  for (InitFn fn : Initializers()) fn(env, exports);
  return exports;
}

}  // namespace regcache

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return regcache::InitAll(env, exports); }

NODE_API_MODULE(rdma_regcache, InitAddon)
