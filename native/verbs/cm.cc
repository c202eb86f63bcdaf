#include "verbs/cm.h"

#include <arpa/inet.h>
#include <netdb.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "addon.h"
#include "errors.h"
#include "verbs/cq.h"
#include "verbs/memory.h"
#include "verbs/pd.h"

namespace regcache::verbs {

const napi_type_tag CmId::kTag = {0x5d1c0a7e11b24e05ULL, 0x9a3f6c2d4b1e8f05ULL};

namespace {

const napi_type_tag kRequestTag = {0x5d1c0a7e11b24e06ULL, 0x9a3f6c2d4b1e8f06ULL};

const char* QpStateName(ibv_qp_state s) {
  switch (s) {
    case IBV_QPS_RESET: return "RESET";
    case IBV_QPS_INIT: return "INIT";
    case IBV_QPS_RTR: return "RTR";
    case IBV_QPS_RTS: return "RTS";
    case IBV_QPS_SQD: return "SQD";
    case IBV_QPS_SQE: return "SQE";
    case IBV_QPS_ERR: return "ERR";
    default: return "UNKNOWN";
  }
}

// "RDMA_CM_EVENT_ESTABLISHED" -> "ESTABLISHED"
std::string EventName(rdma_cm_event_type t) {
  std::string s = rdma_event_str(t);
  const std::string prefix = "RDMA_CM_EVENT_";
  return s.compare(0, prefix.size(), prefix) == 0 ? s.substr(prefix.size()) : s;
}

// Resolves host:port (numeric or name; a name lookup blocks) to a sockaddr.
sockaddr_storage ResolveHost(Napi::Env env, const std::string& host, uint32_t port, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res);
  if (rc != 0 || !res) {
    std::string detail = host + ": " + gai_strerror(rc);
    ThrowErrno(env, rc == EAI_SYSTEM ? errno : EHOSTUNREACH, "getaddrinfo", detail.c_str());
  }
  sockaddr_storage out{};
  std::memcpy(&out, res->ai_addr, std::min<size_t>(res->ai_addrlen, sizeof out));
  freeaddrinfo(res);
  return out;
}

uint32_t PortArg(const Napi::CallbackInfo& info, size_t i) {
  uint32_t port = ArgU32(info, i, "port");
  if (port > 65535) throw Napi::RangeError::New(info.Env(), "port must be in [0, 65535]");
  return port;
}

int TimeoutArg(const Napi::CallbackInfo& info, size_t i) {
  uint32_t ms = ArgU32(info, i, "timeoutMs");
  if (ms < 1 || ms > 0x7fffffff) throw Napi::RangeError::New(info.Env(), "timeoutMs must be in [1, 2^31)");
  return static_cast<int>(ms);
}

// Optional private data (a view or undefined), at most `max` bytes.
Span PrivateData(const Napi::CallbackInfo& info, size_t i, size_t max) {
  if (info.Length() <= i || info[i].IsUndefined() || info[i].IsNull()) return Span{nullptr, 0};
  Span s = ViewSpan(info[i], "privateData");
  if (s.length > max)
    throw Napi::RangeError::New(info.Env(), "privateData is " + std::to_string(s.length) + " bytes; at most " +
                                                std::to_string(max) + " fit here");
  return s;
}

Napi::Object SockAddr(Napi::Env env, sockaddr* sa, uint16_t portBe) {
  Napi::Object o = Napi::Object::New(env);
  char buf[INET6_ADDRSTRLEN] = "";
  if (sa && sa->sa_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
  else if (sa && sa->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
  o.Set("host", buf);
  o.Set("port", ntohs(portBe));
  return o;
}

}  // namespace

CmId::CmId(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CmId>(info), env_(info.Env()) {
  Napi::Env env = info.Env();
  if (!info[0].IsFunction()) throw Napi::TypeError::New(env, "onEvent must be a function");
  rdma_cm_id* adopt = nullptr;
  if (info.Length() > 1 && !info[1].IsUndefined()) {
    if (!info[1].IsExternal() || !info[1].As<Napi::External<PendingRequest>>().CheckTypeTag(&kRequestTag))
      throw Napi::TypeError::New(env, "connection request expected");
    PendingRequest* req = info[1].As<Napi::External<PendingRequest>>().Data();
    if (!req->id) throw Napi::Error::New(env, "connection request already taken");
    adopt = req->id;
  }

  channel_ = rdma_create_event_channel();
  if (!channel_) ThrowErrno(env, errno ? errno : ENODEV, "rdma_create_event_channel", "is rdma_ucm loaded?");
  int err = 0;
  const char* call = nullptr;
  if (adopt) {
    if (rdma_migrate_id(adopt, channel_)) err = errno, call = "rdma_migrate_id";
  } else if (rdma_create_id(channel_, &adopt, this, RDMA_PS_TCP)) {
    err = errno, call = "rdma_create_id";
    adopt = nullptr;
  }
  if (call) {
    rdma_destroy_event_channel(channel_);
    channel_ = nullptr;
    ThrowErrno(env, err, call);
  }
  if (info.Length() > 1 && !info[1].IsUndefined()) info[1].As<Napi::External<PendingRequest>>().Data()->Take();
  id_ = adopt;
  id_->context = this;
  try {
    watcher_ = std::make_unique<FdWatcher>(env, channel_->fd, &CmId::OnReadable, this);
  } catch (...) {
    rdma_destroy_id(id_);
    rdma_destroy_event_channel(channel_);
    id_ = nullptr;
    channel_ = nullptr;
    throw;
  }
  async_ = std::make_unique<Napi::AsyncContext>(env, "RdmaCmId");
  onEvent_ = Napi::Persistent(info[0].As<Napi::Function>());
  info.This().As<Napi::Object>().TypeTag(&kTag);
  Arm(env);
}

void CmId::DestroyQp() {
  if (id_ && id_->qp) rdma_destroy_qp(id_);
  sendCq_ = recvCq_ = nullptr;
  list_ = nullptr;
  if (!listRef_.IsEmpty()) listRef_.Reset();
  if (!pdRef_.IsEmpty()) pdRef_.Reset();
  if (!sendCqRef_.IsEmpty()) sendCqRef_.Reset();
  if (!recvCqRef_.IsEmpty()) recvCqRef_.Reset();
}

void CmId::Release() {
  Disarm();
  watcher_.reset();
  while (!requests_.empty()) (*requests_.begin())->Drop();
  DestroyQp();
  if (id_) rdma_destroy_id(id_);
  if (channel_) rdma_destroy_event_channel(channel_);
  id_ = nullptr;
  channel_ = nullptr;
}

void CmId::OnReadable(void* arg) {
  auto* self = static_cast<CmId*>(arg);
  Napi::Env env(self->env_);
  Napi::HandleScope scope(env);
  while (self->channel_) {
    rdma_cm_event* ev = nullptr;
    if (rdma_get_cm_event(self->channel_, &ev)) break;  // EAGAIN: drained
    rdma_cm_event_type type = ev->event;
    int status = ev->status;
    rdma_cm_id* request = type == RDMA_CM_EVENT_CONNECT_REQUEST ? ev->id : nullptr;
    bool foreign = !request && ev->id != self->id_;
    const rdma_conn_param& cp = ev->param.conn;
    Napi::Value data = env.Undefined();
    if (!foreign && cp.private_data && cp.private_data_len)
      data = Napi::Buffer<uint8_t>::Copy(env, static_cast<const uint8_t*>(cp.private_data), cp.private_data_len);
    Napi::Object params = Napi::Object::New(env);
    params.Set("responderResources", cp.responder_resources);
    params.Set("initiatorDepth", cp.initiator_depth);
    rdma_ack_cm_event(ev);  // before any migrate/destroy of the id
    if (foreign) continue;   // a request id not yet adopted: nothing to say

    Napi::Value req = env.Undefined();
    if (request) {
      auto* pending = new PendingRequest{request, self};
      self->requests_.insert(pending);
      auto ext = Napi::External<PendingRequest>::New(env, pending, [](Napi::Env, PendingRequest* p) {
        p->Drop();  // never adopted
        delete p;
      });
      ext.TypeTag(&kRequestTag);
      req = ext;
    }
    try {
      self->onEvent_.MakeCallback(self->Value(),
                                  {Napi::String::New(env, EventName(type)), Napi::Number::New(env, status), data, req, params},
                                  *self->async_);
    } catch (const Napi::Error& e) {
      napi_fatal_exception(self->env_, e.Value());
    }
  }
}

Napi::Value CmId::Bind(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string host = info[0].IsUndefined() ? std::string() : ArgString(info, 0, "host");
  uint32_t port = PortArg(info, 1);
  sockaddr_storage sa = ResolveHost(env, host, port, true);
  if (rdma_bind_addr(Id(env), reinterpret_cast<sockaddr*>(&sa))) ThrowErrno(env, errno, "rdma_bind_addr", host.c_str());
  return env.Undefined();
}

Napi::Value CmId::Listen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t backlog = ArgU32(info, 0, "backlog");
  if (backlog > 0x7fffffff) throw Napi::RangeError::New(env, "backlog too large");
  if (rdma_listen(Id(env), static_cast<int>(backlog))) ThrowErrno(env, errno, "rdma_listen");
  return env.Undefined();
}

Napi::Value CmId::ResolveAddr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string host = ArgString(info, 0, "host");
  uint32_t port = PortArg(info, 1);
  int timeout = TimeoutArg(info, 2);
  sockaddr_storage dst = ResolveHost(env, host, port, false);
  sockaddr_storage src{};
  bool haveSrc = info.Length() > 3 && !info[3].IsUndefined();
  if (haveSrc) src = ResolveHost(env, ArgString(info, 3, "localHost"), 0, true);
  if (rdma_resolve_addr(Id(env), haveSrc ? reinterpret_cast<sockaddr*>(&src) : nullptr,
                        reinterpret_cast<sockaddr*>(&dst), timeout))
    ThrowErrno(env, errno, "rdma_resolve_addr", host.c_str());
  return env.Undefined();
}

Napi::Value CmId::ResolveRoute(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int timeout = TimeoutArg(info, 0);
  if (rdma_resolve_route(Id(env), timeout)) ThrowErrno(env, errno, "rdma_resolve_route");
  return env.Undefined();
}

// (pd, sendCq, recvCq, maxSendWr, maxRecvWr, maxSge, maxInlineData) -> actual caps
Napi::Value CmId::CreateQp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  rdma_cm_id* id = Id(env);
  ProtectionDomain* pd = UnwrapTagged<ProtectionDomain>(info[0], "ProtectionDomain");
  CompletionQueue* scq = UnwrapTagged<CompletionQueue>(info[1], "CompletionQueue");
  CompletionQueue* rcq = UnwrapTagged<CompletionQueue>(info[2], "CompletionQueue");
  ibv_qp_init_attr a{};
  a.qp_type = IBV_QPT_RC;
  a.sq_sig_all = 0;  // postSend signals every WR itself; postSendList chooses
  a.cap.max_send_wr = ArgU32(info, 3, "maxSendWr");
  a.cap.max_recv_wr = ArgU32(info, 4, "maxRecvWr");
  a.cap.max_send_sge = a.cap.max_recv_sge = ArgU32(info, 5, "maxSge");
  a.cap.max_inline_data = ArgU32(info, 6, "maxInlineData");
  ibv_pd* p = pd->Get(env);
  a.send_cq = scq->Get(env);
  a.recv_cq = rcq->Get(env);
  if (id->qp) throw Napi::Error::New(env, "this connection already has a queue pair");
  if (!id->verbs) throw Napi::Error::New(env, "the connection is not bound to a device yet");
  if (p->context != id->verbs || a.send_cq->context != id->verbs || a.recv_cq->context != id->verbs) {
    std::string detail = std::string("the connection uses device ") + ibv_get_device_name(id->verbs->device) +
                         "; open the protection domain and completion queues on it";
    ThrowErrno(env, EINVAL, "rdma_create_qp", detail.c_str());
  }
  if (rdma_create_qp(id, p, &a)) ThrowErrno(env, errno, "rdma_create_qp");
  sendCq_ = scq;
  recvCq_ = rcq;
  pdRef_ = Napi::Persistent(info[0].As<Napi::Object>());
  sendCqRef_ = Napi::Persistent(info[1].As<Napi::Object>());
  recvCqRef_ = Napi::Persistent(info[2].As<Napi::Object>());
  maxInline_ = a.cap.max_inline_data;
  {
    Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, size_t{kListMax} * (kListStride + maxInline_));
    list_ = static_cast<uint8_t*>(ab.Data());
    listRef_ = Napi::Persistent(ab.As<Napi::Object>());
  }
  Rearm();  // the QP is newer than the PD/CQs: release it before them at teardown

  Napi::Object o = Napi::Object::New(env);
  o.Set("qpNum", id->qp->qp_num);
  o.Set("maxSendWr", a.cap.max_send_wr);
  o.Set("maxRecvWr", a.cap.max_recv_wr);
  o.Set("maxSge", a.cap.max_send_sge);
  o.Set("maxInlineData", a.cap.max_inline_data);
  return o;
}

