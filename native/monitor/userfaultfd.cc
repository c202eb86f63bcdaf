// UserfaultfdMonitor: a MemoryMonitor backend for kernels without /dev/ummunotify.
//
//   new UserfaultfdMonitor(mode)   mode 'auto' | 'wp' | 'missing' (the last two for tests)
//   .counter                       ArrayBuffer over a native page: a 64-bit generation at offset 0
//   .mode                          'wp' or 'missing' (the registration mode it prefers)
//   .userModeOnly                  true when opened with UFFD_USER_MODE_ONLY
//   .watch(start, end, cookie) / .unwatch(cookie) / .drainInto(out) / .close()   as UmmunotifyMonitor
//
// How it works: a userfaultfd with UFFD_FEATURE_EVENT_UNMAP, EVENT_REMOVE and
// EVENT_REMAP; each watched range is registered with UFFDIO_REGISTER. The kernel
// then queues an event when a registered range is unmapped (munmap, brk shrink,
// MAP_FIXED or mremap over it), zapped (madvise MADV_DONTNEED / MADV_REMOVE) or
// moved (mremap), and the thread doing it sleeps until the event has been read.
// A native thread polls the descriptor; when an event is ready it increments the
// generation FIRST and then reads (the read wakes the unmapping thread), so the
// generation has moved before munmap() returns, as with the kernel module. It
// then records a report per overlapping watch (one pending report per watch,
// HINT rules as in DESIGN §3). drain() waits until the thread has recorded every
// event it counted, so a drain never misses what the generation announced.
//
// Registration mode: write-protect mode (UFFDIO_REGISTER_MODE_WP) without ever
// write-protecting anything gives events and no faults at all. Where WP is not
// available for a mapping (old kernels, shmem without pte markers), MISSING mode
// is used and the thread resolves each missing-page fault in a watched range with
// UFFDIO_ZEROPAGE, which is what the kernel would have done (anonymous and shmem
// memory fill with zeros); without that thread the faulting thread would hang.
// MISSING mode is refused where ZEROPAGE is not offered (hugetlbfs) and under
// UFFD_USER_MODE_ONLY (kernel-mode faults, e.g. pinning by ibv_reg_mr, would fail).
//
// Cannot see: page migration,
// compaction and NUMA balancing (pinned pages are not moved, so harmless);
// MADV_FREE (no event; pinned pages are not reclaimed). Cannot watch:
// file-backed mappings other than shmem/hugetlbfs, System V shared memory (its
// VMAs are not shmem ones to userfaultfd; shmdt() would send no event either),
// device mappings (VM_IO/PFNMAP),
// shared mappings without write permission (EPERM), and memory another
// userfaultfd already owns (EBUSY). Each watched range may split a VMA (mind
// vm.max_map_count). Privileges: the userfaultfd() system call needs
// vm.unprivileged_userfaultfd=1 or CAP_SYS_PTRACE; otherwise /dev/userfaultfd
// (kernel >= 6.1, file permissions) is tried, then UFFD_USER_MODE_ONLY
// (kernel >= 5.11, any user, WP mode only).
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "addon.h"
#include "errors.h"
#include "monitor/common.h"
#include "monitor/coverage.h"

namespace regcache::monitor {
namespace {

const uint64_t kPage = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));

// The page JavaScript reads: 64-bit generation at offset 0 (its low 32 bits are
// what a Uint32Array sees at index 0 on little-endian machines).
struct CounterPage {
  std::atomic<uint64_t> generation{0};
};

struct PageFree {
  void operator()(CounterPage* p) const {
    p->~CounterPage();
    std::free(p);
  }
};

std::shared_ptr<CounterPage> NewCounterPage() {
  void* mem = std::aligned_alloc(kPage, kPage);
  if (!mem) throw std::bad_alloc();
  std::memset(mem, 0, kPage);
  return std::shared_ptr<CounterPage>(new (mem) CounterPage(), PageFree());
}

struct Watch {
  uint64_t start, end;  // as given (reports are clipped to this)
  bool pending = false;
  bool hint = false;
  uint64_t hintStart = 0, hintEnd = 0;
};

