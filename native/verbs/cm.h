// CmId: one rdma_cm identifier with its own event channel (watched by libuv)
// and, once connected, its RC queue pair. Listening ids hand each connection
// request to JavaScript as an External that a new CmId adopts (the id moves to
// its own channel), so every connection is independent of its listener.
#pragma once
#include <infiniband/verbs.h>
#include <napi.h>
#include <rdma/rdma_cma.h>

#include <memory>
#include <unordered_set>

#include "verbs/common.h"
#include "verbs/watcher.h"

namespace regcache::verbs {

class CompletionQueue;
struct PendingRequest;

class CmId : public Napi::ObjectWrap<CmId>, public TeardownHook {
 public:
  static const napi_type_tag kTag;
  static Napi::Function Define(Napi::Env env);

  // (onEvent) creates a fresh id; (onEvent, request) adopts a connection request.
  explicit CmId(const Napi::CallbackInfo& info);
  ~CmId() override { Release(); }

 private:
  void Release() override;
  void DestroyQp();
  rdma_cm_id* Id(Napi::Env env) const {
    if (!id_) ThrowClosed(env, "connection");
    return id_;
  }
  ibv_qp* Qp(Napi::Env env) const {
    if (!id_ || !id_->qp) ThrowClosed(env, "QueuePair");
    return id_->qp;
  }
  static void OnReadable(void* self);

  Napi::Value Bind(const Napi::CallbackInfo& info);
  Napi::Value Listen(const Napi::CallbackInfo& info);
  Napi::Value ResolveAddr(const Napi::CallbackInfo& info);
  Napi::Value ResolveRoute(const Napi::CallbackInfo& info);
  Napi::Value CreateQp(const Napi::CallbackInfo& info);
  Napi::Value Connect(const Napi::CallbackInfo& info);
  Napi::Value Accept(const Napi::CallbackInfo& info);
  Napi::Value Reject(const Napi::CallbackInfo& info);
  Napi::Value Disconnect(const Napi::CallbackInfo& info);
  Napi::Value PostSend(const Napi::CallbackInfo& info);
  Napi::Value PostRecv(const Napi::CallbackInfo& info);
  Napi::Value PostSendList(const Napi::CallbackInfo& info);
  Napi::Value SendList(const Napi::CallbackInfo& info);
  Napi::Value QpState(const Napi::CallbackInfo& info);
  Napi::Value DestroyQpMethod(const Napi::CallbackInfo& info);
  Napi::Value Addresses(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Ref(const Napi::CallbackInfo& info);
  Napi::Value Unref(const Napi::CallbackInfo& info);

  napi_env env_;
  rdma_event_channel* channel_ = nullptr;
  rdma_cm_id* id_ = nullptr;
  std::unique_ptr<FdWatcher> watcher_;
  std::unique_ptr<Napi::AsyncContext> async_;
  Napi::FunctionReference onEvent_;

  // Set while the queue pair exists.
  CompletionQueue* sendCq_ = nullptr;
  CompletionQueue* recvCq_ = nullptr;
  Napi::ObjectReference pdRef_, sendCqRef_, recvCqRef_;
  uint32_t maxInline_ = 0;

 public:
  // Work-request descriptors shared with JS for postSendList (one doorbell per
  // chain): kListMax entries of kListStride bytes, then kListMax inline
  // staging areas of maxInline_ bytes each. Layout of one entry, little endian:
  //   u64 localAddr | u64 remoteAddr | f64 wrId | u32 length | u32 lkey |
  //   u32 rkey | u32 flags (bits 0-1 opcode, 8 signaled, 9 inline staged) | 8 pad
  static constexpr uint32_t kListMax = 128;
  static constexpr uint32_t kListStride = 48;

 private:
  Napi::ObjectReference listRef_;
  uint8_t* list_ = nullptr;

  // Connection requests handed to JS and not adopted yet: their ids live on
  // our channel, so they are destroyed before it.
  std::unordered_set<PendingRequest*> requests_;
  friend struct PendingRequest;
};

// A connection request not yet adopted by a CmId (an External in JS).
struct PendingRequest {
  rdma_cm_id* id;
  CmId* listener;
  // Drops the request: destroys the id (which refuses the connection).
  void Drop() {
    if (listener) listener->requests_.erase(this);
    listener = nullptr;
    if (id) rdma_destroy_id(id);
    id = nullptr;
  }
  // Adopted: the id now belongs to a new CmId.
  void Take() {
    if (listener) listener->requests_.erase(this);
    listener = nullptr;
    id = nullptr;
  }
};

}  // namespace regcache::verbs