// Connection parameters clamped to what the device allows.
static rdma_conn_param ConnParam(rdma_cm_id* id, uint32_t responder, uint32_t initiator) {
  rdma_conn_param p{};
  ibv_device_attr a{};
  if (id->verbs && ibv_query_device(id->verbs, &a) == 0) {
    responder = std::min<uint32_t>(responder, a.max_qp_rd_atom);
    initiator = std::min<uint32_t>(initiator, a.max_qp_init_rd_atom);
  }
  p.responder_resources = static_cast<uint8_t>(std::min<uint32_t>(responder, 255));
  p.initiator_depth = static_cast<uint8_t>(std::min<uint32_t>(initiator, 255));
  return p;
}

// (privateData?, responderResources, initiatorDepth, retryCount, rnrRetryCount)
Napi::Value CmId::Connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  rdma_cm_id* id = Id(env);
  Span pdata = PrivateData(info, 0, 56);
  rdma_conn_param p = ConnParam(id, ArgU32(info, 1, "responderResources"), ArgU32(info, 2, "initiatorDepth"));
  p.retry_count = static_cast<uint8_t>(std::min<uint32_t>(ArgU32(info, 3, "retryCount"), 7));
  p.rnr_retry_count = static_cast<uint8_t>(std::min<uint32_t>(ArgU32(info, 4, "rnrRetryCount"), 7));
  p.private_data = pdata.data;
  p.private_data_len = static_cast<uint8_t>(pdata.length);
  if (rdma_connect(id, &p)) ThrowErrno(env, errno, "rdma_connect");
  return env.Undefined();
}