enum class Mode { kWp, kMissing };

// Everything but the JavaScript object: the descriptor, the thread, the table.
class Core {
 public:
  // Throws a std::pair<int, std::string> (errno, syscall detail) on failure.
  Core(const std::string& want) : page_(NewCounterPage()) {
    OpenDescriptor();
    NegotiateApi();
    if (want == "missing") {
      if (userModeOnly_) Fail(EPERM, "userfaultfd", "MISSING mode needs a full userfaultfd (not user-mode-only)");
      preferred_ = Mode::kMissing;
    } else {
      preferred_ = (features_ & kNeedWp) || want == "wp" ? Mode::kWp : Mode::kMissing;
      if (preferred_ == Mode::kMissing && userModeOnly_) Fail(EOPNOTSUPP, "userfaultfd", "kernel lacks write-protect mode");
    }
    wake_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_ < 0) Fail(errno, "eventfd");
    thread_ = std::make_unique<std::thread>([this] { Run(); });
  }

  ~Core() { Close(); }

  void Close() {
    if (getpid() != owner_) {
      // A fork()ed child: the thread and the eventfd belong to the parent (the
      // eventfd is shared: writing it would stop the parent's thread), and any
      // ioctl would act on the parent's mm. Drop our copies of the descriptors.
      thread_.release();  // never joined or destroyed here: it does not exist in this process
      if (uffd_ >= 0) close(uffd_);
      if (wake_ >= 0) close(wake_);
      uffd_ = wake_ = -1;
      return;
    }
    if (thread_ && thread_->joinable()) {
      uint64_t one = 1;
      ssize_t ignored = write(wake_, &one, sizeof one);
      (void)ignored;
      thread_->join();
    }
    // Closing the descriptor drops every registration and wakes any faulting thread.
    if (uffd_ >= 0) close(uffd_);
    if (wake_ >= 0) close(wake_);
    uffd_ = wake_ = -1;
  }

  bool Closed() const { return uffd_ < 0; }
  bool Foreign() const { return getpid() != owner_; }
  const std::shared_ptr<CounterPage>& Page() const { return page_; }
  bool UserModeOnly() const { return userModeOnly_; }
  Mode Preferred() const { return preferred_; }

  // Returns 0 or an errno.
  int Add(uint64_t start, uint64_t end, uint64_t cookie, const char** what) {
    if (start >= end) return *what = "empty range", EINVAL;
    uint64_t s = start & ~(kPage - 1), e = (end + kPage - 1) & ~(kPage - 1);
    if (e < end) return *what = "range wraps", EINVAL;
    std::lock_guard<std::mutex> lock(mu_);
    if (watches_.count(cookie)) return *what = "duplicate cookie", EINVAL;
    // Registering an already registered range with this descriptor is allowed
    // and cheap, and re-arms parts the kernel forgot after an unmap.
    if (int err = Register(s, e, what)) return err;
    watches_.emplace(cookie, Watch{start, end});
    byStart_.emplace(start, cookie);
    maxLength_ = std::max(maxLength_, end - start);
    coverage_.Add(s, e);
    return 0;
  }

  int Remove(uint64_t cookie) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = watches_.find(cookie);
    if (it == watches_.end()) return EINVAL;
    uint64_t start = it->second.start, end = it->second.end;
    auto range = byStart_.equal_range(start);
    for (auto b = range.first; b != range.second; ++b)
      if (b->second == cookie) {
        byStart_.erase(b);
        break;
      }
    watches_.erase(it);  // a pending report goes with it
    uint64_t s = start & ~(kPage - 1), e = (end + kPage - 1) & ~(kPage - 1);
    for (auto& r : coverage_.Remove(s, e)) {
      uffdio_range range{r.first, r.second - r.first};
      ioctl(uffd_, UFFDIO_UNREGISTER, &range);  // fails harmlessly where the mapping is gone
    }
    return 0;
  }

  // Waits (briefly) until the thread has recorded everything up to the
  // generation `seen`; moves the pending reports into `out`. False on timeout.
  bool Take(uint64_t seen, PendingReports* out) {
    std::unique_lock<std::mutex> lock(mu_);
    bool done = recorded_.wait_for(lock, std::chrono::seconds(5), [&] { return completed_ >= seen || stopped_; });
    for (uint64_t cookie : pending_) {
      auto it = watches_.find(cookie);
      if (it == watches_.end() || !it->second.pending) continue;
      Watch& w = it->second;
      if (w.hint) out->Add(cookie, w.hintStart, w.hintEnd, true);
      else out->Add(cookie, w.start, w.end, false);
      w.pending = false;
    }
    pending_.clear();
    return done;
  }

 private:
  static constexpr uint64_t kEvents = UFFD_FEATURE_EVENT_UNMAP | UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_REMAP;
