// Waits for libuv handle closes at environment teardown.
//
// A uv_close() callback runs on a later loop turn. In a worker thread, Node
// unloads the addon (dlclose) once the environment is torn down, and a close
// callback still queued then would jump into unmapped code. An async cleanup
// hook, added when the addon loads (so it runs after every object's own
// teardown hook), keeps the environment's loop running until the last close
// callback has run.
#pragma once
#include <node_api.h>
#include <uv.h>

namespace regcache {

class HandleCloses {
 public:
  // Called once per environment, from the addon's initializer.
  static HandleCloses* Install(napi_env env);
  // Closes `handle`; `done` runs from libuv's close callback, before teardown ends.
  void Close(uv_handle_t* handle, void (*done)(uv_handle_t*));

 private:
  struct Pending;
  static void OnTeardown(napi_async_cleanup_hook_handle hook, void* arg);
  static void OnClosed(uv_handle_t* handle);
  void FinishIfIdle();

  int pending_ = 0;
  napi_async_cleanup_hook_handle hook_ = nullptr;
  bool ending_ = false;
};

}  // namespace regcache