// (privateData?, responderResources, initiatorDepth)
Napi::Value CmId::Accept(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  rdma_cm_id* id = Id(env);
  Span pdata = PrivateData(info, 0, 196);
  rdma_conn_param p = ConnParam(id, ArgU32(info, 1, "responderResources"), ArgU32(info, 2, "initiatorDepth"));
  p.rnr_retry_count = 7;
  p.private_data = pdata.data;
  p.private_data_len = static_cast<uint8_t>(pdata.length);
  if (rdma_accept(id, &p)) ThrowErrno(env, errno, "rdma_accept");
  return env.Undefined();
}

Napi::Value CmId::Reject(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Span pdata = PrivateData(info, 0, 148);
  if (rdma_reject(Id(env), pdata.data, static_cast<uint8_t>(pdata.length))) ThrowErrno(env, errno, "rdma_reject");
  return env.Undefined();
}

Napi::Value CmId::Disconnect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (rdma_disconnect(Id(env))) ThrowErrno(env, errno, "rdma_disconnect");
  return env.Undefined();
}

// (opcode: 0 write | 1 read | 2 send, wrId, localAddr, length, lkey, remoteAddr?, rkey?)
Napi::Value CmId::PostSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ibv_qp* qp = Qp(env);
  uint32_t op = ArgU32(info, 0, "opcode");
  ibv_sge sge{};
  ibv_send_wr wr{};
  wr.wr_id = static_cast<uint64_t>(ArgNumber(info, 1, "wrId"));
  sge.addr = ArgU64(info, 2, "address");
  sge.length = ArgU32(info, 3, "length");
  sge.lkey = ArgU32(info, 4, "lkey");
  wr.sg_list = &sge;
  wr.num_sge = sge.length ? 1 : 0;
  wr.send_flags = IBV_SEND_SIGNALED;
  if (sge.length && sge.length <= maxInline_ && op != 1) wr.send_flags |= IBV_SEND_INLINE;
  switch (op) {
    case 0: wr.opcode = IBV_WR_RDMA_WRITE; break;
    case 1: wr.opcode = IBV_WR_RDMA_READ; break;
    case 2: wr.opcode = IBV_WR_SEND; break;
    default: throw Napi::RangeError::New(env, "opcode must be 0 (write), 1 (read) or 2 (send)");
  }
  if (op != 2) {
    wr.wr.rdma.remote_addr = ArgU64(info, 5, "remoteAddress");
    wr.wr.rdma.rkey = ArgU32(info, 6, "rkey");
  }
  ibv_send_wr* bad = nullptr;
  if (int err = ibv_post_send(qp, &wr, &bad)) ThrowErrno(env, err, "ibv_post_send");
  sendCq_->Ref();
  return env.Undefined();
}

