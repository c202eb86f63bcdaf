#include "verbs/context.h"

#include <rdma/rdma_cma.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "addon.h"
#include "errors.h"

namespace regcache::verbs {

const napi_type_tag Context::kTag = {0x5d1c0a7e11b24e01ULL, 0x9a3f6c2d4b1e8f01ULL};

namespace {

const char* PortState(ibv_port_state s) {
  switch (s) {
    case IBV_PORT_NOP: return "NOP";
    case IBV_PORT_DOWN: return "DOWN";
    case IBV_PORT_INIT: return "INIT";
    case IBV_PORT_ARMED: return "ARMED";
    case IBV_PORT_ACTIVE: return "ACTIVE";
    case IBV_PORT_ACTIVE_DEFER: return "ACTIVE_DEFER";
  }
  return "UNKNOWN";
}

}  // namespace

Context::Context(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Context>(info) {
  Napi::Env env = info.Env();
  std::string want;
  bool byName = info.Length() > 0 && !info[0].IsUndefined();
  if (byName) want = ArgString(info, 0, "name");

  auto matches = [&](ibv_device* d) { return !byName || want == ibv_get_device_name(d); };

  int n = 0;
  cmList_ = rdma_get_devices(&n);
  if (cmList_) {
    for (int i = 0; i < n && !ctx_; ++i)
      if (cmList_[i] && matches(cmList_[i]->device)) ctx_ = cmList_[i];
    if (!ctx_) {
      rdma_free_devices(cmList_);
      cmList_ = nullptr;
    }
  }
  if (!ctx_) {
    // No rdma_cm (rdma_ucm not loaded): open the device directly.
    ibv_device** list = ibv_get_device_list(&n);
    for (int i = 0; list && i < n && !ctx_; ++i) {
      if (!matches(list[i])) continue;
      ctx_ = ibv_open_device(list[i]);
      if (!ctx_) {
        int err = errno;
        ibv_free_device_list(list);
        ThrowErrno(env, err, "ibv_open_device", want.c_str());
      }
      owned_ = true;
    }
    if (list) ibv_free_device_list(list);
  }
  if (!ctx_) {
    std::string detail = byName ? "no RDMA device named '" + want + "'" : "no RDMA device";
    ThrowErrno(env, ENODEV, "ibv_open_device", detail.c_str());
  }
  info.This().As<Napi::Object>().TypeTag(&kTag);
  info.This().As<Napi::Object>().Set("name", Napi::String::New(env, ibv_get_device_name(ctx_->device)));
  Arm(env);
}

void Context::Release() {
  Disarm();
  if (!ctx_) return;
  if (owned_) ibv_close_device(ctx_);
  if (cmList_) rdma_free_devices(cmList_);
  ctx_ = nullptr;
  cmList_ = nullptr;
}

Napi::Value Context::Close(const Napi::CallbackInfo& info) {
  Release();
  return info.Env().Undefined();
}

Napi::Value Context::QueryDevice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ibv_device_attr a{};
  if (int err = ibv_query_device(Get(env), &a)) ThrowErrno(env, err, "ibv_query_device");
  Napi::Object o = Napi::Object::New(env);
  o.Set("firmware", a.fw_ver);
  o.Set("maxMrSize", Napi::BigInt::New(env, static_cast<uint64_t>(a.max_mr_size)));
  o.Set("maxQp", a.max_qp);
  o.Set("maxQpWr", a.max_qp_wr);
  o.Set("maxSge", a.max_sge);
  o.Set("maxCq", a.max_cq);
  o.Set("maxCqe", a.max_cqe);
  o.Set("maxMr", a.max_mr);
  o.Set("maxPd", a.max_pd);
  o.Set("maxQpRdAtom", a.max_qp_rd_atom);
  o.Set("maxQpInitRdAtom", a.max_qp_init_rd_atom);
  o.Set("physPortCnt", a.phys_port_cnt);
  return o;
}

Napi::Value Context::QueryPort(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t port = ArgU32(info, 0, "port");
  if (port < 1 || port > 255) throw Napi::RangeError::New(env, "port must be in [1, 255]");
  ibv_port_attr a{};
  if (int err = ibv_query_port(Get(env), static_cast<uint8_t>(port), &a)) ThrowErrno(env, err, "ibv_query_port");
  Napi::Object o = Napi::Object::New(env);
  o.Set("port", port);
  o.Set("state", PortState(a.state));
  o.Set("linkLayer", a.link_layer == IBV_LINK_LAYER_ETHERNET     ? "Ethernet"
                     : a.link_layer == IBV_LINK_LAYER_INFINIBAND ? "InfiniBand"
                                                                 : "Unspecified");
  o.Set("activeMtu", 128 << a.active_mtu);
  o.Set("maxMtu", 128 << a.max_mtu);
  o.Set("lid", a.lid);
  o.Set("gidTableLength", a.gid_tbl_len);
  o.Set("maxMsgSize", a.max_msg_sz);
  return o;
}

Napi::Function Context::Define(Napi::Env env) {
  return DefineClass(env, "Context",
                     {InstanceMethod<&Context::Close>("close"), InstanceMethod<&Context::QueryDevice>("queryDevice"),
                      InstanceMethod<&Context::QueryPort>("queryPort")});
}

namespace {
void Init(Napi::Env env, Napi::Object exports) { exports.Set("Context", Context::Define(env)); }
Registrar registrar(Init);
}  // namespace

}  // namespace regcache::verbs
