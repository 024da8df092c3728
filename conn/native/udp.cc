// Batched IPv4 UDP socket for Node.js (N-API, node-addon-api, C++ exceptions disabled).
//
// JS contract (wrapped by conn/native.ts; nothing else should load this addon):
//
//   new UdpSocket(host: string, port: number, rcvbuf: number, sndbuf: number, gro: boolean)
//     Creates a non-blocking AF_INET datagram socket, sets SO_RCVBUF/SO_SNDBUF (trying
//     SO_RCVBUFFORCE/SO_SNDBUFFORCE first, which only CAP_NET_ADMIN may use; 0 keeps the
//     kernel default), optionally enables UDP_GRO, and binds host:port (dotted quad; port 0
//     picks one). Throws Error("udp <host>:<port>: <step>: <strerror>") with .code
//     ("EADDRINUSE", "EINVAL", ...) and .errno.
//   .port, .rcvbuf, .sndbuf: number    bound port and buffer sizes as the kernel reports them.
//   .gro: boolean                       whether UDP_GRO is in force.
//   .meta: ArrayBuffer                  kMetaSlots * 3 uint32 written by the reader before each
//                                       onBatch: per packet [length, ipv4 (host order), port].
//   .sendAddrs: ArrayBuffer             kSendMax * 2 uint32 the writer fills before send():
//                                       per packet [ipv4 (host order), port].
//   .start(onBatch, onWritable, onError, reading: boolean)  begins watching the fd with
//     uv_poll; it waits for readability only when `reading` (or after startReading()), so a
//     send-only user leaves received datagrams in the socket buffer.
//     onBatch(slab: ArrayBuffer, count: number) once per wake-up: one recvmmsg(2) of up to
//     kBatch datagrams, copied back to back into one fresh slab (never reused); a GRO
//     coalesced datagram is split back into its segments, so `count` may exceed kBatch.
//     onWritable() once after wantWritable() when the socket can take more.
//     onError(err) once if polling or receiving fails; polling then stops.
//   .send(packets: Buffer[], start: number, count: number, gso: boolean): number
//     Sends packets[start..start+count) (count <= kSendMax) to the addresses in sendAddrs
//     (entry i for packets[start+i]) with
//     sendmmsg(2) in messages of up to kBatch. With gso, runs of consecutive packets to the
//     same address and of the same length (the last may be shorter) go out as one UDP_SEGMENT
//     message; if the kernel refuses one (EIO: no checksum offload on the route, GSO is then
//     off for this socket; EINVAL/EMSGSIZE: a segment larger than the path MTU, runs of that
//     size or more are then sent plainly) the run is resent without GSO.
//     Returns how many packets were consumed: sent, or dropped because the kernel
//     refused them (counted in counters()[0]). Fewer than count means EAGAIN: the socket
//     buffer is full; call wantWritable() and send the rest on onWritable.
//   .wantWritable()                     watch for writability once (after start()).
//   .startReading()                     watch for readability from now on (after start()).
//   .counters(): number[]               [sendErrors, sendEagain, gsoMessages, groMessages,
//                                        recvCalls, sendCalls, packetsSent, bytesSent]
//   .close()                            stops polling and closes the fd. Idempotent. No
//                                       callback runs after close() returns.
//
//   AeadKey: ChaCha20-Poly1305 with a per-key OpenSSL context (see conn/native/aead.h).

#include <napi.h>
#include <uv.h>

#include "../../common/native/napi-fd.h"

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "aead.h"

