#include "verbs/cq.h"

#include <algorithm>
#include <cerrno>

#include "addon.h"
#include "errors.h"
#include "verbs/context.h"

namespace regcache::verbs {

const napi_type_tag CompletionQueue::kTag = {0x5d1c0a7e11b24e04ULL, 0x9a3f6c2d4b1e8f04ULL};

CompletionQueue::CompletionQueue(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<CompletionQueue>(info), env_(info.Env()) {
  Napi::Env env = info.Env();
  Context* ctx = UnwrapTagged<Context>(info[0], "Context");
  uint32_t depth = ArgU32(info, 1, "depth");
  if (depth < 1 || depth > 0x7fffffff) throw Napi::RangeError::New(env, "depth must be in [1, 2^31)");
  if (!info[2].IsFunction()) throw Napi::TypeError::New(env, "dispatch must be a function");
  ibv_context* c = ctx->Get(env);

  channel_ = ibv_create_comp_channel(c);
  if (!channel_) ThrowErrno(env, errno ? errno : ENOMEM, "ibv_create_comp_channel");
  cq_ = ibv_create_cq(c, static_cast<int>(depth), nullptr, channel_, 0);
  if (!cq_) {
    int err = errno ? errno : ENOMEM;
    ibv_destroy_comp_channel(channel_);
    channel_ = nullptr;
    ThrowErrno(env, err, "ibv_create_cq");
  }
  try {
    if (int err = ibv_req_notify_cq(cq_, 0)) ThrowErrno(env, err, "ibv_req_notify_cq");
    watcher_ = std::make_unique<FdWatcher>(env, channel_->fd, &CompletionQueue::OnReadable, this);
  } catch (...) {
    ibv_destroy_cq(cq_);
    ibv_destroy_comp_channel(channel_);
    cq_ = nullptr;
    channel_ = nullptr;
    throw;
  }
  async_ = std::make_unique<Napi::AsyncContext>(env, "RdmaCompletionQueue");
  dispatch_ = Napi::Persistent(info[2].As<Napi::Function>());
  parent_ = Napi::Persistent(info[0].As<Napi::Object>());

  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, sizeof(double) * kBatch * kStride);
  slotData_ = static_cast<double*>(ab.Data());
  Napi::Float64Array slots = Napi::Float64Array::New(env, kBatch * kStride, ab, 0);
  slots_ = Napi::Persistent(slots.As<Napi::Object>());

  Napi::Object self = info.This().As<Napi::Object>();
  self.TypeTag(&kTag);
  self.Set("slots", slots);
  self.Set("depth", Napi::Number::New(env, cq_->cqe));
  Arm(env);
}

void CompletionQueue::Release() {
  Disarm();
  watcher_.reset();
  if (cq_) ibv_destroy_cq(cq_);
  if (channel_) ibv_destroy_comp_channel(channel_);
  cq_ = nullptr;
  channel_ = nullptr;
  // References are dropped by their destructors (or here on close()).
}

Napi::Value CompletionQueue::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (cq_) {
    watcher_.reset();
    if (int err = ibv_destroy_cq(cq_)) ThrowErrno(env, err, "ibv_destroy_cq", "queue pairs still use it");
    cq_ = nullptr;
  }
  Release();
  dispatch_.Reset();
  parent_.Reset();
  return env.Undefined();
}

// Copies up to `max` completions (all, if max < 0) into the slots, batch by
// batch, calling dispatch(n) for each batch. Returns how many were reaped.
int CompletionQueue::Drain(Napi::Env env, int max, bool fromLoop) {
  int total = 0;
  ibv_wc wc[kBatch];
  while (cq_ && (max < 0 || total < max)) {
    int want = max < 0 ? kBatch : std::min(kBatch, max - total);
    int n = ibv_poll_cq(cq_, want, wc);
    if (n < 0) {
      if (fromLoop) break;
      ThrowErrno(env, EIO, "ibv_poll_cq");
    }
    if (n == 0) break;
    for (int i = 0; i < n; ++i) {
      double* s = slotData_ + i * kStride;
      s[0] = static_cast<double>(wc[i].wr_id);
      s[1] = wc[i].status;
      s[2] = wc[i].opcode;
      s[3] = wc[i].byte_len;
      s[4] = wc[i].qp_num;
      s[5] = wc[i].vendor_err;
    }
    total += n;
    Napi::Value count = Napi::Number::New(env, n);
    uint64_t postsBefore = posts_;
    Napi::Value remaining = fromLoop ? dispatch_.MakeCallback(Value(), {count}, *async_) : dispatch_.Call(Value(), {count});
    // The count was taken before the microtasks that MakeCallback runs, which
    // may have posted more: only unref when nothing was posted meanwhile.
    if (remaining.IsNumber() && remaining.As<Napi::Number>().DoubleValue() <= 0 && posts_ == postsBefore && watcher_)
      watcher_->Unref();
    if (n < want) break;
  }
  return total;
}

void CompletionQueue::OnReadable(void* arg) {
  auto* self = static_cast<CompletionQueue*>(arg);
  if (!self->cq_) return;
  ibv_cq* evCq = nullptr;
  void* evCtx = nullptr;
  unsigned events = 0;
  // One event per wakeup: the poll is level-triggered, so a second pending
  // event wakes us again, and this saves a failing read() per completion burst.
  if (ibv_get_cq_event(self->channel_, &evCq, &evCtx) == 0) ++events;
  if (events) ibv_ack_cq_events(self->cq_, events);
  ibv_req_notify_cq(self->cq_, 0);  // re-arm before polling: nothing slips between

  Napi::Env env(self->env_);
  Napi::HandleScope scope(env);
  try {
    self->Drain(env, -1, true);
  } catch (const Napi::Error& e) {
    napi_fatal_exception(self->env_, e.Value());
  }
}

Napi::Value CompletionQueue::Poll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Get(env);
  int max = kBatch;
  if (info.Length() > 0 && !info[0].IsUndefined()) {
    uint32_t m = ArgU32(info, 0, "max");
    if (m < 1 || m > 0x7fffffff) throw Napi::RangeError::New(env, "max must be in [1, 2^31)");
    max = static_cast<int>(m);
  }
  return Napi::Number::New(env, Drain(env, max, false));
}

Napi::Value CompletionQueue::Unref(const Napi::CallbackInfo& info) {
  if (watcher_) watcher_->Unref();
  return info.Env().Undefined();
}

Napi::Function CompletionQueue::Define(Napi::Env env) {
  return DefineClass(env, "CompletionQueue",
                     {InstanceMethod<&CompletionQueue::Close>("close"), InstanceMethod<&CompletionQueue::Poll>("poll"),
                      InstanceMethod<&CompletionQueue::Unref>("unref")});
}

namespace {
void Init(Napi::Env env, Napi::Object exports) { exports.Set("CompletionQueue", CompletionQueue::Define(env)); }
Registrar registrar(Init);
}  // namespace

}  // namespace regcache::verbs