#ifdef UFFD_FEATURE_WP_HUGETLBFS_SHMEM
  static constexpr uint64_t kShmemWp = UFFD_FEATURE_WP_HUGETLBFS_SHMEM;
#else
  static constexpr uint64_t kShmemWp = 0;
#endif
#ifdef UFFD_FEATURE_PAGEFAULT_FLAG_WP
  static constexpr uint64_t kNeedWp = UFFD_FEATURE_PAGEFAULT_FLAG_WP;
#else
  static constexpr uint64_t kNeedWp = 0;
#endif

  // Releases what the constructor opened so far (no destructor runs after a throw).
  [[noreturn]] void Fail(int err, const char* call, std::string detail = "") {
    if (uffd_ >= 0) close(uffd_);
    if (wake_ >= 0) close(wake_);
    uffd_ = wake_ = -1;
    throw std::make_pair(err, std::string(call) + (detail.empty() ? "" : ": " + detail));
  }

  void OpenDescriptor() {
    const int flags = O_CLOEXEC | O_NONBLOCK;
    uffd_ = static_cast<int>(syscall(SYS_userfaultfd, flags));
    if (uffd_ >= 0) return;
    int first = errno;
    int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
    if (dev >= 0) {
      uffd_ = ioctl(dev, USERFAULTFD_IOC_NEW, flags);
      close(dev);
      if (uffd_ >= 0) return;
    }
#ifdef UFFD_USER_MODE_ONLY
    uffd_ = static_cast<int>(syscall(SYS_userfaultfd, flags | UFFD_USER_MODE_ONLY));
    if (uffd_ >= 0) {
      userModeOnly_ = true;
      return;
    }
#endif
    Fail(first, "userfaultfd",
         "not permitted: set sysctl vm.unprivileged_userfaultfd=1, run with CAP_SYS_PTRACE, "
         "or give access to /dev/userfaultfd");
  }

  void NegotiateApi() {
    uffdio_api api{};
    api.api = UFFD_API;
    api.features = kEvents | kShmemWp;
    if (ioctl(uffd_, UFFDIO_API, &api) < 0) {
      api = uffdio_api{};
      api.api = UFFD_API;
      api.features = kEvents;
      if (ioctl(uffd_, UFFDIO_API, &api) < 0) {
        Fail(errno, "ioctl", "UFFDIO_API (needs UFFD_FEATURE_EVENT_UNMAP/REMOVE/REMAP)");
      }
    }
    features_ = api.features;
  }

  int Register(uint64_t s, uint64_t e, const char** what) {
    uffdio_register reg{};
    reg.range = {s, e - s};
    reg.mode = preferred_ == Mode::kWp ? UFFDIO_REGISTER_MODE_WP : UFFDIO_REGISTER_MODE_MISSING;
    if (ioctl(uffd_, UFFDIO_REGISTER, &reg) == 0) {
      if (reg.mode == UFFDIO_REGISTER_MODE_MISSING && !(reg.ioctls & (1ULL << _UFFDIO_ZEROPAGE))) {
        ioctl(uffd_, UFFDIO_UNREGISTER, &reg.range);
        return *what = "UFFDIO_REGISTER: no UFFDIO_ZEROPAGE for this mapping (hugetlbfs?)", EINVAL;
      }
      return 0;
    }
    int err = errno;
    if (err == EINVAL && preferred_ == Mode::kWp && !userModeOnly_) {
      reg.mode = UFFDIO_REGISTER_MODE_MISSING;
      reg.ioctls = 0;
      if (ioctl(uffd_, UFFDIO_REGISTER, &reg) == 0) {
        if (reg.ioctls & (1ULL << _UFFDIO_ZEROPAGE)) return 0;
        ioctl(uffd_, UFFDIO_UNREGISTER, &reg.range);
      }
    }
    *what = "UFFDIO_REGISTER (only anonymous, shmem and hugetlbfs memory can be watched)";
    return err;
  }

  void Run() {
    pollfd fds[2] = {{uffd_, POLLIN, 0}, {wake_, POLLIN, 0}};
    uffd_msg msgs[64];
    for (;;) {
      int n = poll(fds, 2, -1);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 || (fds[1].revents & POLLIN)) break;
      if (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) break;
      if (!(fds[0].revents & POLLIN)) continue;
      // Count first: the read below releases the thread that changed the mapping.
      uint64_t gen = page_->generation.fetch_add(1, std::memory_order_acq_rel) + 1;
      ssize_t got = read(uffd_, msgs, sizeof msgs);
      std::lock_guard<std::mutex> lock(mu_);
      if (got > 0) {
        size_t count = static_cast<size_t>(got) / sizeof(uffd_msg);
        for (size_t i = 0; i < count; ++i) Handle(msgs[i]);
      }
      completed_ = gen;
      recorded_.notify_all();
    }
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    recorded_.notify_all();
  }

  // Called with mu_ held.
  void Handle(const uffd_msg& m) {
    switch (m.event) {
      case UFFD_EVENT_UNMAP:
      case UFFD_EVENT_REMOVE:
        Invalidate(m.arg.remove.start, m.arg.remove.end);
        break;
      case UFFD_EVENT_REMAP:
        Invalidate(m.arg.remap.from, m.arg.remap.from + m.arg.remap.len);
        break;
      case UFFD_EVENT_PAGEFAULT:
        Resolve(m.arg.pagefault.address & ~(kPage - 1), m.arg.pagefault.flags);
        break;
      default:
        break;
    }
  }

  void Invalidate(uint64_t a, uint64_t b) {
    uint64_t from = a > maxLength_ ? a - maxLength_ : 0;
    for (auto it = byStart_.lower_bound(from); it != byStart_.end() && it->first < b; ++it) {
      Watch& w = watches_.at(it->second);
      if (w.end <= a) continue;
      if (!w.pending) {
        w.pending = true;
        w.hint = true;
        w.hintStart = std::max(a, w.start);
        w.hintEnd = std::min(b, w.end);
        pending_.push_back(it->second);
      } else {
        w.hint = false;  // hit twice before a drain: report the whole range
      }
    }
  }

  // A missing-page fault in a watched MISSING-mode range: fill with zeros as the
  // kernel would have, or wake the thread to retry if the page appeared meanwhile.
  void Resolve(uint64_t page, uint64_t flags) {
    if (flags & UFFD_PAGEFAULT_FLAG_WP) {
      uffdio_writeprotect wp{{page, kPage}, 0};
      ioctl(uffd_, UFFDIO_WRITEPROTECT, &wp);
      return;
    }
    for (int attempt = 0; attempt < 100; ++attempt) {
      uffdio_zeropage z{};
      z.range = {page, kPage};
      if (ioctl(uffd_, UFFDIO_ZEROPAGE, &z) == 0) return;
      if (errno != EAGAIN) break;
    }
    uffdio_range r{page, kPage};
    ioctl(uffd_, UFFDIO_WAKE, &r);
  }

  int uffd_ = -1;
  int wake_ = -1;
  bool userModeOnly_ = false;
  uint64_t features_ = 0;
  Mode preferred_ = Mode::kWp;
  std::shared_ptr<CounterPage> page_;
  std::unique_ptr<std::thread> thread_;
  const pid_t owner_ = getpid();

  std::mutex mu_;  // guards everything below
  std::condition_variable recorded_;
  uint64_t completed_ = 0;
  bool stopped_ = false;
  std::unordered_map<uint64_t, Watch> watches_;
  std::multimap<uint64_t, uint64_t> byStart_;  // start -> cookie
  uint64_t maxLength_ = 0;
  std::vector<uint64_t> pending_;
  Coverage coverage_;
};

