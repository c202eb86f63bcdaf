// Shared helpers of the two monitor backends: argument parsing and the packed
// reports both hand to JavaScript.
#pragma once
#include <napi.h>

#include <cstdint>
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

namespace regcache::monitor {

// A bigint (or a safe-integer number) as an unsigned 64-bit value.
inline uint64_t U64Arg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  Napi::Value v = info[i];
  if (v.IsBigInt()) {
    bool lossless = true;
    uint64_t out = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) throw Napi::RangeError::New(info.Env(), std::string(what) + " must fit in 64 unsigned bits");
    return out;
  }
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= 0 && d <= 9007199254740991.0) || d != static_cast<double>(static_cast<uint64_t>(d)))
      throw Napi::RangeError::New(info.Env(), std::string(what) + " must be a non-negative safe integer");
    return static_cast<uint64_t>(d);
  }
  throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a bigint");
}

// Reports travel to JavaScript through drainInto(out), `out` a BigUint64Array
// that JavaScript allocates once: out[0] is the status (kMore: call again for
// the rest; kComplete: the drain is over and out[1] is the counter it brings
// the generation up to; kCompleteNoCounter: over, counter not known yet;
// kFailed: the drain could not finish, out[1] is the errno, and the reports
// handed out are only part of what was consumed from the kernel: the caller
// must treat every watch as invalidated), then
// four words per report: cookie, start, end, flags (kHintExact: [start, end)
// is exactly the invalidated part, else the whole watched range, hit more than
// once before this drain; kRemoved: the backend dropped the watch as it
// reported it, so no unwatch is needed). No JavaScript object is made per drain or per report: under
// the emulated test machine allocating them cost more than the read() itself.
constexpr size_t kHeaderWords = 2;
constexpr size_t kRecordWords = 4;
enum DrainStatus : uint64_t { kMore = 0, kComplete = 1, kCompleteNoCounter = 2, kFailed = 3 };
constexpr uint64_t kHintExact = 1, kRemoved = 2;  // the flags word of a report

// Test hook (native/testing/): the next read() of a drain, after `after_reads`
// successful ones, fails with `err`. Lets the tests check that a drain broken
// part way loses nothing. Single-threaded use from the JS thread only.
struct ReadFault {
  int err = 0;
  int after_reads = 0;
};
ReadFault& InjectedReadFault();

struct Record {
  uint64_t cookie, start, end, hint;
};

// A drain's reports, collected from the kernel (or the monitor thread) in one
// go and handed out a slice (as many as `out` holds) per drainInto() call.
class PendingReports {
 public:
  // True when the last drain has been handed out completely: collect a new one.
  bool Idle() const { return idle_; }

  void Begin() {
    records_.clear();
    next_ = 0;
    idle_ = false;
    counter_known_ = false;
    failed_errno_ = 0;
  }
  void Add(uint64_t cookie, uint64_t start, uint64_t end, bool hint, bool removed = false) {
    records_.push_back({cookie, start, end, (hint ? kHintExact : 0) | (removed ? kRemoved : 0)});
  }
  void SetCounter(uint64_t counter) {
    counter_ = counter;
    counter_known_ = true;
  }
  // A drain that failed half way: what was read goes out, then kFailed with
  // `err`, so the caller knows the rest was lost and invalidates everything.
  void Fail(int err) { failed_errno_ = err; }

  // Fills `out` (a BigUint64Array argument); returns the number of reports copied.
  Napi::Value CopyOut(const Napi::CallbackInfo& info, size_t arg) {
    Napi::Env env = info.Env();
    if (!info[arg].IsTypedArray() || info[arg].As<Napi::TypedArray>().TypedArrayType() != napi_biguint64_array)
      throw Napi::TypeError::New(env, "drainInto needs a BigUint64Array");
    auto out = info[arg].As<Napi::BigUint64Array>();
    size_t room = out.ElementLength() < kHeaderWords + kRecordWords ? 0 : (out.ElementLength() - kHeaderWords) / kRecordWords;
    if (room == 0) throw Napi::RangeError::New(env, "drainInto: the array must hold at least one report");
    uint64_t* words = out.Data();
    size_t n = std::min(room, records_.size() - next_);
    if (n != 0) std::memcpy(words + kHeaderWords, &records_[next_], n * sizeof(Record));
    next_ += n;
    if (next_ < records_.size()) {
      words[0] = kMore;
    } else if (failed_errno_ != 0) {
      words[0] = kFailed;
      words[1] = static_cast<uint64_t>(failed_errno_);
      idle_ = true;
    } else {
      words[0] = counter_known_ ? kComplete : kCompleteNoCounter;
      words[1] = counter_;
      idle_ = true;
    }
    return Napi::Number::New(env, static_cast<double>(n));
  }

 private:
  std::vector<Record> records_;
  size_t next_ = 0;
  bool idle_ = true;
  bool counter_known_ = false;
  uint64_t counter_ = 0;
  int failed_errno_ = 0;
};
static_assert(sizeof(Record) == kRecordWords * sizeof(uint64_t), "a Record is four packed words");

}  // namespace regcache::monitor
