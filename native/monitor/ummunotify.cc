// UmmunotifyMonitor: the client of /dev/ummunotify (DESIGN §3).
//
//   new UmmunotifyMonitor(features)   open read-only, EXCHANGE_FEATURES, map the counter page
//   .features                         the feature bits the kernel granted
//   .counter                          ArrayBuffer over the kernel's read-only counter page
//   .watch(start, end, cookie[, flags]) UMMUNOTIFY_REGISTER_REGION (flags: UMMUNOTIFY_REGISTER_*,
//                                     only those the granted features define)
//   .unwatch(cookie)                  UMMUNOTIFY_UNREGISTER_REGION (ENOENT with FEATURE_ONESHOT:
//                                     unknown cookie, e.g. a ONESHOT watch already reported)
//   .drainInto(out)                   read() every pending report (non-blocking) and
//                                     hand them out a slice per call (monitor/common.h)
//   .onReadable(fn | null)            call fn on the event loop while reports wait (uv_poll,
//                                     unreferenced: it never keeps the process alive)
//   .close()                          close the file (idempotent)
//
// The counter page stays mapped until its ArrayBuffer is garbage collected, so
// a Uint32Array over it never dangles, even after close().
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "addon.h"
#include "errors.h"
#include "monitor/common.h"
#include "ummunotify.h"
#include "verbs/watcher.h"

