// `testing`: raw memory-map operations for tests of the monitor and the cache.
//
// Tests need to change the process's mappings in exactly the ways the kernel
// module must notice (munmap, mremap, madvise, MAP_FIXED, shmdt, brk, fork),
// which JavaScript cannot do by itself. Each function is a thin wrapper over one
// system call; failures throw RdmaError with the call's errno. Addresses are
// bigints. Not part of the public API: this file is built as its own addon,
// build/Release/rdma_regcache_testing.node (CMakeLists.txt), loaded only by
// tests and benchmarks through src/testing.ts, and not shipped in the package.
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "addon.h"
#include "errors.h"

namespace regcache {
namespace {

uint64_t ArgAddress(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info[i].IsBigInt()) {
    bool lossless = true;
    uint64_t v = info[i].As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) throw Napi::RangeError::New(info.Env(), std::string(what) + " out of range");
    return v;
  }
  if (info[i].IsNumber()) {
    double d = info[i].As<Napi::Number>().DoubleValue();
    if (d < 0 || d > 9007199254740991.0 || d != static_cast<double>(static_cast<uint64_t>(d)))
      throw Napi::RangeError::New(info.Env(), std::string(what) + " must be a non-negative integer");
    return static_cast<uint64_t>(d);
  }
  throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a bigint or a number");
}

int64_t ArgInt(const Napi::CallbackInfo& info, size_t i, const char* what, int64_t dflt) {
  if (info[i].IsUndefined()) return dflt;
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a number");
  return info[i].As<Napi::Number>().Int64Value();
}

Napi::Value Big(Napi::Env env, const void* p) {
  return Napi::BigInt::New(env, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)));
}

void* Ptr(uint64_t a) { return reinterpret_cast<void*>(static_cast<uintptr_t>(a)); }

// mmap(length, prot?, flags?, address?) -> address. Defaults: read/write,
// private anonymous; an address adds no flag by itself (pass MAP_FIXED).
Napi::Value Mmap(const Napi::CallbackInfo& info) {
  size_t len = ArgAddress(info, 0, "length");
  int prot = static_cast<int>(ArgInt(info, 1, "prot", PROT_READ | PROT_WRITE));
  int flags = static_cast<int>(ArgInt(info, 2, "flags", MAP_PRIVATE | MAP_ANONYMOUS));
  void* hint = info[3].IsUndefined() ? nullptr : Ptr(ArgAddress(info, 3, "address"));
  void* p = mmap(hint, len, prot, flags, -1, 0);
  if (p == MAP_FAILED) ThrowErrno(info.Env(), errno, "mmap");
  return Big(info.Env(), p);
}

Napi::Value Munmap(const Napi::CallbackInfo& info) {
  if (munmap(Ptr(ArgAddress(info, 0, "address")), ArgAddress(info, 1, "length")))
    ThrowErrno(info.Env(), errno, "munmap");
  return info.Env().Undefined();
}

// mremap(address, oldLength, newLength, flags?, newAddress?) -> new address.
Napi::Value Mremap(const Napi::CallbackInfo& info) {
  void* old = Ptr(ArgAddress(info, 0, "address"));
  size_t oldLen = ArgAddress(info, 1, "oldLength");
  size_t newLen = ArgAddress(info, 2, "newLength");
  int flags = static_cast<int>(ArgInt(info, 3, "flags", 0));
  void* p = info[4].IsUndefined() ? mremap(old, oldLen, newLen, flags)
                                  : mremap(old, oldLen, newLen, flags, Ptr(ArgAddress(info, 4, "newAddress")));
  if (p == MAP_FAILED) ThrowErrno(info.Env(), errno, "mremap");
  return Big(info.Env(), p);
}

Napi::Value Madvise(const Napi::CallbackInfo& info) {
  if (madvise(Ptr(ArgAddress(info, 0, "address")), ArgAddress(info, 1, "length"),
              static_cast<int>(ArgInt(info, 2, "advice", MADV_DONTNEED))))
    ThrowErrno(info.Env(), errno, "madvise");
  return info.Env().Undefined();
}

Napi::Value Mprotect(const Napi::CallbackInfo& info) {
  if (mprotect(Ptr(ArgAddress(info, 0, "address")), ArgAddress(info, 1, "length"),
               static_cast<int>(ArgInt(info, 2, "prot", PROT_READ | PROT_WRITE))))
    ThrowErrno(info.Env(), errno, "mprotect");
  return info.Env().Undefined();
}

