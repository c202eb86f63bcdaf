// The PMIx client binding: init, put, commit, fence, get, finalize.
//
// libpmix is optional at run time: the addon never links it. The first
// load() opens libpmix.so.2 (or the path given) with dlopen and resolves the
// few entry points used here with dlsym; pmix.h supplies only types and
// constants. Without pmix.h at build time (REGCACHE_HAVE_PMIX unset) the
// binding exists but reports `built: false`, and load() says why.
//
// PMIx is process-wide state, so is this binding's: one session per process,
// owned by the environment (main thread or worker) that initialised it.
//
// fence() and get() may block for as long as other processes take, so each
// runs on a thread of its own and settles its promise through a
// thread-safe function; the JS thread never waits. finalize() (or the
// environment's cleanup hook, the backstop when JavaScript never called it)
// settles whatever is still pending with an error and lets those threads go.
#include <napi.h>

#include <string>

#include "addon.h"

#ifdef REGCACHE_HAVE_PMIX
#include <dlfcn.h>
#include <pmix.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <system_error>
#include <thread>
#endif

namespace regcache {
namespace {

#ifdef REGCACHE_HAVE_PMIX

// Entry points, typed from pmix.h's declarations (decltype only: no link-time
// reference to libpmix).
struct Api {
  decltype(&PMIx_Init) Init = nullptr;
  decltype(&PMIx_Finalize) Finalize = nullptr;
  decltype(&PMIx_Put) Put = nullptr;
  decltype(&PMIx_Commit) Commit = nullptr;
  decltype(&PMIx_Fence) Fence = nullptr;
  decltype(&PMIx_Get) Get = nullptr;
  decltype(&PMIx_Error_string) ErrorString = nullptr;
  decltype(&PMIx_Value_destruct) ValueDestruct = nullptr;
  decltype(&PMIx_Get_version) GetVersion = nullptr;
};

struct Op;

struct Session {
  void* handle = nullptr;  // dlopen handle, kept for the life of the process
  std::string libraryPath;
  Api api;
  bool initialized = false;
  bool finalized = false;
  pmix_proc_t self{};
  uint32_t size = 0;
  napi_env owner = nullptr;  // the environment whose cleanup hook finalizes
  std::set<std::shared_ptr<Op>> pending;  // touched on the owner's JS thread only
};

Session& S() {
  static Session* s = new Session();  // never destroyed: threads left waiting may outlive exit()
  return *s;
}

// A blocking call on its own thread.
struct Op {
  enum Kind { kFence, kGet } kind;
  const char* call;  // "PMIx_Fence", "PMIx_Get"
  pmix_proc_t proc{};
  std::string key;
  bool collect = false;
  int timeoutSec = 0;
  // Filled on the op's thread, read on the JS thread after the call returned.
  pmix_status_t status = PMIX_SUCCESS;
  std::string bytes;
  int valueType = 0;
  // JS thread only.
  Napi::Promise::Deferred deferred;
  Napi::ThreadSafeFunction tsfn;
  bool settled = false;
  explicit Op(Napi::Env env, Kind k) : kind(k), call(k == kFence ? "PMIx_Fence" : "PMIx_Get"), deferred(env) {}
};

// PMIx_Error_string's text ("UNREACHABLE", "NOT-FOUND").
std::string Description(pmix_status_t status) {
  Session& s = S();
  const char* text = s.api.ErrorString ? s.api.ErrorString(status) : nullptr;
  return text ? text : "";
}

// The status's name in pmix_common.h, the stable `code` of a PmixError
// (PMIx_Error_string's wording is not); the statuses these calls return.
std::string CodeOf(pmix_status_t status) {
#define REGCACHE_PMIX_NAME(c) \
  case c: return #c;
  switch (status) {
    REGCACHE_PMIX_NAME(PMIX_ERROR)
    REGCACHE_PMIX_NAME(PMIX_ERR_EXISTS)
    REGCACHE_PMIX_NAME(PMIX_ERR_INVALID_CRED)
    REGCACHE_PMIX_NAME(PMIX_ERR_WOULD_BLOCK)
    REGCACHE_PMIX_NAME(PMIX_ERR_UNKNOWN_DATA_TYPE)
    REGCACHE_PMIX_NAME(PMIX_ERR_TYPE_MISMATCH)
    REGCACHE_PMIX_NAME(PMIX_ERR_UNPACK_FAILURE)
    REGCACHE_PMIX_NAME(PMIX_ERR_PACK_FAILURE)
    REGCACHE_PMIX_NAME(PMIX_ERR_NO_PERMISSIONS)
    REGCACHE_PMIX_NAME(PMIX_ERR_TIMEOUT)
    REGCACHE_PMIX_NAME(PMIX_ERR_UNREACH)
    REGCACHE_PMIX_NAME(PMIX_ERR_BAD_PARAM)
    REGCACHE_PMIX_NAME(PMIX_ERR_RESOURCE_BUSY)
    REGCACHE_PMIX_NAME(PMIX_ERR_OUT_OF_RESOURCE)
    REGCACHE_PMIX_NAME(PMIX_ERR_INIT)
    REGCACHE_PMIX_NAME(PMIX_ERR_NOMEM)
    REGCACHE_PMIX_NAME(PMIX_ERR_NOT_FOUND)
    REGCACHE_PMIX_NAME(PMIX_ERR_NOT_SUPPORTED)
    REGCACHE_PMIX_NAME(PMIX_ERR_COMM_FAILURE)
    REGCACHE_PMIX_NAME(PMIX_ERR_PARTIAL_SUCCESS)
    REGCACHE_PMIX_NAME(PMIX_ERR_DUPLICATE_KEY)
    REGCACHE_PMIX_NAME(PMIX_ERR_EMPTY)
    REGCACHE_PMIX_NAME(PMIX_ERR_LOST_CONNECTION)
    REGCACHE_PMIX_NAME(PMIX_ERR_INVALID_OPERATION)
    REGCACHE_PMIX_NAME(PMIX_ERR_PROC_REQUESTED_ABORT)
    REGCACHE_PMIX_NAME(PMIX_ERR_PROC_TERM_WO_SYNC)
    REGCACHE_PMIX_NAME(PMIX_ERR_JOB_TERM_WO_SYNC)
    REGCACHE_PMIX_NAME(PMIX_ERR_JOB_ABORTED)
    REGCACHE_PMIX_NAME(PMIX_ERR_JOB_CANCELED)
    default: break;
  }
#undef REGCACHE_PMIX_NAME
  std::string text = Description(status);
  return text.empty() ? "PMIX_STATUS_" + std::to_string(status) : text;
}

// PmixError(status, call, code, detail, description) through the class src/native.ts hands over.
Napi::Error PmixError(Napi::Env env, pmix_status_t status, const char* call, std::string detail = "") {
  if (status == PMIX_ERR_UNREACH || status == PMIX_ERR_LOST_CONNECTION || status == PMIX_ERR_COMM_FAILURE)
    detail += std::string(detail.empty() ? "" : "; ") + "the PMIx server (the launcher's daemon) is unreachable or gone";
  Napi::FunctionReference& cls = Data(env).pmixErrorClass;
  std::string code = CodeOf(status);
  std::string text = Description(status);
  if (cls.IsEmpty()) {
    Napi::Error err = Napi::Error::New(env, std::string(call) + " failed: " + code + (detail.empty() ? "" : " (" + detail + ")"));
    err.Set("pmixStatus", Napi::Number::New(env, status));
    return err;
  }
  Napi::Object obj = cls.New({Napi::Number::New(env, status), Napi::String::New(env, call), Napi::String::New(env, code),
                              detail.empty() ? env.Undefined() : Napi::Value(Napi::String::New(env, detail)),
                              text.empty() ? env.Undefined() : Napi::Value(Napi::String::New(env, text))});
  return Napi::Error(env, obj);
}

[[noreturn]] void ThrowPmix(Napi::Env env, pmix_status_t status, const char* call, const std::string& detail = "") {
  throw PmixError(env, status, call, detail);
}

void RequireSession(Napi::Env env, const char* call) {
  Session& s = S();
  if (s.finalized) ThrowPmix(env, PMIX_ERR_INIT, call, "PMIx was finalized in this process");
  if (!s.initialized) ThrowPmix(env, PMIX_ERR_INIT, call, "call init() first");
  if (s.owner != static_cast<napi_env>(env))
    ThrowPmix(env, PMIX_ERR_INIT, call, "PMIx was initialised by another thread of this process");
}

std::string ArgKey(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsString()) throw Napi::TypeError::New(info.Env(), "key must be a string");
  std::string key = info[i].As<Napi::String>().Utf8Value();
  if (key.empty()) throw Napi::RangeError::New(info.Env(), "key must not be empty");
  if (key.size() > PMIX_MAX_KEYLEN)
    throw Napi::RangeError::New(info.Env(), "key must be at most " + std::to_string(PMIX_MAX_KEYLEN) + " bytes (PMIX_MAX_KEYLEN)");
  if (key.find('\0') != std::string::npos) throw Napi::TypeError::New(info.Env(), "key must not contain NUL characters");
  return key;
}

// Optional timeout in whole seconds (PMIX_TIMEOUT's unit); 0 or undefined: none.
int ArgTimeout(const Napi::CallbackInfo& info, size_t i) {
  if (info[i].IsUndefined()) return 0;
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), "timeout must be a number of seconds");
  double t = info[i].As<Napi::Number>().DoubleValue();
  if (!(t >= 0 && t <= INT_MAX) || static_cast<int>(t) != t)
    throw Napi::RangeError::New(info.Env(), "timeout must be a whole number of seconds >= 0");
  return static_cast<int>(t);
}

