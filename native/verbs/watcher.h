// Watches a file descriptor with libuv (uv_poll) on the environment's loop, so
// completion and rdma_cm channels are serviced without busy waiting.
#pragma once
#include <napi.h>
#include <uv.h>

namespace regcache::verbs {

class FdWatcher {
 public:
  using Callback = void (*)(void* owner);

  // Starts watching `fd` for readability; the handle starts unreferenced, so
  // it keeps the loop alive only between Ref() and Unref().
  FdWatcher(napi_env env, int fd, Callback cb, void* owner);
  ~FdWatcher();  // closes the handle (its memory is freed by libuv's close callback)
  FdWatcher(const FdWatcher&) = delete;
  FdWatcher& operator=(const FdWatcher&) = delete;

  void Ref();
  void Unref();
  bool Refed() const { return refed_; }

  struct Handle;  // outlives the watcher until libuv's close callback

 private:
  static void OnPoll(uv_poll_t* h, int status, int events);
  Handle* handle_ = nullptr;
  bool refed_ = false;
};

// Puts a descriptor in non-blocking mode (returns errno or 0).
int SetNonBlocking(int fd);

}  // namespace regcache::verbs
