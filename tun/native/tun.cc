// Linux TUN device for Node.js (N-API, node-addon-api, C++ exceptions disabled).
//
// JS contract (wrapped by tun/linux.ts; nothing else should load this addon):
//
//   new TunDevice(name: string, mtu: number, netns: string)
//     Opens /dev/net/tun (O_RDWR | O_NONBLOCK | O_CLOEXEC) and attaches it to a layer-3
//     interface `name` (TUNSETIFF, IFF_TUN | IFF_NO_PI; "%d" patterns allowed). The device
//     is not persistent: it disappears when the fd closes. mtu > 0 sets the MTU
//     (SIOCSIFMTU); 0 keeps the kernel's value. netns != "" creates the interface inside
//     that network namespace (a name under /var/run/netns, or a path when it contains
//     '/'): the calling thread enters it for the open and returns before the constructor
//     ends. Addresses and link state are left to the caller (`ip`).
//     Throws Error("tun <name>: <step>: <strerror>") with .code (e.g. "EPERM") and .errno.
//   .name: string, .mtu: number        as the kernel reports them after the open.
//   .start(onBatch, onError)            begins watching the fd with uv_poll (readable).
//     onBatch(slab: ArrayBuffer, lengths: number[]) is called once per wake-up with up to
//     kBatch packets read back to back into one fresh slab (never reused); EAGAIN ends a
//     batch. onError(err) is called once if polling or reading fails; polling then stops.
//     Calling start again only replaces the callbacks.
//   .write(packets: Buffer[]): number  writes each packet with one write(2) and returns
//     how many the kernel accepted. Packets that are empty, longer than .mtu, or refused by
//     the kernel (EINVAL for a non-IP first nibble, EAGAIN, EIO, ...) are dropped, never
//     thrown. Throws only if the device is closed or the argument is not an array.
//   .close()                            stops polling and closes the fd. Idempotent. No
//     callback runs after close() returns.
//
// Idle cost is zero: the only wake-ups are epoll readiness events of the fd.

#include <napi.h>
#include <uv.h>

#include "../../common/native/napi-fd.h"

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

constexpr int kBatch = 64;         // packets read per wake-up at most
constexpr size_t kFrame = 65536;   // room offered to each read(2): no IP packet is larger

using topvpn::ErrnoError;

// Queries (mtu == 0) or sets the MTU of `name` in the calling thread's network namespace.
// Returns the MTU now in force, or -errno.
int IfMtu(const char* name, int mtu) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -errno;
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  std::memcpy(ifr.ifr_name, name, strnlen(name, IFNAMSIZ - 1));  // ifr zeroed: stays terminated
  int rc = 0;
  if (mtu > 0) {
    ifr.ifr_mtu = mtu;
    if (ioctl(s, SIOCSIFMTU, &ifr) < 0) rc = -errno;
  }
  if (rc == 0) rc = ioctl(s, SIOCGIFMTU, &ifr) < 0 ? -errno : ifr.ifr_mtu;
  close(s);
  return rc;
}

