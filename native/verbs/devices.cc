// listDevices(): what libibverbs sees, with each port's state and link layer.
#include <infiniband/verbs.h>

#include <cerrno>
#include <cstdio>
#include <memory>

#include "addon.h"
#include "errors.h"

namespace regcache {
namespace {

const char* PortStateName(ibv_port_state s) {
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

const char* LinkLayerName(uint8_t l) {
  switch (l) {
    case IBV_LINK_LAYER_INFINIBAND: return "InfiniBand";
    case IBV_LINK_LAYER_ETHERNET: return "Ethernet";
    default: return "Unspecified";
  }
}

// Same text as ibv_devinfo prints: four groups of four hex digits.
std::string FormatGuid(__be64 guid_be) {
  uint64_t g = be64toh(guid_be);
  char buf[20];
  std::snprintf(buf, sizeof buf, "%04x:%04x:%04x:%04x", unsigned(g >> 48) & 0xffff,
                unsigned(g >> 32) & 0xffff, unsigned(g >> 16) & 0xffff, unsigned(g) & 0xffff);
  return buf;
}

struct DeviceListDeleter {
  void operator()(ibv_device** l) const { ibv_free_device_list(l); }
};
struct ContextDeleter {
  void operator()(ibv_context* c) const { ibv_close_device(c); }
};

Napi::Object DescribeDevice(Napi::Env env, ibv_device* dev) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("name", ibv_get_device_name(dev));
  out.Set("guid", FormatGuid(ibv_get_device_guid(dev)));
  out.Set("transport", dev->transport_type == IBV_TRANSPORT_IB ? "IB"
                       : dev->transport_type == IBV_TRANSPORT_IWARP ? "iWARP" : "unknown");

  std::unique_ptr<ibv_context, ContextDeleter> ctx(ibv_open_device(dev));
  if (!ctx) ThrowErrno(env, errno, "ibv_open_device", ibv_get_device_name(dev));
  ibv_device_attr attr{};
  if (int err = ibv_query_device(ctx.get(), &attr)) ThrowErrno(env, err, "ibv_query_device");
  out.Set("firmware", attr.fw_ver);
  out.Set("maxMrSize", Napi::BigInt::New(env, static_cast<uint64_t>(attr.max_mr_size)));
  out.Set("maxQp", attr.max_qp);
  out.Set("maxCqe", attr.max_cqe);
  out.Set("maxMr", attr.max_mr);

  Napi::Array ports = Napi::Array::New(env, attr.phys_port_cnt);
  for (uint8_t p = 1; p <= attr.phys_port_cnt; ++p) {
    ibv_port_attr pa{};
    if (int err = ibv_query_port(ctx.get(), p, &pa)) ThrowErrno(env, err, "ibv_query_port");
    Napi::Object po = Napi::Object::New(env);
    po.Set("port", p);
    po.Set("state", PortStateName(pa.state));
    po.Set("linkLayer", LinkLayerName(pa.link_layer));
    po.Set("activeMtu", 128 << pa.active_mtu);  // IBV_MTU_256 == 1
    po.Set("lid", pa.lid);
    ports.Set(p - 1, po);
  }
  out.Set("ports", ports);
  return out;
}

Napi::Value ListDevices(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int n = 0;
  std::unique_ptr<ibv_device*, DeviceListDeleter> list(ibv_get_device_list(&n));
  // With no RDMA stack at all (no uverbs module) libibverbs reports ENOSYS:
  // that is "no devices", not an error.
  if (!list) {
    if (errno == ENOSYS) return Napi::Array::New(env, 0);
    ThrowErrno(env, errno, "ibv_get_device_list");
  }
  Napi::Array out = Napi::Array::New(env, n);
  for (int i = 0; i < n; ++i) out.Set(i, DescribeDevice(env, list.get()[i]));
  return out;
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("listDevices", Napi::Function::New(env, ListDevices, "listDevices"));
}

Registrar registrar(Init);

}  // namespace
}  // namespace regcache