void LoadKey(char* dst, const char* key) {
  std::memset(dst, 0, PMIX_MAX_KEYLEN + 1);
  std::strncpy(dst, key, PMIX_MAX_KEYLEN);
}

void InfoBool(pmix_info_t* info, const char* key, bool v) {
  std::memset(info, 0, sizeof *info);
  LoadKey(info->key, key);
  info->value.type = PMIX_BOOL;
  info->value.data.flag = v;
}

void InfoInt(pmix_info_t* info, const char* key, int v) {
  std::memset(info, 0, sizeof *info);
  LoadKey(info->key, key);
  info->value.type = PMIX_INT;
  info->value.data.integer = v;
}

// A value returned by PMIx_Get is malloc'd by libpmix: destruct its data, then free it.
struct ValueDeleter {
  void operator()(pmix_value_t* v) const {
    if (S().api.ValueDestruct) S().api.ValueDestruct(v);
    std::free(v);
  }
};
using ValuePtr = std::unique_ptr<pmix_value_t, ValueDeleter>;

// Integer-typed values as a double (every PMIx count and rank fits).
bool NumberOf(const pmix_value_t* v, double* out) {
  switch (v->type) {
    case PMIX_UINT8: *out = v->data.uint8; return true;
    case PMIX_UINT16: *out = v->data.uint16; return true;
    case PMIX_UINT32: *out = v->data.uint32; return true;
    case PMIX_UINT64: *out = static_cast<double>(v->data.uint64); return true;
    case PMIX_UINT: *out = v->data.uint; return true;
    case PMIX_INT8: *out = v->data.int8; return true;
    case PMIX_INT16: *out = v->data.int16; return true;
    case PMIX_INT32: *out = v->data.int32; return true;
    case PMIX_INT64: *out = static_cast<double>(v->data.int64); return true;
    case PMIX_INT: *out = v->data.integer; return true;
    case PMIX_SIZE: *out = static_cast<double>(v->data.size); return true;
    case PMIX_PROC_RANK: *out = v->data.rank; return true;
    default: return false;
  }
}

