// CompletionQueue: an ibv_cq with its own completion channel watched by libuv.
// Completions are copied into a Float64Array shared with JavaScript and handed
// over in batches to one dispatch function, which returns how many operations
// are still pending; the libuv handle keeps the loop alive only while that is
// non-zero.
#pragma once
#include <infiniband/verbs.h>
#include <napi.h>

#include <memory>

#include "verbs/common.h"
#include "verbs/watcher.h"

namespace regcache::verbs {

class CompletionQueue : public Napi::ObjectWrap<CompletionQueue>, public TeardownHook {
 public:
  static const napi_type_tag kTag;
  static Napi::Function Define(Napi::Env env);
  static constexpr int kBatch = 32;   // completions per dispatch call
  static constexpr int kStride = 6;   // wrId, status, opcode, byteLen, qpNum, vendorErr

  explicit CompletionQueue(const Napi::CallbackInfo& info);  // (context, depth, dispatch)
  ~CompletionQueue() override { Release(); }

  ibv_cq* Get(Napi::Env env) const {
    if (!cq_) ThrowClosed(env, "CompletionQueue");
    return cq_;
  }
  // An operation was posted: keep the loop alive until it completes.
  void Ref() {
    ++posts_;
    if (watcher_) watcher_->Ref();
  }

 private:
  void Release() override;
  static void OnReadable(void* self);
  int Drain(Napi::Env env, int max, bool fromLoop);

  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Poll(const Napi::CallbackInfo& info);
  Napi::Value Unref(const Napi::CallbackInfo& info);

  napi_env env_;
  ibv_comp_channel* channel_ = nullptr;
  ibv_cq* cq_ = nullptr;
  std::unique_ptr<FdWatcher> watcher_;
  std::unique_ptr<Napi::AsyncContext> async_;
  Napi::FunctionReference dispatch_;
  Napi::ObjectReference parent_;
  Napi::ObjectReference slots_;
  double* slotData_ = nullptr;
  uint64_t posts_ = 0;  // Ref() calls; a post during dispatch keeps the loop alive
};

}  // namespace regcache::verbs
