// Context: an open RDMA device (ibv_context).
#pragma once
#include <infiniband/verbs.h>
#include <napi.h>

#include "verbs/common.h"

namespace regcache::verbs {

class Context : public Napi::ObjectWrap<Context>, public TeardownHook {
 public:
  static const napi_type_tag kTag;
  static Napi::Function Define(Napi::Env env);

  // new Context(name?): the device librdmacm uses for that name (so PDs and
  // CQs made here can serve rdma_cm queue pairs), or the first device.
  explicit Context(const Napi::CallbackInfo& info);
  ~Context() override { Release(); }

  // The open context; throws ERR_CLOSED after close().
  ibv_context* Get(Napi::Env env) const {
    if (!ctx_) ThrowClosed(env, "Context");
    return ctx_;
  }

 private:
  void Release() override;
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value QueryDevice(const Napi::CallbackInfo& info);
  Napi::Value QueryPort(const Napi::CallbackInfo& info);

  ibv_context* ctx_ = nullptr;
  ibv_context** cmList_ = nullptr;  // from rdma_get_devices: librdmacm owns the contexts
  bool owned_ = false;              // opened by us with ibv_open_device (no rdma_cm)
};

}  // namespace regcache::verbs