// Job-level keys live under the wildcard rank; per-process keys under the process.
ValuePtr GetLocal(const pmix_proc_t& proc, const char* key, pmix_status_t* status) {
  Session& s = S();
  pmix_info_t opt;
  InfoBool(&opt, PMIX_OPTIONAL, true);  // local data store only: never wait
  pmix_value_t* val = nullptr;
  *status = s.api.Get(&proc, key, &opt, 1, &val);
  if (*status != PMIX_SUCCESS) return nullptr;
  return ValuePtr(val);
}

bool GetNumber(const pmix_proc_t& proc, const char* key, double* out, pmix_status_t* status) {
  ValuePtr v = GetLocal(proc, key, status);
  if (!v) return false;
  if (!NumberOf(v.get(), out)) {
    *status = PMIX_ERR_TYPE_MISMATCH;
    return false;
  }
  return true;
}

// ---- load(path) -> { ok: true, version, path } | { ok: false, error } ----

Napi::Value Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw Napi::TypeError::New(env, "library path must be a string");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  Session& s = S();
  Napi::Object out = Napi::Object::New(env);
  if (!s.handle) {
    dlerror();
    void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      const char* e = dlerror();
      out.Set("ok", false);
      out.Set("error", e ? e : ("dlopen " + path + " failed").c_str());
      return out;
    }
    Api api;
    std::string missing;
    auto sym = [&](const char* name) {
      void* p = dlsym(h, name);
      if (!p) missing += (missing.empty() ? "" : ", ") + std::string(name);
      return p;
    };
    api.Init = reinterpret_cast<decltype(api.Init)>(sym("PMIx_Init"));
    api.Finalize = reinterpret_cast<decltype(api.Finalize)>(sym("PMIx_Finalize"));
    api.Put = reinterpret_cast<decltype(api.Put)>(sym("PMIx_Put"));
    api.Commit = reinterpret_cast<decltype(api.Commit)>(sym("PMIx_Commit"));
    api.Fence = reinterpret_cast<decltype(api.Fence)>(sym("PMIx_Fence"));
    api.Get = reinterpret_cast<decltype(api.Get)>(sym("PMIx_Get"));
    api.ErrorString = reinterpret_cast<decltype(api.ErrorString)>(sym("PMIx_Error_string"));
    api.ValueDestruct = reinterpret_cast<decltype(api.ValueDestruct)>(sym("PMIx_Value_destruct"));
    api.GetVersion = reinterpret_cast<decltype(api.GetVersion)>(sym("PMIx_Get_version"));
    if (!missing.empty()) {
      dlclose(h);
      out.Set("ok", false);
      out.Set("error", path + " lacks " + missing + " (not a PMIx 4 client library?)");
      return out;
    }
    s.handle = h;
    s.libraryPath = path;
    s.api = api;
  }
  out.Set("ok", true);
  out.Set("path", s.libraryPath);
  const char* version = s.api.GetVersion();
  out.Set("version", version ? version : "");
  return out;
}

