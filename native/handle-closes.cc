#include "handle-closes.h"

namespace regcache {

// Rides in handle->data while the close is pending; restores it for `done`.
struct HandleCloses::Pending {
  HandleCloses* owner;
  void* data;
  void (*done)(uv_handle_t*);
};

HandleCloses* HandleCloses::Install(napi_env env) {
  auto* self = new HandleCloses();
  if (napi_add_async_cleanup_hook(env, &HandleCloses::OnTeardown, self, &self->hook_) != napi_ok) self->hook_ = nullptr;
  // Never freed: a watcher released late (by a finalizer after teardown) may
  // still call Close(); it is a few bytes per environment.
  return self;
}

void HandleCloses::Close(uv_handle_t* handle, void (*done)(uv_handle_t*)) {
  pending_++;
  handle->data = new Pending{this, handle->data, done};
  uv_close(handle, &HandleCloses::OnClosed);
}

void HandleCloses::OnClosed(uv_handle_t* handle) {
  auto* p = static_cast<Pending*>(handle->data);
  HandleCloses* self = p->owner;
  handle->data = p->data;
  auto done = p->done;
  delete p;
  if (done) done(handle);
  self->pending_--;
  self->FinishIfIdle();
}

void HandleCloses::OnTeardown(napi_async_cleanup_hook_handle, void* arg) {
  auto* self = static_cast<HandleCloses*>(arg);
  self->ending_ = true;
  self->FinishIfIdle();
}

void HandleCloses::FinishIfIdle() {
  if (!ending_ || pending_ != 0 || !hook_) return;
  napi_remove_async_cleanup_hook(hook_);  // lets the teardown go on
  hook_ = nullptr;
}

}  // namespace regcache