// shmAttach(length, address?) -> address: a private System V segment, already
// marked for removal so it disappears with its last detach.
Napi::Value ShmAttach(const Napi::CallbackInfo& info) {
  size_t len = ArgAddress(info, 0, "length");
  void* at = info[1].IsUndefined() ? nullptr : Ptr(ArgAddress(info, 1, "address"));
  int id = shmget(IPC_PRIVATE, len, IPC_CREAT | 0600);
  if (id < 0) ThrowErrno(info.Env(), errno, "shmget");
  void* p = shmat(id, at, 0);
  int err = errno;
  shmctl(id, IPC_RMID, nullptr);
  if (p == reinterpret_cast<void*>(-1)) ThrowErrno(info.Env(), err, "shmat");
  return Big(info.Env(), p);
}

Napi::Value ShmDetach(const Napi::CallbackInfo& info) {
  if (shmdt(Ptr(ArgAddress(info, 0, "address")))) ThrowErrno(info.Env(), errno, "shmdt");
  return info.Env().Undefined();
}

// sbrk(increment) -> the previous program break.
Napi::Value Sbrk(const Napi::CallbackInfo& info) {
  int64_t inc = ArgInt(info, 0, "increment", 0);
  void* p = sbrk(static_cast<intptr_t>(inc));
  if (p == reinterpret_cast<void*>(-1)) ThrowErrno(info.Env(), errno, "sbrk");
  return Big(info.Env(), p);
}

// sbrkRelease(top, length) -> bool: lowers the break by `length` only if it is
// still at `top` (where the test's sbrk(+length) left it). malloc grows its heap
// with brk too; lowering the break under malloc's memory makes it abort
// ("break adjusted to free malloc space"), so a test must never do that.
Napi::Value SbrkRelease(const Napi::CallbackInfo& info) {
  uint64_t top = ArgAddress(info, 0, "top");
  int64_t len = ArgInt(info, 1, "length", 0);
  if (reinterpret_cast<uintptr_t>(sbrk(0)) != top) return Napi::Boolean::New(info.Env(), false);
  if (sbrk(static_cast<intptr_t>(-len)) == reinterpret_cast<void*>(-1)) ThrowErrno(info.Env(), errno, "sbrk");
  return Napi::Boolean::New(info.Env(), true);
}

// pinLimit(bytes | null, dropIpcLock = true): with a number, sets the soft
// RLIMIT_MEMLOCK and (by default) drops CAP_IPC_LOCK from the effective set
// (root ignores the limit otherwise), so ibv_reg_mr past it fails with ENOMEM as
// for an ordinary user; with null, restores the soft limit to the hard one and
// the capability (kept permitted). Changing capabilities changes the thread's
// credentials, and uverbs/rdma_cm files opened under other credentials refuse
// write()-based commands (EACCES): use dropIpcLock only in a process of its own.
Napi::Value PinLimit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  rlimit rl{};
  if (getrlimit(RLIMIT_MEMLOCK, &rl)) ThrowErrno(env, errno, "getrlimit");
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct caps[2]{};
  if (syscall(SYS_capget, &hdr, caps)) ThrowErrno(env, errno, "capget");
  const uint32_t bit = 1u << CAP_IPC_LOCK;  // CAP_IPC_LOCK < 32: word 0
  uint32_t effective = caps[0].effective;
  if (info[0].IsNull() || info[0].IsUndefined()) {
    rl.rlim_cur = rl.rlim_max;
    effective |= caps[0].permitted & bit;
  } else {
    rl.rlim_cur = ArgAddress(info, 0, "bytes");
    if (!info[1].IsBoolean() || info[1].As<Napi::Boolean>().Value()) effective &= ~bit;
  }
  if (setrlimit(RLIMIT_MEMLOCK, &rl)) ThrowErrno(env, errno, "setrlimit");
  if (effective != caps[0].effective) {
    caps[0].effective = effective;
    if (syscall(SYS_capset, &hdr, caps)) ThrowErrno(env, errno, "capset");
  }
  return env.Undefined();
}

// wrap(address, length) -> an ArrayBuffer over raw memory, owned by nobody: it
// dangles once the memory is unmapped, so tests must drop it first.
Napi::Value Wrap(const Napi::CallbackInfo& info) {
  void* p = Ptr(ArgAddress(info, 0, "address"));
  size_t len = ArgAddress(info, 1, "length");
  return Napi::ArrayBuffer::New(info.Env(), p, len);
}