// ---- finalize: explicit, or the cleanup hook's backstop ----

// Rejects every pending operation (JS thread of the owner) with a ClosedError,
// as every object of the library does with what is pending at close(), and
// unrefs its thread-safe function, so a thread still blocked in libpmix keeps
// nothing alive.
void AbandonPending(Napi::Env env) {
  Session& s = S();
  auto pending = std::move(s.pending);
  s.pending.clear();
  Napi::FunctionReference& closed = Data(env).closedClass;
  for (const auto& op : pending) {
    if (op->settled) continue;
    op->settled = true;
    std::string detail = std::string("was finalized while ") + op->call + " was pending";
    Napi::Value err = closed.IsEmpty()
                          ? PmixError(env, PMIX_ERR_INIT, op->call, detail).Value()
                          : closed.New({Napi::String::New(env, "Pmix"), Napi::String::New(env, detail)});
    op->deferred.Reject(err);
    op->tsfn.Unref(env);
  }
}

void CleanupHook(void*);

pmix_status_t FinalizeSession() {
  Session& s = S();
  if (!s.initialized || s.finalized) return PMIX_SUCCESS;
  s.finalized = true;
  s.initialized = false;
  if (s.owner) napi_remove_env_cleanup_hook(s.owner, CleanupHook, nullptr);
  s.owner = nullptr;
  return s.api.Finalize(nullptr, 0);
}

// Environment teardown without finalize(): JavaScript can no longer run, so
// pending promises are dropped as they are; their threads stay blocked until exit.
void CleanupHook(void*) {
  Session& s = S();
  s.owner = nullptr;  // Node drops the hook after this call
  s.pending.clear();
  FinalizeSession();
}

Napi::Value Finalize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Session& s = S();
  if (!s.initialized || s.finalized) return env.Undefined();
  if (s.owner != static_cast<napi_env>(env))
    ThrowPmix(env, PMIX_ERR_INIT, "PMIx_Finalize", "PMIx was initialised by another thread of this process");
  AbandonPending(env);
  pmix_status_t rc = FinalizeSession();
  if (rc != PMIX_SUCCESS) ThrowPmix(env, rc, "PMIx_Finalize");
  return env.Undefined();
}