// (wrId, localAddr, length, lkey)
Napi::Value CmId::PostRecv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ibv_qp* qp = Qp(env);
  ibv_sge sge{};
  ibv_recv_wr wr{};
  wr.wr_id = static_cast<uint64_t>(ArgNumber(info, 0, "wrId"));
  sge.addr = ArgU64(info, 1, "address");
  sge.length = ArgU32(info, 2, "length");
  sge.lkey = ArgU32(info, 3, "lkey");
  wr.sg_list = &sge;
  wr.num_sge = sge.length ? 1 : 0;
  ibv_recv_wr* bad = nullptr;
  if (int err = ibv_post_recv(qp, &wr, &bad)) ThrowErrno(env, err, "ibv_post_recv");
  recvCq_->Ref();
  return env.Undefined();
}

// The descriptor buffer of postSendList (see cm.h); undefined before createQp.
Napi::Value CmId::SendList(const Napi::CallbackInfo& info) {
  if (listRef_.IsEmpty()) return info.Env().Undefined();
  return listRef_.Value();
}

// (count): posts entries [0, count) of the descriptor buffer as one linked
// list with one ibv_post_send. Returns count, or [posted, errno] when the
// provider refused entry `posted` (those before it are on the wire).
Napi::Value CmId::PostSendList(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ibv_qp* qp = Qp(env);
  uint32_t n = ArgU32(info, 0, "count");
  if (n < 1 || n > kListMax) throw Napi::RangeError::New(env, "count must be in [1, " + std::to_string(kListMax) + "]");
  ibv_send_wr wr[kListMax];
  ibv_sge sge[kListMax];
  uint8_t* staging = list_ + size_t{kListMax} * kListStride;
  for (uint32_t i = 0; i < n; ++i) {
    const uint8_t* e = list_ + size_t{i} * kListStride;
    uint64_t local, remote;
    double wrId;
    uint32_t length, lkey, rkey, flags;
    std::memcpy(&local, e, 8);
    std::memcpy(&remote, e + 8, 8);
    std::memcpy(&wrId, e + 16, 8);
    std::memcpy(&length, e + 24, 4);
    std::memcpy(&lkey, e + 28, 4);
    std::memcpy(&rkey, e + 32, 4);
    std::memcpy(&flags, e + 36, 4);
    uint32_t op = flags & 3;
    bool staged = flags & (1u << 9);
    if (op > 2) throw Napi::RangeError::New(env, "opcode must be 0 (write), 1 (read) or 2 (send)");
    if (staged && (op == 1 || length > maxInline_)) throw Napi::RangeError::New(env, "inline entry too long or a READ");
    wr[i] = ibv_send_wr{};
    sge[i].addr = staged ? reinterpret_cast<uintptr_t>(staging + size_t{i} * maxInline_) : local;
    sge[i].length = length;
    sge[i].lkey = staged ? 0 : lkey;
    wr[i].wr_id = static_cast<uint64_t>(wrId);
    wr[i].sg_list = &sge[i];
    wr[i].num_sge = length ? 1 : 0;
    wr[i].opcode = op == 0 ? IBV_WR_RDMA_WRITE : op == 1 ? IBV_WR_RDMA_READ : IBV_WR_SEND;
    if (flags & (1u << 8)) wr[i].send_flags |= IBV_SEND_SIGNALED;
    if (length && op != 1 && (staged || length <= maxInline_)) wr[i].send_flags |= IBV_SEND_INLINE;
    if (op != 2) {
      wr[i].wr.rdma.remote_addr = remote;
      wr[i].wr.rdma.rkey = rkey;
    }
    wr[i].next = i + 1 < n ? &wr[i + 1] : nullptr;
  }
  ibv_send_wr* bad = nullptr;
  int err = ibv_post_send(qp, wr, &bad);
  uint32_t posted = err ? static_cast<uint32_t>(bad ? bad - wr : 0) : n;
  if (posted > 0) sendCq_->Ref();
  if (!err) return Napi::Number::New(env, n);
  Napi::Array r = Napi::Array::New(env, 2);
  r.Set(0u, Napi::Number::New(env, posted));
  r.Set(1u, Napi::Number::New(env, err));
  return r;
}