// fork(mode): 'exit' -> the child calls _exit(0) at once (nothing of Node runs
// in it); 'return' -> the child returns 0 to JavaScript and must finish with
// exit(); the parent gets the child's pid either way.
Napi::Value Fork(const Napi::CallbackInfo& info) {
  std::string mode = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "exit";
  if (mode != "exit" && mode != "return") throw Napi::RangeError::New(info.Env(), "mode must be 'exit' or 'return'");
  pid_t pid = fork();
  if (pid < 0) ThrowErrno(info.Env(), errno, "fork");
  if (pid == 0 && mode == "exit") _exit(0);
  return Napi::Number::New(info.Env(), pid);
}

// waitpid(pid) -> exit status (128 + signal for a signalled child).
Napi::Value Waitpid(const Napi::CallbackInfo& info) {
  pid_t pid = static_cast<pid_t>(ArgInt(info, 0, "pid", -1));
  int status = 0;
  pid_t r;
  do r = waitpid(pid, &status, 0);
  while (r < 0 && errno == EINTR);
  if (r < 0) ThrowErrno(info.Env(), errno, "waitpid");
  return Napi::Number::New(info.Env(), WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

// exit(code): _exit, for a child created with fork('return').
Napi::Value Exit(const Napi::CallbackInfo& info) { _exit(static_cast<int>(ArgInt(info, 0, "code", 0))); }

Napi::Value Getpid(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), getpid()); }

void Init(Napi::Env env, Napi::Object exports) {
  Napi::Object t = Napi::Object::New(env);
  t.Set("mmap", Napi::Function::New(env, Mmap, "mmap"));
  t.Set("munmap", Napi::Function::New(env, Munmap, "munmap"));
  t.Set("mremap", Napi::Function::New(env, Mremap, "mremap"));
  t.Set("madvise", Napi::Function::New(env, Madvise, "madvise"));
  t.Set("mprotect", Napi::Function::New(env, Mprotect, "mprotect"));
  t.Set("shmAttach", Napi::Function::New(env, ShmAttach, "shmAttach"));
  t.Set("shmDetach", Napi::Function::New(env, ShmDetach, "shmDetach"));
  t.Set("sbrk", Napi::Function::New(env, Sbrk, "sbrk"));
  t.Set("sbrkRelease", Napi::Function::New(env, SbrkRelease, "sbrkRelease"));
  t.Set("wrap", Napi::Function::New(env, Wrap, "wrap"));
  t.Set("pinLimit", Napi::Function::New(env, PinLimit, "pinLimit"));
  t.Set("fork", Napi::Function::New(env, Fork, "fork"));
  t.Set("waitpid", Napi::Function::New(env, Waitpid, "waitpid"));
  t.Set("exit", Napi::Function::New(env, Exit, "exit"));
  t.Set("getpid", Napi::Function::New(env, Getpid, "getpid"));

  Napi::Object c = Napi::Object::New(env);
  c.Set("pageSize", static_cast<double>(sysconf(_SC_PAGESIZE)));
  c.Set("PROT_NONE", PROT_NONE);
  c.Set("PROT_READ", PROT_READ);
  c.Set("PROT_WRITE", PROT_WRITE);
  c.Set("MAP_SHARED", MAP_SHARED);
  c.Set("MAP_PRIVATE", MAP_PRIVATE);
  c.Set("MAP_ANONYMOUS", MAP_ANONYMOUS);
  c.Set("MAP_FIXED", MAP_FIXED);
  c.Set("MAP_FIXED_NOREPLACE", MAP_FIXED_NOREPLACE);
  c.Set("MAP_POPULATE", MAP_POPULATE);
  c.Set("MREMAP_MAYMOVE", MREMAP_MAYMOVE);
  c.Set("MREMAP_FIXED", MREMAP_FIXED);
  c.Set("MADV_DONTNEED", MADV_DONTNEED);
  c.Set("MADV_FREE", MADV_FREE);
  c.Set("MADV_REMOVE", MADV_REMOVE);
  c.Set("MADV_NOHUGEPAGE", MADV_NOHUGEPAGE);
  t.Set("constants", c);
  exports.Set("testing", t);  // src/testing.ts hands this object out
}

Registrar registrar(Init);

}  // namespace
}  // namespace regcache