// ---- init() -> { namespace, rank, size, localRank, localSize, nodeRank?, hostname } ----

Napi::Value Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Session& s = S();
  if (!s.handle) ThrowPmix(env, PMIX_ERR_INIT, "PMIx_Init", "libpmix is not loaded (call load() first)");
  if (s.finalized) ThrowPmix(env, PMIX_ERR_INIT, "PMIx_Init", "PMIx was finalized in this process");
  if (s.initialized && s.owner != static_cast<napi_env>(env))
    ThrowPmix(env, PMIX_ERR_INIT, "PMIx_Init", "PMIx was initialised by another thread of this process");
  if (!s.initialized) {
    pmix_proc_t self{};
    pmix_status_t rc = s.api.Init(&self, nullptr, 0);
    if (rc != PMIX_SUCCESS) ThrowPmix(env, rc, "PMIx_Init");
    s.self = self;
    s.initialized = true;
    s.owner = env;
    napi_add_env_cleanup_hook(env, CleanupHook, nullptr);
  }

  pmix_proc_t wildcard = s.self;
  wildcard.rank = PMIX_RANK_WILDCARD;
  pmix_status_t rc;
  double size = 0, localSize = 0, localRank = 0, nodeRank = 0;
  if (!GetNumber(wildcard, PMIX_JOB_SIZE, &size, &rc)) ThrowPmix(env, rc, "PMIx_Get", PMIX_JOB_SIZE);
  if (!GetNumber(wildcard, PMIX_LOCAL_SIZE, &localSize, &rc)) ThrowPmix(env, rc, "PMIx_Get", PMIX_LOCAL_SIZE);
  if (!GetNumber(s.self, PMIX_LOCAL_RANK, &localRank, &rc)) ThrowPmix(env, rc, "PMIx_Get", PMIX_LOCAL_RANK);
  bool haveNodeRank = GetNumber(s.self, PMIX_NODE_RANK, &nodeRank, &rc);
  std::string hostname;
  if (ValuePtr v = GetLocal(s.self, PMIX_HOSTNAME, &rc); v && v->type == PMIX_STRING && v->data.string) {
    hostname = v->data.string;
  } else {
    char buf[256] = {0};
    if (gethostname(buf, sizeof buf - 1) == 0) hostname = buf;
  }
  s.size = static_cast<uint32_t>(size);

  Napi::Object out = Napi::Object::New(env);
  out.Set("namespace", Napi::String::New(env, s.self.nspace));
  out.Set("rank", Napi::Number::New(env, s.self.rank));
  out.Set("size", Napi::Number::New(env, size));
  out.Set("localRank", Napi::Number::New(env, localRank));
  out.Set("localSize", Napi::Number::New(env, localSize));
  if (haveNodeRank) out.Set("nodeRank", Napi::Number::New(env, nodeRank));
  out.Set("hostname", Napi::String::New(env, hostname));
  return out;
}

// ---- put(key, value: Uint8Array | string), commit() ----

Napi::Value Put(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string key = ArgKey(info, 0);
  Napi::Value value = info[1];
  pmix_value_t v;
  std::memset(&v, 0, sizeof v);
  std::string text;
  if (value.IsString()) {
    text = value.As<Napi::String>().Utf8Value();
    if (text.find('\0') != std::string::npos)
      throw Napi::TypeError::New(env, "a string value must not contain NUL characters (put a Uint8Array instead)");
    v.type = PMIX_STRING;
    v.data.string = text.data();
  } else if (value.IsTypedArray() || value.IsDataView()) {
    size_t length = 0, offset = 0;
    Napi::ArrayBuffer buf;
    if (value.IsTypedArray()) {
      auto ta = value.As<Napi::TypedArray>();
      length = ta.ByteLength();
      offset = ta.ByteOffset();
      buf = ta.ArrayBuffer();
    } else {
      auto dv = value.As<Napi::DataView>();
      length = dv.ByteLength();
      offset = dv.ByteOffset();
      buf = dv.ArrayBuffer();
    }
    v.type = PMIX_BYTE_OBJECT;
    v.data.bo.bytes = length ? static_cast<char*>(buf.Data()) + offset : nullptr;
    v.data.bo.size = length;
  } else {
    throw Napi::TypeError::New(env, "value must be a Uint8Array or a string");
  }
  RequireSession(env, "PMIx_Put");
  // PMIx_Put copies the value.
  pmix_status_t rc = S().api.Put(PMIX_GLOBAL, key.c_str(), &v);
  if (rc != PMIX_SUCCESS) ThrowPmix(env, rc, "PMIx_Put", key);
  return env.Undefined();
}

