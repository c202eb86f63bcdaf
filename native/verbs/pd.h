// ProtectionDomain (ibv_pd) and MemoryRegion (ibv_mr).
#pragma once
#include <infiniband/verbs.h>
#include <napi.h>

#include "verbs/common.h"

namespace regcache::verbs {

class ProtectionDomain : public Napi::ObjectWrap<ProtectionDomain>, public TeardownHook {
 public:
  static const napi_type_tag kTag;
  static Napi::Function Define(Napi::Env env);

  explicit ProtectionDomain(const Napi::CallbackInfo& info);  // (context)
  ~ProtectionDomain() override { Release(); }

  ibv_pd* Get(Napi::Env env) const {
    if (!pd_) ThrowClosed(env, "ProtectionDomain");
    return pd_;
  }

 private:
  void Release() override;
  Napi::Value Close(const Napi::CallbackInfo& info);

  ibv_pd* pd_ = nullptr;
  Napi::ObjectReference parent_;  // the Context outlives us
};

class MemoryRegion : public Napi::ObjectWrap<MemoryRegion>, public TeardownHook {
 public:
  static const napi_type_tag kTag;
  static Napi::Function Define(Napi::Env env);

  // (pd, view, access) or (pd, address: bigint, length: number, access)
  explicit MemoryRegion(const Napi::CallbackInfo& info);
  ~MemoryRegion() override { Release(); }

 private:
  void Release() override;
  Napi::Value Deregister(const Napi::CallbackInfo& info);

  ibv_mr* mr_ = nullptr;
  Napi::ObjectReference parent_;
};

}  // namespace regcache::verbs
