#include "verbs/watcher.h"

#include <fcntl.h>

#include <cerrno>

#include "addon.h"
#include "errors.h"
#include "handle-closes.h"

namespace regcache::verbs {

// Heap-held so that the memory outlives the owner until libuv's close callback.
struct FdWatcher::Handle {
  uv_poll_t poll;
  Callback cb = nullptr;
  void* owner = nullptr;
  HandleCloses* closes = nullptr;
};

static void FreeHandle(uv_handle_t* p) { delete static_cast<FdWatcher::Handle*>(p->data); }

int SetNonBlocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return errno;
  return 0;
}

FdWatcher::FdWatcher(napi_env env, int fd, Callback cb, void* owner) {
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || !loop)
    throw Napi::Error::New(env, "no libuv loop for this environment");
  if (int err = SetNonBlocking(fd)) ThrowErrno(env, err, "fcntl", "O_NONBLOCK on a channel fd");
  auto* h = new Handle();
  h->cb = cb;
  h->owner = owner;
  h->closes = Data(Napi::Env(env)).handleCloses;
  if (int err = uv_poll_init(loop, &h->poll, fd)) {
    delete h;
    ThrowErrno(env, -err, "uv_poll_init");
  }
  h->poll.data = h;
  uv_unref(reinterpret_cast<uv_handle_t*>(&h->poll));
  if (int err = uv_poll_start(&h->poll, UV_READABLE, &FdWatcher::OnPoll)) {
    h->closes->Close(reinterpret_cast<uv_handle_t*>(&h->poll), FreeHandle);
    ThrowErrno(env, -err, "uv_poll_start");
  }
  handle_ = h;
}

FdWatcher::~FdWatcher() {
  if (!handle_) return;
  handle_->cb = nullptr;  // no callback into a dead owner
  uv_poll_stop(&handle_->poll);
  handle_->closes->Close(reinterpret_cast<uv_handle_t*>(&handle_->poll), FreeHandle);
  handle_ = nullptr;
}

void FdWatcher::Ref() {
  if (refed_ || !handle_) return;
  refed_ = true;
  uv_ref(reinterpret_cast<uv_handle_t*>(&handle_->poll));
}

void FdWatcher::Unref() {
  if (!refed_ || !handle_) return;
  refed_ = false;
  uv_unref(reinterpret_cast<uv_handle_t*>(&handle_->poll));
}

void FdWatcher::OnPoll(uv_poll_t* p, int status, int events) {
  auto* h = static_cast<Handle*>(p->data);
  if (h && h->cb) h->cb(h->owner);
}

}  // namespace regcache::verbs