Napi::Value Commit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireSession(env, "PMIx_Commit");
  pmix_status_t rc = S().api.Commit();
  if (rc != PMIX_SUCCESS) ThrowPmix(env, rc, "PMIx_Commit");
  return env.Undefined();
}

// ---- fence(collect, timeoutSec?) and get(rank, key, timeoutSec?): promises ----

void RunOp(std::shared_ptr<Op> op) {
  Session& s = S();
  pmix_info_t infos[2];
  size_t n = 0;
  if (op->kind == Op::kFence) {
    if (op->collect) InfoBool(&infos[n++], PMIX_COLLECT_DATA, true);
    if (op->timeoutSec > 0) InfoInt(&infos[n++], PMIX_TIMEOUT, op->timeoutSec);
    // All processes of this job (the job's wildcard rank).
    op->status = s.api.Fence(&op->proc, 1, n ? infos : nullptr, n);
  } else {
    if (op->timeoutSec > 0) InfoInt(&infos[n++], PMIX_TIMEOUT, op->timeoutSec);
    pmix_value_t* val = nullptr;
    op->status = s.api.Get(&op->proc, op->key.c_str(), n ? infos : nullptr, n, &val);
    if (op->status == PMIX_SUCCESS && val) {
      ValuePtr v(val);
      op->valueType = v->type;
      if (v->type == PMIX_BYTE_OBJECT) {
        if (v->data.bo.size) op->bytes.assign(v->data.bo.bytes, v->data.bo.size);
      } else if (v->type == PMIX_STRING) {
        if (v->data.string) op->bytes = v->data.string;
      }
    }
  }
  // Back to the JS thread (napi_closing after teardown: nothing to settle then).
  auto settle = [op](Napi::Env env, Napi::Function) {
    Session& s = S();
    s.pending.erase(op);
    if (op->settled) return;
    op->settled = true;
    if (op->status != PMIX_SUCCESS) {
      std::string detail = op->kind == Op::kGet ? op->key + " of rank " + std::to_string(op->proc.rank) : "";
      op->deferred.Reject(PmixError(env, op->status, op->call, detail).Value());
    } else if (op->kind == Op::kFence) {
      op->deferred.Resolve(env.Undefined());
    } else if (op->valueType == PMIX_BYTE_OBJECT || op->valueType == PMIX_STRING) {
      op->deferred.Resolve(Napi::Buffer<char>::Copy(env, op->bytes.data(), op->bytes.size()));
    } else {
      op->deferred.Reject(PmixError(env, PMIX_ERR_TYPE_MISMATCH, op->call,
                                    op->key + " holds PMIx data type " + std::to_string(op->valueType) +
                                        ", not bytes or a string")
                              .Value());
    }
  };
  op->tsfn.BlockingCall(settle);
  op->tsfn.Release();
}

Napi::Value Start(Napi::Env env, std::shared_ptr<Op> op) {
  Session& s = S();
  op->tsfn = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}),
                                           op->call, 0, 1);
  s.pending.insert(op);
  try {
    std::thread(RunOp, op).detach();
  } catch (const std::system_error& e) {
    s.pending.erase(op);
    op->tsfn.Release();
    ThrowPmix(env, PMIX_ERR_OUT_OF_RESOURCE, op->call, std::string("cannot start a thread: ") + e.what());
  }
  return op->deferred.Promise();
}

Napi::Value Fence(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsBoolean()) throw Napi::TypeError::New(env, "collectData must be a boolean");
  int timeout = ArgTimeout(info, 1);
  RequireSession(env, "PMIx_Fence");
  auto op = std::make_shared<Op>(env, Op::kFence);
  op->proc = S().self;
  op->proc.rank = PMIX_RANK_WILDCARD;
  op->collect = info[0].As<Napi::Boolean>().Value();
  op->timeoutSec = timeout;
  return Start(env, op);
}

