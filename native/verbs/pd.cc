#include "verbs/pd.h"

#include <cerrno>
#include <cmath>
#include <string>

#include "addon.h"
#include "errors.h"
#include "verbs/context.h"
#include "verbs/memory.h"

namespace regcache::verbs {

const napi_type_tag ProtectionDomain::kTag = {0x5d1c0a7e11b24e02ULL, 0x9a3f6c2d4b1e8f02ULL};
const napi_type_tag MemoryRegion::kTag = {0x5d1c0a7e11b24e03ULL, 0x9a3f6c2d4b1e8f03ULL};

ProtectionDomain::ProtectionDomain(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ProtectionDomain>(info) {
  Napi::Env env = info.Env();
  Context* ctx = UnwrapTagged<Context>(info[0], "Context");
  pd_ = ibv_alloc_pd(ctx->Get(env));
  if (!pd_) ThrowErrno(env, errno ? errno : ENOMEM, "ibv_alloc_pd");
  parent_ = Napi::Persistent(info[0].As<Napi::Object>());
  info.This().As<Napi::Object>().TypeTag(&kTag);
  Arm(env);
}

void ProtectionDomain::Release() {
  Disarm();
  if (pd_) ibv_dealloc_pd(pd_);  // at teardown children are already gone
  pd_ = nullptr;
  if (!parent_.IsEmpty()) parent_.Reset();
}

Napi::Value ProtectionDomain::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (pd_) {
    if (int err = ibv_dealloc_pd(pd_)) ThrowErrno(env, err, "ibv_dealloc_pd", "memory regions or queue pairs still use it");
    pd_ = nullptr;
  }
  Release();
  return env.Undefined();
}

Napi::Function ProtectionDomain::Define(Napi::Env env) {
  return DefineClass(env, "ProtectionDomain", {InstanceMethod<&ProtectionDomain::Close>("close")});
}

MemoryRegion::MemoryRegion(const Napi::CallbackInfo& info) : Napi::ObjectWrap<MemoryRegion>(info) {
  Napi::Env env = info.Env();
  ProtectionDomain* pd = UnwrapTagged<ProtectionDomain>(info[0], "ProtectionDomain");
  void* addr = nullptr;
  size_t length = 0;
  uint32_t access = 0;
  if (info[1].IsBigInt()) {
    addr = reinterpret_cast<void*>(static_cast<uintptr_t>(ArgU64(info, 1, "address")));
    double len = ArgNumber(info, 2, "length");
    if (!(len >= 1 && len <= 9007199254740991.0) || std::floor(len) != len)
      throw Napi::RangeError::New(env, "length must be a positive integer");
    length = static_cast<size_t>(len);
    access = ArgU32(info, 3, "access");
  } else {
    Span s = ViewSpan(info[1], "view");
    addr = s.data;
    length = s.length;
    access = ArgU32(info, 2, "access");
  }
  ibv_pd* p = pd->Get(env);
  mr_ = ibv_reg_mr(p, addr, length, static_cast<int>(access));
  if (!mr_) {
    int err = errno ? errno : ENOMEM;
    std::string detail = std::to_string(length) + " bytes at 0x" +
                         [&] { char b[24]; snprintf(b, sizeof b, "%llx", (unsigned long long)(uintptr_t)addr); return std::string(b); }();
    ThrowErrno(env, err, "ibv_reg_mr", detail.c_str());
  }
  parent_ = Napi::Persistent(info[0].As<Napi::Object>());
  Napi::Object self = info.This().As<Napi::Object>();
  self.TypeTag(&kTag);
  self.Set("address", Napi::BigInt::New(env, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(mr_->addr))));
  self.Set("length", Napi::Number::New(env, static_cast<double>(mr_->length)));
  self.Set("lkey", Napi::Number::New(env, mr_->lkey));
  self.Set("rkey", Napi::Number::New(env, mr_->rkey));
  Arm(env);
}

void MemoryRegion::Release() {
  Disarm();
  if (mr_) ibv_dereg_mr(mr_);
  mr_ = nullptr;
  if (!parent_.IsEmpty()) parent_.Reset();
}

Napi::Value MemoryRegion::Deregister(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (mr_) {
    if (int err = ibv_dereg_mr(mr_)) ThrowErrno(env, err, "ibv_dereg_mr");
    mr_ = nullptr;
  }
  Release();
  return env.Undefined();
}

Napi::Function MemoryRegion::Define(Napi::Env env) {
  return DefineClass(env, "MemoryRegion", {InstanceMethod<&MemoryRegion::Deregister>("deregister")});
}

namespace {

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("ProtectionDomain", ProtectionDomain::Define(env));
  exports.Set("MemoryRegion", MemoryRegion::Define(env));
  Napi::Object access = Napi::Object::New(env);
  access.Set("LOCAL_WRITE", int(IBV_ACCESS_LOCAL_WRITE));
  access.Set("REMOTE_WRITE", int(IBV_ACCESS_REMOTE_WRITE));
  access.Set("REMOTE_READ", int(IBV_ACCESS_REMOTE_READ));
  access.Set("REMOTE_ATOMIC", int(IBV_ACCESS_REMOTE_ATOMIC));
  access.Set("MW_BIND", int(IBV_ACCESS_MW_BIND));
  access.Set("ZERO_BASED", int(IBV_ACCESS_ZERO_BASED));
  access.Set("ON_DEMAND", int(IBV_ACCESS_ON_DEMAND));
  access.Set("HUGETLB", int(IBV_ACCESS_HUGETLB));
  access.Set("RELAXED_ORDERING", int(IBV_ACCESS_RELAXED_ORDERING));
  exports.Set("access", access);
}

Registrar registrar(Init);

}  // namespace
}  // namespace regcache::verbs