namespace {

constexpr int kBatch = 64;                    // datagrams per recvmmsg / sendmmsg message array
constexpr size_t kFrame = 65536;              // receive room per datagram (a GRO datagram fits)
constexpr int kMetaSlots = kBatch * 64;       // GRO coalesces at most 64 segments per datagram
constexpr int kSendMax = 1024;                // packets per send() call
constexpr size_t kMaxPayload = 65507;         // 65535 - IPv4 header - UDP header
constexpr int kMaxSegments = 64;              // UDP_MAX_SEGMENTS on older kernels

using topvpn::ErrnoError;

// Sets a socket buffer size, preferring the FORCE variant (ignores net.core.*mem_max).
void SetBuf(int fd, int force_opt, int opt, int bytes) {
  if (bytes <= 0) return;
  if (setsockopt(fd, SOL_SOCKET, force_opt, &bytes, sizeof bytes) == 0) return;
  setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof bytes);  // capped by the sysctl; best effort
}

int GetBuf(int fd, int opt) {
  int v = 0;
  socklen_t l = sizeof v;
  return getsockopt(fd, SOL_SOCKET, opt, &v, &l) == 0 ? v : 0;
}

class UdpSocket : public Napi::ObjectWrap<UdpSocket> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "UdpSocket",
                       {InstanceMethod<&UdpSocket::Start>("start"),
                        InstanceMethod<&UdpSocket::Send>("send"),
                        InstanceMethod<&UdpSocket::WantWritable>("wantWritable"),
                        InstanceMethod<&UdpSocket::StartReading>("startReading"),
                        InstanceMethod<&UdpSocket::Counters>("counters"),
                        InstanceMethod<&UdpSocket::Close>("close")});
  }

  explicit UdpSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<UdpSocket>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 5 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsNumber() ||
        !info[3].IsNumber() || !info[4].IsBoolean()) {
      Napi::TypeError::New(env, "UdpSocket(host: string, port: number, rcvbuf: number, sndbuf: number, gro: boolean)")
          .ThrowAsJavaScriptException();
      return;
    }
    std::string host = info[0].As<Napi::String>();
    int port = info[1].As<Napi::Number>().Int32Value();
    int rcvbuf = info[2].As<Napi::Number>().Int32Value();
    int sndbuf = info[3].As<Napi::Number>().Int32Value();
    bool gro = info[4].As<Napi::Boolean>().Value();
    what_ = "udp " + host + ":" + std::to_string(port);

    struct sockaddr_in sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    if (port < 0 || port > 65535 || inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1) {
      ErrnoError(env, what_ + ": address", EINVAL).ThrowAsJavaScriptException();
      return;
    }
    sa.sin_port = htons(static_cast<uint16_t>(port));

    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      ErrnoError(env, what_ + ": socket", errno).ThrowAsJavaScriptException();
      return;
    }
    SetBuf(fd, SO_RCVBUFFORCE, SO_RCVBUF, rcvbuf);
    SetBuf(fd, SO_SNDBUFFORCE, SO_SNDBUF, sndbuf);
    if (gro) {
      int one = 1;
      gro_ = setsockopt(fd, IPPROTO_UDP, UDP_GRO, &one, sizeof one) == 0;
    }
    if (bind(fd, reinterpret_cast<struct sockaddr*>(&sa), sizeof sa) < 0) {
      int err = errno;
      close(fd);
      ErrnoError(env, what_ + ": bind", err).ThrowAsJavaScriptException();
      return;
    }
    socklen_t sl = sizeof sa;
    getsockname(fd, reinterpret_cast<struct sockaddr*>(&sa), &sl);
    fd_ = fd;
    what_ = "udp " + host + ":" + std::to_string(ntohs(sa.sin_port));

    Napi::ArrayBuffer meta = Napi::ArrayBuffer::New(env, kMetaSlots * 3 * sizeof(uint32_t));
    Napi::ArrayBuffer addrs = Napi::ArrayBuffer::New(env, kSendMax * 2 * sizeof(uint32_t));
    meta_ = static_cast<uint32_t*>(meta.Data());
    send_addrs_ = static_cast<uint32_t*>(addrs.Data());
    meta_ref_ = Napi::Persistent(meta);
    addrs_ref_ = Napi::Persistent(addrs);
    Napi::Object self = Value();
    self.Set("port", Napi::Number::New(env, ntohs(sa.sin_port)));
    self.Set("rcvbuf", Napi::Number::New(env, GetBuf(fd, SO_RCVBUF)));
    self.Set("sndbuf", Napi::Number::New(env, GetBuf(fd, SO_SNDBUF)));
    self.Set("gro", Napi::Boolean::New(env, gro_));
    self.Set("meta", meta);
    self.Set("sendAddrs", addrs);
  }

  ~UdpSocket() override {
    // Only reachable when not polling (a running poll holds a reference to this object).
    if (fd_ >= 0) close(fd_);
    delete[] scratch_;
  }

 private:
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 4 || !info[0].IsFunction() || !info[1].IsFunction() || !info[2].IsFunction() || !info[3].IsBoolean()) {
      Napi::TypeError::New(env, "start(onBatch, onWritable, onError, reading)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (fd_ < 0) {
      Napi::Error::New(env, what_ + ": socket is closed").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    on_batch_ = Napi::Persistent(info[0].As<Napi::Function>());
    on_writable_ = Napi::Persistent(info[1].As<Napi::Function>());
    on_error_ = Napi::Persistent(info[2].As<Napi::Function>());
    reading_ = reading_ || info[3].As<Napi::Boolean>().Value();
    if (poll_ != nullptr || failed_) {
      UpdatePoll();
      return env.Undefined();
    }

    int rc = topvpn::StartPoll(env, fd_, Events(), OnPoll, this, &poll_);
    if (rc != 0) {
      topvpn::UvError(env, what_ + ": uv_poll", rc).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (scratch_ == nullptr) scratch_ = new uint8_t[kBatch * kFrame];  // untouched pages stay unmapped
    async_ = std::make_unique<Napi::AsyncContext>(env, "UdpRecv");
    Ref();  // released in OnClosed: keeps this object alive while libuv points at it
    return env.Undefined();
  }

  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (fd_ < 0) {
      Napi::Error::New(env, what_ + ": socket is closed").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (info.Length() < 4 || !info[0].IsArray() || !info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsBoolean()) {
      Napi::TypeError::New(env, "send(packets: Buffer[], start: number, count: number, gso: boolean)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::Array arr = info[0].As<Napi::Array>();
    int64_t start = info[1].As<Napi::Number>().Int64Value();
    int64_t want = info[2].As<Napi::Number>().Int64Value();
    const int64_t have = arr.Length();
    if (start < 0) start = 0;
    if (start > have) start = have;
    if (want < 0) want = 0;
    if (want > kSendMax) want = kSendMax;
    if (want > have - start) want = have - start;
    const int count = static_cast<int>(want);
    const bool want_gso = info[3].As<Napi::Boolean>().Value();

    // Resolve every packet's bytes first; a non-buffer entry becomes an error.
    static thread_local const uint8_t* data[kSendMax];
    static thread_local uint32_t lens[kSendMax];
    for (int i = 0; i < count; i++) {
      napi_value v = arr.Get(static_cast<uint32_t>(start + i));
      void* p = nullptr;
      size_t len = 0;
      bool ok = false;
      bool is_ta = false;
      if (napi_is_typedarray(env, v, &is_ta) == napi_ok && is_ta) {
        napi_typedarray_type t;
        size_t n = 0;
        ok = napi_get_typedarray_info(env, v, &t, &n, &p, nullptr, nullptr) == napi_ok && t == napi_uint8_array;
        len = n;
      }
      if (!ok || len > kMaxPayload) {
        data[i] = nullptr;
        lens[i] = 0;
      } else {
        static const uint8_t kEmpty = 0;  // an empty Buffer may have no backing store
        data[i] = p != nullptr ? static_cast<const uint8_t*>(p) : &kEmpty;
        lens[i] = static_cast<uint32_t>(len);
      }
    }

    struct mmsghdr msgs[kBatch];
    struct sockaddr_in names[kBatch];
    static thread_local struct iovec iovs[kBatch * kMaxSegments];
    alignas(struct cmsghdr) char ctrl[kBatch][CMSG_SPACE(sizeof(uint16_t))];
    int first[kBatch];  // first packet index of each message
    int segs[kBatch];   // packets in each message

    int i = 0;
    while (i < count) {
      // Build up to kBatch messages from packet i on.
      int nmsg = 0;
      int niov = 0;
      int j = i;
      while (j < count && nmsg < kBatch) {
        if (data[j] == nullptr) {
          if (nmsg == 0) {  // skip invalid entries only at the head of a batch
            errors_++;
            i = ++j;
            continue;
          }
          break;
        }
        const uint32_t ip = send_addrs_[2 * j];
        const uint32_t port = send_addrs_[2 * j + 1];
        const uint32_t size = lens[j];
        int k = j + 1;
        size_t total = size;
        if (want_gso && !gso_off_ && size > 0 && size <= gso_max_) {
          while (k < count && k - j < kMaxSegments && data[k] != nullptr && send_addrs_[2 * k] == ip &&
                 send_addrs_[2 * k + 1] == port && lens[k] > 0 && lens[k] <= size && total + lens[k] <= kMaxPayload) {
            total += lens[k];
            k++;
            if (lens[k - 1] < size) break;  // a shorter segment must be the last
          }
        }
        struct mmsghdr& m = msgs[nmsg];
        std::memset(&m, 0, sizeof m);
        struct sockaddr_in& sa = names[nmsg];
        std::memset(&sa, 0, sizeof sa);
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(ip);
        sa.sin_port = htons(static_cast<uint16_t>(port));
        m.msg_hdr.msg_name = &sa;
        m.msg_hdr.msg_namelen = sizeof sa;
        m.msg_hdr.msg_iov = &iovs[niov];
        m.msg_hdr.msg_iovlen = static_cast<size_t>(k - j);
        for (int s = j; s < k; s++) {
          iovs[niov].iov_base = const_cast<uint8_t*>(data[s]);
          iovs[niov].iov_len = lens[s];
          niov++;
        }
        if (k - j > 1) {
          m.msg_hdr.msg_control = ctrl[nmsg];
          m.msg_hdr.msg_controllen = sizeof ctrl[nmsg];
          struct cmsghdr* c = CMSG_FIRSTHDR(&m.msg_hdr);
          c->cmsg_level = SOL_UDP;
          c->cmsg_type = UDP_SEGMENT;
          c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
          uint16_t gs = static_cast<uint16_t>(size);
          std::memcpy(CMSG_DATA(c), &gs, sizeof gs);
        }
        first[nmsg] = j;
        segs[nmsg] = k - j;
        nmsg++;
        j = k;
      }
      if (nmsg == 0) break;

      int r;
      do {
        send_calls_++;
        r = sendmmsg(fd_, msgs, static_cast<unsigned>(nmsg), 0);
      } while (r < 0 && errno == EINTR);
      if (r > 0) {
        for (int m = 0; m < r; m++) {
          if (segs[m] > 1) gso_messages_++;
          packets_sent_ += static_cast<uint64_t>(segs[m]);
          bytes_sent_ += msgs[m].msg_len;
        }
        i = first[r - 1] + segs[r - 1];
        continue;  // a failed message after r is retried at the head of the next round
      }
      int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) {
        eagain_++;
        break;
      }
      if (segs[0] > 1) {
        // GSO refused: EIO (no checksum offload on the route) turns GSO off; EINVAL (segment
        // larger than the path MTU) lowers the largest segment size tried. Resend plainly.
        if (err == EINVAL || err == EMSGSIZE) gso_max_ = lens[first[0]] - 1;
        else gso_off_ = true;
        continue;  // the run is rebuilt without GSO
      }
      errors_++;
      i = first[0] + 1;
    }
    return Napi::Number::New(env, i);
  }

  Napi::Value WantWritable(const Napi::CallbackInfo& info) {
    if (!want_writable_) {
      want_writable_ = true;
      UpdatePoll();
    }
    return info.Env().Undefined();
  }

  Napi::Value StartReading(const Napi::CallbackInfo& info) {
    if (!reading_) {
      reading_ = true;
      UpdatePoll();
    }
    return info.Env().Undefined();
  }

  int Events() const { return (reading_ ? UV_READABLE : 0) | (want_writable_ ? UV_WRITABLE : 0); }

  // Applies the current interest set; an empty set stops the poll without closing it.
  void UpdatePoll() {
    if (poll_ == nullptr) return;
    int ev = Events();
    if (ev == 0) uv_poll_stop(poll_);
    else uv_poll_start(poll_, ev, OnPoll);
  }

  Napi::Value Counters(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array a = Napi::Array::New(env, 8);
    a.Set(0u, Napi::Number::New(env, static_cast<double>(errors_)));
    a.Set(1u, Napi::Number::New(env, static_cast<double>(eagain_)));
    a.Set(2u, Napi::Number::New(env, static_cast<double>(gso_messages_)));
    a.Set(3u, Napi::Number::New(env, static_cast<double>(gro_messages_)));
    a.Set(4u, Napi::Number::New(env, static_cast<double>(recv_calls_)));
    a.Set(5u, Napi::Number::New(env, static_cast<double>(send_calls_)));
    a.Set(6u, Napi::Number::New(env, static_cast<double>(packets_sent_)));
    a.Set(7u, Napi::Number::New(env, static_cast<double>(bytes_sent_)));
    return a;
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
    UdpSocket* self = static_cast<UdpSocket*>(h->data);
    topvpn::FreePoll(h);
    self->on_batch_.Reset();
    self->on_writable_.Reset();
    self->on_error_.Reset();
    self->async_.reset();
    self->Unref();
  }

  static void OnPoll(uv_poll_t* h, int status, int events) {
    UdpSocket* self = static_cast<UdpSocket*>(h->data);
    if (self->fd_ < 0) return;
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    if (status < 0) return self->Fail("poll", 0, status);
    if ((events & UV_WRITABLE) && self->want_writable_) {
      self->want_writable_ = false;
      self->UpdatePoll();
      self->Call(self->on_writable_, {});
      if (self->fd_ < 0) return;
    }
    if ((events & UV_READABLE) && self->reading_) self->Receive();
  }

  void Receive() {
    Napi::Env env = Env();
    struct mmsghdr msgs[kBatch];
    struct sockaddr_in names[kBatch];
    struct iovec iovs[kBatch];
    alignas(struct cmsghdr) char ctrl[kBatch][CMSG_SPACE(sizeof(int))];
    for (int i = 0; i < kBatch; i++) {
      std::memset(&msgs[i], 0, sizeof msgs[i]);
      iovs[i].iov_base = scratch_ + static_cast<size_t>(i) * kFrame;
      iovs[i].iov_len = kFrame;
      msgs[i].msg_hdr.msg_name = &names[i];
      msgs[i].msg_hdr.msg_namelen = sizeof names[i];
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      if (gro_) {
        msgs[i].msg_hdr.msg_control = ctrl[i];
        msgs[i].msg_hdr.msg_controllen = sizeof ctrl[i];
      }
    }
    int r;
    do {
      recv_calls_++;
      r = recvmmsg(fd_, msgs, kBatch, 0, nullptr);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
      int err = errno;
      // EAGAIN: a spurious wake-up. ECONNREFUSED & co: a queued ICMP error on the socket,
      // now consumed; the socket itself is fine.
      if (err == EAGAIN || err == EWOULDBLOCK || err == ECONNREFUSED || err == EHOSTUNREACH ||
          err == ENETUNREACH || err == EHOSTDOWN || err == ENETDOWN)
        return;
      return Fail("recvmmsg", err);
    }
    if (r == 0) return;

    size_t total = 0;
    for (int i = 0; i < r; i++) total += msgs[i].msg_len;
    Napi::ArrayBuffer slab = Napi::ArrayBuffer::New(Env(), total);
    uint8_t* out = static_cast<uint8_t*>(slab.Data());
    int count = 0;
    size_t off = 0;
    for (int i = 0; i < r && count < kMetaSlots; i++) {
      const size_t len = msgs[i].msg_len;
      std::memcpy(out + off, iovs[i].iov_base, len);
      const uint32_t ip = ntohl(names[i].sin_addr.s_addr);
      const uint32_t port = ntohs(names[i].sin_port);
      size_t seg = len;
      if (gro_) {
        for (struct cmsghdr* c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c != nullptr; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c)) {
          if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
            int gs = 0;
            std::memcpy(&gs, CMSG_DATA(c), sizeof gs);
            if (gs > 0) seg = static_cast<size_t>(gs);
          }
        }
        if (seg < len) gro_messages_++;
      }
      if (len == 0) seg = 1;  // an empty datagram is one packet
      for (size_t p = 0; p < len || (len == 0 && p == 0); p += seg) {
        if (count >= kMetaSlots) break;
        const size_t n = len - p < seg ? len - p : seg;
        meta_[3 * count] = static_cast<uint32_t>(n);
        meta_[3 * count + 1] = ip;
        meta_[3 * count + 2] = port;
        count++;
      }
      off += len;
    }
    Call(on_batch_, {slab, Napi::Number::New(env, count)});
  }

  // Reports a fatal receive/poll failure once and stops polling; the fd stays open until
  // close(). err is an errno value, or 0 with uv_status < 0 for a libuv poll failure.
  void Fail(const std::string& what, int err, int uv_status = 0) {
    Napi::Env env = Env();
    topvpn::StopPoll(poll_, OnClosed);
    failed_ = true;
    Napi::Error e = err != 0 ? ErrnoError(env, what_ + ": " + what, err) : topvpn::UvError(env, what_ + ": " + what, uv_status);
    // on_error_ stays valid until OnClosed runs on a later loop turn.
    Call(on_error_, {e.Value()});
  }

  // Calls into JS through MakeCallback (so microtasks and nextTicks run afterwards: sends
  // queued by the handler are flushed there, as one batch). An exception thrown by the
  // callback becomes an uncaught exception, as for any event.
  void Call(Napi::FunctionReference& fn, const std::initializer_list<napi_value>& args) {
    topvpn::CallJs(Env(), Value(), fn, args, *async_);
  }

  int fd_ = -1;
  bool gro_ = false;
  bool failed_ = false;
  bool want_writable_ = false;
  bool reading_ = false;
  bool gso_off_ = false;
  uint32_t gso_max_ = 65535;
  std::string what_;
  uv_poll_t* poll_ = nullptr;
  uint8_t* scratch_ = nullptr;
  uint32_t* meta_ = nullptr;
  uint32_t* send_addrs_ = nullptr;
  Napi::Reference<Napi::ArrayBuffer> meta_ref_;
  Napi::Reference<Napi::ArrayBuffer> addrs_ref_;
  Napi::FunctionReference on_batch_;
  Napi::FunctionReference on_writable_;
  Napi::FunctionReference on_error_;
  std::unique_ptr<Napi::AsyncContext> async_;
  uint64_t errors_ = 0;
  uint64_t eagain_ = 0;
  uint64_t gso_messages_ = 0;
  uint64_t gro_messages_ = 0;
  uint64_t recv_calls_ = 0;
  uint64_t send_calls_ = 0;
  uint64_t packets_sent_ = 0;
  uint64_t bytes_sent_ = 0;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("UdpSocket", UdpSocket::Init(env));
  exports.Set("AeadKey", aead::AeadKey::Init(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(udp, Init)