Napi::Value Get(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "rank must be a number");
  double rank = info[0].As<Napi::Number>().DoubleValue();
  std::string key = ArgKey(info, 1);
  int timeout = ArgTimeout(info, 2);
  RequireSession(env, "PMIx_Get");
  Session& s = S();
  if (!(rank >= 0 && rank < s.size) || static_cast<uint32_t>(rank) != rank)
    throw Napi::RangeError::New(env, "rank must be an integer in [0, " + std::to_string(s.size) + ")");
  auto op = std::make_shared<Op>(env, Op::kGet);
  op->proc = s.self;
  op->proc.rank = static_cast<pmix_rank_t>(rank);
  op->key = key;
  op->timeoutSec = timeout;
  return Start(env, op);
}

Napi::Value ErrorName(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "status must be a number");
  if (!S().api.ErrorString) return env.Undefined();
  return Napi::String::New(env, Description(info[0].As<Napi::Number>().Int32Value()));
}

#else  // !REGCACHE_HAVE_PMIX

constexpr const char* kNotBuilt =
    "rdma-regcache was built without PMIx: pmix.h was not found at build time "
    "(install libpmix-dev (Debian/Ubuntu) or pmix-devel (RHEL/Fedora) and rebuild)";

Napi::Value Load(const Napi::CallbackInfo& info) {
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("ok", false);
  out.Set("error", kNotBuilt);
  return out;
}

// Every other call: PmixError ERR_PMIX_UNAVAILABLE (PMIX_ERR_NOT_SUPPORTED's number, -47).
Napi::Value NotBuilt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::FunctionReference& cls = Data(env).pmixErrorClass;
  if (cls.IsEmpty()) throw Napi::Error::New(env, kNotBuilt);
  throw Napi::Error(env, cls.New({Napi::Number::New(env, -47), Napi::String::New(env, "dlopen"),
                                  Napi::String::New(env, "ERR_PMIX_UNAVAILABLE"), Napi::String::New(env, kNotBuilt)}));
}

Napi::Value ErrorName(const Napi::CallbackInfo& info) { return info.Env().Undefined(); }

#endif  // REGCACHE_HAVE_PMIX

Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  if (!info[0].IsFunction()) throw Napi::TypeError::New(info.Env(), "error class must be a function");
  Data(info.Env()).pmixErrorClass = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

void InitPmix(Napi::Env env, Napi::Object exports) {
  Napi::Object pmix = Napi::Object::New(env);
  pmix.Set("setErrorClass", Napi::Function::New(env, SetErrorClass, "setErrorClass"));
#ifdef REGCACHE_HAVE_PMIX
  pmix.Set("built", true);
  pmix.Set("headerVersion", Napi::String::New(env, std::to_string(PMIX_VERSION_MAJOR) + "." +
                                                       std::to_string(PMIX_VERSION_MINOR) + "." +
                                                       std::to_string(PMIX_VERSION_RELEASE)));
  pmix.Set("load", Napi::Function::New(env, Load, "load"));
  pmix.Set("init", Napi::Function::New(env, Init, "init"));
  pmix.Set("put", Napi::Function::New(env, Put, "put"));
  pmix.Set("commit", Napi::Function::New(env, Commit, "commit"));
  pmix.Set("fence", Napi::Function::New(env, Fence, "fence"));
  pmix.Set("get", Napi::Function::New(env, Get, "get"));
  pmix.Set("finalize", Napi::Function::New(env, Finalize, "finalize"));
#else
  pmix.Set("built", false);
  pmix.Set("headerVersion", env.Null());
  pmix.Set("load", Napi::Function::New(env, Load, "load"));
  for (const char* name : {"init", "put", "commit", "fence", "get", "finalize"})
    pmix.Set(name, Napi::Function::New(env, NotBuilt, name));
#endif
  // PMIX_MAX_KEYLEN is part of the PMIx standard (511), header or not.
  pmix.Set("maxKeyLength", Napi::Number::New(env, 511));
  pmix.Set("errorName", Napi::Function::New(env, ErrorName, "errorName"));
  exports.Set("pmix", pmix);
}

Registrar registrar(InitPmix);

}  // namespace
}  // namespace regcache