Napi::Value CmId::QpState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  rdma_cm_id* id = Id(env);
  if (!id->qp) return Napi::String::New(env, "NONE");
  ibv_qp_attr attr{};
  ibv_qp_init_attr init{};
  if (int err = ibv_query_qp(id->qp, &attr, IBV_QP_STATE, &init)) ThrowErrno(env, err, "ibv_query_qp");
  return Napi::String::New(env, QpStateName(attr.qp_state));
}

Napi::Value CmId::DestroyQpMethod(const Napi::CallbackInfo& info) {
  DestroyQp();
  return info.Env().Undefined();
}

Napi::Value CmId::Addresses(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  rdma_cm_id* id = Id(env);
  Napi::Object o = Napi::Object::New(env);
  o.Set("local", SockAddr(env, rdma_get_local_addr(id), rdma_get_src_port(id)));
  o.Set("remote", SockAddr(env, rdma_get_peer_addr(id), rdma_get_dst_port(id)));
  o.Set("device", id->verbs ? Napi::Value(Napi::String::New(env, ibv_get_device_name(id->verbs->device))) : env.Undefined());
  return o;
}

Napi::Value CmId::Close(const Napi::CallbackInfo& info) {
  Release();
  onEvent_.Reset();
  return info.Env().Undefined();
}

