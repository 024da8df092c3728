// Helpers shared by the N-API addons that watch one non-blocking fd with uv_poll
// (tun/native/tun.cc, conn/native/udp.cc). Header-only; C++ exceptions disabled.
//
// Lifecycle contract both addons follow:
//   StartPoll()  creates the uv_poll_t (data = the wrapped object) and starts it; the object
//                then holds a reference to itself (Ref) until its close callback runs.
//   StopPoll()   stops watching and hands the handle to uv_close; the close callback (which
//                frees the handle via FreePoll, resets the JS callbacks and Unrefs) runs on a
//                later loop turn, so callbacks stay valid while an error is being reported.
//   The fd is closed only after StopPoll, as libuv requires.
#pragma once

#include <napi.h>
#include <uv.h>

#include <cerrno>
#include <cstring>
#include <initializer_list>
#include <string>

namespace topvpn {

// Error("<what>: <strerror>") with .code ("EADDRINUSE", ...) and .errno set.
inline Napi::Error ErrnoError(Napi::Env env, const std::string& what, int err) {
  Napi::Error e = Napi::Error::New(env, what + ": " + std::strerror(err));
  const char* code = strerrorname_np(err);
  e.Set("code", Napi::String::New(env, code ? code : "EUNKNOWN"));
  e.Set("errno", Napi::Number::New(env, err));
  return e;
}

// Error("<what>: <uv message>") with .code set to libuv's error name.
inline Napi::Error UvError(Napi::Env env, const std::string& what, int uv_status) {
  Napi::Error e = Napi::Error::New(env, what + ": " + uv_strerror(uv_status));
  e.Set("code", Napi::String::New(env, uv_err_name(uv_status)));
  return e;
}

// Frees a poll handle once uv_close has finished with it.
inline void FreePoll(uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); }

// Starts watching `fd` for `events` on env's loop. Returns 0 and sets *out, or a libuv error
// (nothing left allocated; *out untouched).
inline int StartPoll(Napi::Env env, int fd, int events, uv_poll_cb cb, void* data, uv_poll_t** out) {
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return UV_EINVAL;
  uv_poll_t* poll = new uv_poll_t;
  int rc = uv_poll_init(loop, poll, fd);
  if (rc != 0) {
    delete poll;
    return rc;
  }
  poll->data = data;
  rc = uv_poll_start(poll, events, cb);
  if (rc != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(poll), FreePoll);
    return rc;
  }
  *out = poll;
  return 0;
}

// Stops `poll` (if any) and closes it with `on_closed`; sets it to nullptr.
inline void StopPoll(uv_poll_t*& poll, uv_close_cb on_closed) {
  if (poll == nullptr) return;
  uv_poll_stop(poll);
  uv_close(reinterpret_cast<uv_handle_t*>(poll), on_closed);
  poll = nullptr;
}

// Calls into JS through MakeCallback (so microtasks and nextTicks run afterwards). An
// exception thrown by the callback becomes an uncaught exception, as for any event.
inline void CallJs(Napi::Env env, Napi::Object recv, Napi::FunctionReference& fn, const std::initializer_list<napi_value>& args,
                   Napi::AsyncContext& ctx) {
  if (fn.IsEmpty()) return;
  fn.MakeCallback(recv, args, ctx);
  if (env.IsExceptionPending()) {
    Napi::Error e = env.GetAndClearPendingException();
    napi_fatal_exception(env, e.Value());
  }
}

}  // namespace topvpn