class TunDevice : public Napi::ObjectWrap<TunDevice> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "TunDevice",
                       {InstanceMethod<&TunDevice::Start>("start"),
                        InstanceMethod<&TunDevice::Write>("write"),
                        InstanceMethod<&TunDevice::Close>("close")});
  }

  explicit TunDevice(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TunDevice>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsString()) {
      Napi::TypeError::New(env, "TunDevice(name: string, mtu: number, netns: string)").ThrowAsJavaScriptException();
      return;
    }
    std::string name = info[0].As<Napi::String>();
    int mtu = info[1].As<Napi::Number>().Int32Value();
    std::string netns = info[2].As<Napi::String>();
    const std::string what = "tun " + name;
    if (name.empty() || name.size() >= IFNAMSIZ) {
      Napi::Error e = Napi::Error::New(env, what + ": interface name must be 1.." + std::to_string(IFNAMSIZ - 1) + " characters");
      e.Set("code", Napi::String::New(env, "ENAMETOOLONG"));
      e.ThrowAsJavaScriptException();
      return;
    }
    if (mtu < 0 || mtu > 65535) {
      Napi::RangeError::New(env, what + ": mtu must be 0..65535").ThrowAsJavaScriptException();
      return;
    }

    // Enter the target namespace on this thread only; every path below returns to `home`.
    int home = -1;
    if (!netns.empty()) {
      std::string path = netns.find('/') == std::string::npos ? "/var/run/netns/" + netns : netns;
      int target = open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (target < 0) { ErrnoError(env, what + ": open netns " + path, errno).ThrowAsJavaScriptException(); return; }
      home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
      if (home < 0) {
        int err = errno;
        close(target);
        { ErrnoError(env, what + ": open own netns", err).ThrowAsJavaScriptException(); return; }
      }
      int rc = setns(target, CLONE_NEWNET);
      int err = errno;
      close(target);
      if (rc < 0) {
        close(home);
        { ErrnoError(env, what + ": setns " + path, err).ThrowAsJavaScriptException(); return; }
      }
    }

    std::string step;
    int err = 0;
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    struct ifreq ifr;
    std::memset(&ifr, 0, sizeof ifr);
    if (fd < 0) {
      step = "open /dev/net/tun";
      err = errno;
    } else {
      ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
      std::memcpy(ifr.ifr_name, name.data(), name.size());  // size < IFNAMSIZ checked above
      if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        step = "TUNSETIFF";
        err = errno;
      } else {
        int got = IfMtu(ifr.ifr_name, mtu);
        if (got < 0) {
          step = mtu > 0 ? "set mtu " + std::to_string(mtu) : "get mtu";
          err = -got;
        } else {
          mtu_ = got;
        }
      }
    }

    if (home >= 0) {
      // Staying in the wrong namespace would silently misroute every later socket of
      // this thread; there is no safe way to continue.
      if (setns(home, CLONE_NEWNET) < 0) Napi::Error::Fatal("tun", "cannot return to the original network namespace");
      close(home);
    }
    if (err != 0) {
      if (fd >= 0) close(fd);
      { ErrnoError(env, what + ": " + step, err).ThrowAsJavaScriptException(); return; }
    }
    fd_ = fd;
    name_ = ifr.ifr_name;
    Value().Set("name", Napi::String::New(env, name_));
    Value().Set("mtu", Napi::Number::New(env, mtu_));
  }

  ~TunDevice() override {
    // Only reachable when not polling (a running poll holds a reference to this object).
    if (fd_ >= 0) close(fd_);
    delete[] scratch_;
  }

 private:
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsFunction() || !info[1].IsFunction()) {
      Napi::TypeError::New(env, "start(onBatch, onError)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (fd_ < 0) {
      Napi::Error::New(env, "tun " + name_ + ": device is closed").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    on_batch_ = Napi::Persistent(info[0].As<Napi::Function>());
    on_error_ = Napi::Persistent(info[1].As<Napi::Function>());
    if (poll_ != nullptr || failed_) return env.Undefined();

    int rc = topvpn::StartPoll(env, fd_, UV_READABLE, OnPoll, this, &poll_);
    if (rc != 0) {
      topvpn::UvError(env, "tun " + name_ + ": uv_poll", rc).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (scratch_ == nullptr) scratch_ = new uint8_t[kBatch * kFrame];  // untouched pages stay unmapped
    async_ = std::make_unique<Napi::AsyncContext>(env, "TunRead");
    Ref();  // released in OnClosed: keeps this object alive while libuv points at it
    return env.Undefined();
  }

  Napi::Value Write(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (fd_ < 0) {
      Napi::Error::New(env, "tun " + name_ + ": device is closed").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (info.Length() < 1 || !info[0].IsArray()) {
      Napi::TypeError::New(env, "write(packets: Buffer[])").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::Array arr = info[0].As<Napi::Array>();
    uint32_t n = arr.Length();
    uint32_t accepted = 0;
    for (uint32_t i = 0; i < n; i++) {
      Napi::Value v = arr.Get(i);
      if (!v.IsTypedArray()) continue;
      Napi::TypedArray ta = v.As<Napi::TypedArray>();
      size_t len = ta.ByteLength();
      if (len == 0 || len > static_cast<size_t>(mtu_)) continue;
      const uint8_t* data = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
      ssize_t w;
      do w = ::write(fd_, data, len);
      while (w < 0 && errno == EINTR);
      if (w == static_cast<ssize_t>(len)) accepted++;
    }
    return Napi::Number::New(env, accepted);
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown();
    return info.Env().Undefined();
  }

  // Stops the poll (removing the fd from epoll) before closing the fd, as libuv requires.
  void Shutdown() {
    topvpn::StopPoll(poll_, OnClosed);
    if (fd_ >= 0) {
      close(fd_);
      fd_ = -1;
    }
  }

  static void OnClosed(uv_handle_t* h) {
    TunDevice* self = static_cast<TunDevice*>(h->data);
    topvpn::FreePoll(h);
    self->on_batch_.Reset();
    self->on_error_.Reset();
    self->async_.reset();
    self->Unref();
  }

  static void OnPoll(uv_poll_t* h, int status, int /*events*/) {
    TunDevice* self = static_cast<TunDevice*>(h->data);
    if (self->fd_ < 0) return;
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    if (status < 0) return self->Fail("poll", 0, status);

    size_t off = 0;
    int count = 0;
    uint32_t lengths[kBatch];
    int err = 0;
    while (count < kBatch) {
      ssize_t r = read(self->fd_, self->scratch_ + off, kFrame);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) err = errno;
        break;
      }
      if (r == 0) break;
      lengths[count++] = static_cast<uint32_t>(r);
      off += static_cast<size_t>(r);
    }
    if (count > 0) {
      Napi::ArrayBuffer slab = Napi::ArrayBuffer::New(env, off);
      std::memcpy(slab.Data(), self->scratch_, off);
      Napi::Array lens = Napi::Array::New(env, count);
      for (int i = 0; i < count; i++) lens.Set(static_cast<uint32_t>(i), Napi::Number::New(env, lengths[i]));
      self->Call(self->on_batch_, {slab, lens});
    }
    if (err != 0 && self->fd_ >= 0) self->Fail("read", err);
  }

  // Reports a fatal read/poll failure once and stops polling; the fd stays open until close().
  // err is an errno value, or 0 with uv_status < 0 for a libuv poll failure.
  void Fail(const std::string& what, int err, int uv_status = 0) {
    Napi::Env env = Env();
    topvpn::StopPoll(poll_, OnClosed);
    failed_ = true;
    Napi::Error e = err != 0 ? ErrnoError(env, "tun " + name_ + ": " + what, err)
                             : topvpn::UvError(env, "tun " + name_ + ": " + what + " (interface deleted?)", uv_status);
    // on_error_ stays valid until OnClosed runs on a later loop turn.
    Call(on_error_, {e.Value()});
  }

  void Call(Napi::FunctionReference& fn, const std::initializer_list<napi_value>& args) {
    topvpn::CallJs(Env(), Value(), fn, args, *async_);
  }

  int fd_ = -1;
  int mtu_ = 0;
  bool failed_ = false;
  std::string name_;
  uv_poll_t* poll_ = nullptr;
  uint8_t* scratch_ = nullptr;
  Napi::FunctionReference on_batch_;
  Napi::FunctionReference on_error_;
  std::unique_ptr<Napi::AsyncContext> async_;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("TunDevice", TunDevice::Init(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(tun, Init)