Napi::Value CmId::Ref(const Napi::CallbackInfo& info) {
  if (watcher_) watcher_->Ref();
  return info.Env().Undefined();
}

Napi::Value CmId::Unref(const Napi::CallbackInfo& info) {
  if (watcher_) watcher_->Unref();
  return info.Env().Undefined();
}

Napi::Function CmId::Define(Napi::Env env) {
  return DefineClass(env, "CmId",
                     {
                         InstanceMethod<&CmId::Bind>("bind"),
                         InstanceMethod<&CmId::Listen>("listen"),
                         InstanceMethod<&CmId::ResolveAddr>("resolveAddr"),
                         InstanceMethod<&CmId::ResolveRoute>("resolveRoute"),
                         InstanceMethod<&CmId::CreateQp>("createQp"),
                         InstanceMethod<&CmId::Connect>("connect"),
                         InstanceMethod<&CmId::Accept>("accept"),
                         InstanceMethod<&CmId::Reject>("reject"),
                         InstanceMethod<&CmId::Disconnect>("disconnect"),
                         InstanceMethod<&CmId::PostSend>("postSend"),
                         InstanceMethod<&CmId::PostRecv>("postRecv"),
                         InstanceMethod<&CmId::PostSendList>("postSendList"),
                         InstanceMethod<&CmId::SendList>("sendList"),
                         InstanceMethod<&CmId::QpState>("qpState"),
                         InstanceMethod<&CmId::DestroyQpMethod>("destroyQp"),
                         InstanceMethod<&CmId::Addresses>("addresses"),
                         InstanceMethod<&CmId::Close>("close"),
                         InstanceMethod<&CmId::Ref>("ref"),
                         InstanceMethod<&CmId::Unref>("unref"),
                     });
}

namespace {
void Init(Napi::Env env, Napi::Object exports) { exports.Set("CmId", CmId::Define(env)); }
Registrar registrar(Init);
}  // namespace

}  // namespace regcache::verbs