namespace regcache::monitor {
namespace {

class UmmunotifyMonitor : public Napi::ObjectWrap<UmmunotifyMonitor> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "UmmunotifyMonitor",
                       {
                           InstanceAccessor<&UmmunotifyMonitor::Features>("features"),
                           InstanceAccessor<&UmmunotifyMonitor::Counter>("counter"),
                           InstanceMethod<&UmmunotifyMonitor::Watch>("watch"),
                           InstanceMethod<&UmmunotifyMonitor::Unwatch>("unwatch"),
                           InstanceMethod<&UmmunotifyMonitor::DrainInto>("drainInto"),
                           InstanceMethod<&UmmunotifyMonitor::OnReadable>("onReadable"),
                           InstanceMethod<&UmmunotifyMonitor::Close>("close"),
                       });
  }

  explicit UmmunotifyMonitor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<UmmunotifyMonitor>(info) {
    Napi::Env env = info.Env();
    uint32_t want = info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value() : 0;
    fd_ = open(UMMUNOTIFY_DEVICE, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd_ < 0) ThrowErrno(env, errno, "open", UMMUNOTIFY_DEVICE);
    __u32 features = want;
    if (ioctl(fd_, UMMUNOTIFY_EXCHANGE_FEATURES, &features) < 0) {
      int err = errno;
      Shut();
      ThrowErrno(env, err, "ioctl", "UMMUNOTIFY_EXCHANGE_FEATURES");
    }
    features_ = features;
    long page = sysconf(_SC_PAGESIZE);
    void* p = mmap(nullptr, page, PROT_READ, MAP_SHARED, fd_, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      Shut();
      ThrowErrno(env, err, "mmap", "ummunotify counter page");
    }
    // The finalizer unmaps: the mapping outlives the file and this object.
    Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(
        env, p, page, [](Napi::Env, void* data, long* len) { munmap(data, *len); delete len; }, new long(page));
    counter_ = Napi::Persistent(ab);
  }

  ~UmmunotifyMonitor() override { Shut(); }

 private:
  void Shut() {
    watcher_.reset();  // stop polling before the descriptor goes
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

  Napi::Value OnReadable(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    watcher_.reset();
    readable_.Reset();
    if (info[0].IsNull() || info[0].IsUndefined()) return env.Undefined();
    if (!info[0].IsFunction()) throw Napi::TypeError::New(env, "onReadable needs a function or null");
    int fd = Fd(env);
    readable_ = Napi::Persistent(info[0].As<Napi::Function>());
    env_ = env;
    if (!async_) async_ = std::make_unique<Napi::AsyncContext>(env, "UmmunotifyReadable");
    watcher_ = std::make_unique<verbs::FdWatcher>(env, fd, &UmmunotifyMonitor::Readable, this);
    return env.Undefined();
  }

  static void Readable(void* arg) {
    auto* self = static_cast<UmmunotifyMonitor*>(arg);
    if (self->readable_.IsEmpty()) return;
    Napi::Env env(self->env_);
    Napi::HandleScope scope(env);
    try {
      self->readable_.Value().MakeCallback(env.Global(), {}, *self->async_);
    } catch (const Napi::Error& e) {
      napi_fatal_exception(self->env_, e.Value());
    }
  }

  int Fd(Napi::Env env) {
    if (fd_ < 0) ThrowErrno(env, EBADF, "ummunotify", "monitor is closed");
    return fd_;
  }

  Napi::Value Features(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), features_); }
  Napi::Value Counter(const Napi::CallbackInfo& info) { return counter_.Value(); }

  Napi::Value Watch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ummunotify_register_ioctl r{};
    r.start = U64Arg(info, 0, "start");
    r.end = U64Arg(info, 1, "end");
    r.user_cookie = U64Arg(info, 2, "cookie");
    if (info.Length() > 3 && !info[3].IsUndefined()) {
      if (!info[3].IsNumber()) throw Napi::TypeError::New(env, "flags must be a number");
      r.flags = info[3].As<Napi::Number>().Uint32Value();
    }
    int fd = Fd(env);
    // EINTR: a signal (a profiler's SIGPROF, say) hit the process's first
    // registration before anything was registered; just call again.
    int rc;
    do rc = ioctl(fd, UMMUNOTIFY_REGISTER_REGION, &r);
    while (rc < 0 && errno == EINTR);
    if (rc < 0) ThrowErrno(env, errno, "ioctl", "UMMUNOTIFY_REGISTER_REGION");
    return env.Undefined();
  }

  Napi::Value Unwatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    __u64 cookie = U64Arg(info, 0, "cookie");
    int fd = Fd(env);
    int rc;
    do rc = ioctl(fd, UMMUNOTIFY_UNREGISTER_REGION, &cookie);
    while (rc < 0 && errno == EINTR);
    if (rc < 0) ThrowErrno(env, errno, "ioctl", "UMMUNOTIFY_UNREGISTER_REGION");
    return env.Undefined();
  }

  // read(), or the failure a test injected (monitor/common.h).
  ssize_t ReadEvents(int fd, ummunotify_event* buf, size_t size) {
    ReadFault& fault = InjectedReadFault();
    if (fault.err != 0 && fault.after_reads-- <= 0) {
      errno = fault.err;
      fault.err = 0;
      return -1;
    }
    return read(fd, buf, size);
  }

  // drainInto(out): a new drain reads until the LAST event (the list is empty
  // at that moment) or EAGAIN; its reports go out a slice per call.
  Napi::Value DrainInto(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = Fd(env);
    if (pending_.Idle()) {
      pending_.Begin();
      ummunotify_event buf[64];
      for (bool last = false; !last;) {
        ssize_t got = ReadEvents(fd, buf, sizeof buf);
        if (got < 0) {
          if (errno == EINTR) continue;
          if (errno == EAGAIN) break;
          // The reports read so far left the kernel's queue: hand them out,
          // then say the drain failed, so every watch is treated as stale.
          pending_.Fail(errno);
          break;
        }
        if (got == 0) break;
        size_t count = static_cast<size_t>(got) / sizeof(ummunotify_event);
        for (size_t i = 0; i < count; ++i) {
          const ummunotify_event& e = buf[i];
          if (e.type == UMMUNOTIFY_EVENT_TYPE_LAST) {
            pending_.SetCounter(e.user_cookie_counter);
            last = true;  // the kernel sends LAST only once its list is empty
          } else if (e.type == UMMUNOTIFY_EVENT_TYPE_INVAL) {
            pending_.Add(e.user_cookie_counter, e.hint_start, e.hint_end, (e.flags & UMMUNOTIFY_EVENT_FLAG_HINT) != 0,
                         (e.flags & UMMUNOTIFY_EVENT_FLAG_REMOVED) != 0);
          }
        }
      }
    }
    return pending_.CopyOut(info, 0);
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shut();
    return info.Env().Undefined();
  }

  int fd_ = -1;
  uint32_t features_ = 0;
  napi_env env_ = nullptr;
  std::unique_ptr<verbs::FdWatcher> watcher_;
  std::unique_ptr<Napi::AsyncContext> async_;
  Napi::FunctionReference readable_;
  Napi::Reference<Napi::ArrayBuffer> counter_;
  PendingReports pending_;
};

}  // namespace

ReadFault& InjectedReadFault() {
  static ReadFault fault;
  return fault;
}

namespace {

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("UmmunotifyMonitor", UmmunotifyMonitor::Define(env));
  exports.Set("UMMUNOTIFY_FEATURE_MAPPING_ONLY", Napi::Number::New(env, UMMUNOTIFY_FEATURE_MAPPING_ONLY));
  exports.Set("UMMUNOTIFY_FEATURE_LIMIT", Napi::Number::New(env, UMMUNOTIFY_FEATURE_LIMIT));
  exports.Set("UMMUNOTIFY_FEATURE_ONESHOT", Napi::Number::New(env, UMMUNOTIFY_FEATURE_ONESHOT));
  exports.Set("UMMUNOTIFY_REGISTER_ONESHOT", Napi::Number::New(env, UMMUNOTIFY_REGISTER_ONESHOT));
}

Registrar registrar(Init);

}  // namespace
}  // namespace regcache::monitor