class UserfaultfdMonitor : public Napi::ObjectWrap<UserfaultfdMonitor> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "UserfaultfdMonitor",
                       {
                           InstanceAccessor<&UserfaultfdMonitor::Counter>("counter"),
                           InstanceAccessor<&UserfaultfdMonitor::ModeName>("mode"),
                           InstanceAccessor<&UserfaultfdMonitor::UserModeOnly>("userModeOnly"),
                           InstanceMethod<&UserfaultfdMonitor::Watch>("watch"),
                           InstanceMethod<&UserfaultfdMonitor::Unwatch>("unwatch"),
                           InstanceMethod<&UserfaultfdMonitor::DrainInto>("drainInto"),
                           InstanceMethod<&UserfaultfdMonitor::Close>("close"),
                       });
  }

  explicit UserfaultfdMonitor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<UserfaultfdMonitor>(info) {
    Napi::Env env = info.Env();
    std::string mode = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "auto";
    if (mode != "auto" && mode != "wp" && mode != "missing")
      throw Napi::RangeError::New(env, "mode must be 'auto', 'wp' or 'missing'");
    try {
      core_ = std::make_unique<Core>(mode);
    } catch (const std::pair<int, std::string>& e) {
      ThrowErrno(env, e.first, "userfaultfd", e.second.c_str());
    }
    // The ArrayBuffer shares the page; whichever of it and the core goes last frees it.
    auto* keep = new std::shared_ptr<CounterPage>(core_->Page());
    Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(
        env, keep->get(), kPage, [](Napi::Env, void*, std::shared_ptr<CounterPage>* k) { delete k; }, keep);
    counter_ = Napi::Persistent(ab);
  }

 private:
  Core& Live(Napi::Env env) {
    if (core_ && core_->Foreign())
      ThrowErrno(env, EIO, "userfaultfd", "the monitor belongs to the parent process (used after fork)");
    if (!core_ || core_->Closed()) ThrowErrno(env, EBADF, "userfaultfd", "monitor is closed");
    return *core_;
  }

  Napi::Value Counter(const Napi::CallbackInfo& info) { return counter_.Value(); }
  Napi::Value ModeName(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), core_ && core_->Preferred() == Mode::kMissing ? "missing" : "wp");
  }
  Napi::Value UserModeOnly(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), core_ && core_->UserModeOnly());
  }

  Napi::Value Watch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint64_t start = U64Arg(info, 0, "start"), end = U64Arg(info, 1, "end"), cookie = U64Arg(info, 2, "cookie");
    const char* what = "watch";
    if (int err = Live(env).Add(start, end, cookie, &what)) ThrowErrno(env, err, "ioctl", what);
    return env.Undefined();
  }

  Napi::Value Unwatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint64_t cookie = U64Arg(info, 0, "cookie");
    if (int err = Live(env).Remove(cookie)) ThrowErrno(env, err, "ioctl", "unwatch: unknown cookie");
    return env.Undefined();
  }

  Napi::Value DrainInto(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Core& core = Live(env);
    if (pending_.Idle()) {
      uint64_t seen = core.Page()->generation.load(std::memory_order_acquire);
      pending_.Begin();
      if (core.Take(seen, &pending_)) pending_.SetCounter(seen);
    }
    return pending_.CopyOut(info, 0);
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (core_) core_->Close();
    return info.Env().Undefined();
  }

  std::unique_ptr<Core> core_;
  Napi::Reference<Napi::ArrayBuffer> counter_;
  PendingReports pending_;
};

void Init(Napi::Env env, Napi::Object exports) { exports.Set("UserfaultfdMonitor", UserfaultfdMonitor::Define(env)); }

Registrar registrar(Init);

}  // namespace
}  // namespace regcache::monitor
