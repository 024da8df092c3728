// ChaCha20-Poly1305 (RFC 8439) with one OpenSSL cipher context per key, for protocol/aead.ts.
// Compiled into the udp addon (included by conn/native/udp.cc; binding.gyp lists one source
// per target). OpenSSL is the copy linked into the node binary (its EVP symbols are exported
// to addons), so no extra library is loaded.
//
// JS contract (wrapped by protocol/aead-native.ts; nothing else should use it):
//
//   new AeadKey(key: Uint8Array)         32-byte key; throws TypeError otherwise, Error if
//                                        OpenSSL refuses.
//   .seal(lo, hi, aad, pt, out, outOff): number
//     nonce = 4 zero bytes || u32le(lo) || u32le(hi). Encrypts pt with AAD aad and writes
//     ciphertext||tag(16) to out[outOff..]; pt may alias out at exactly outOff. Returns the
//     bytes written (pt.length + 16), or -1 if out is too small or OpenSSL failed.
//   .open(lo, hi, aad, sealed, out, outOff): number
//     sealed = ciphertext||tag. Decrypts into out[outOff..] (may alias sealed exactly) and
//     returns the plaintext length if the tag verifies, else -1 (out's bytes are then
//     unspecified). Never throws on forged input.
//
// Per call the context is re-initialised with the nonce only (the key schedule stays).

#include <openssl/evp.h>

namespace aead {

class AeadKey : public Napi::ObjectWrap<AeadKey> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "AeadKey", {InstanceMethod<&AeadKey::Seal>("seal"), InstanceMethod<&AeadKey::Open>("open")});
  }

  explicit AeadKey(const Napi::CallbackInfo& info) : Napi::ObjectWrap<AeadKey>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsTypedArray()) {
      Napi::TypeError::New(env, "AeadKey(key: Uint8Array)").ThrowAsJavaScriptException();
      return;
    }
    auto k = info[0].As<Napi::Uint8Array>();
    if (k.ByteLength() != 32) {
      Napi::TypeError::New(env, "AeadKey: key must be 32 bytes").ThrowAsJavaScriptException();
      return;
    }
    enc_ = EVP_CIPHER_CTX_new();
    dec_ = EVP_CIPHER_CTX_new();
    static const unsigned char zero_iv[12] = {0};
    if (enc_ == nullptr || dec_ == nullptr ||
        EVP_CipherInit_ex(enc_, EVP_chacha20_poly1305(), nullptr, k.Data(), zero_iv, 1) != 1 ||
        EVP_CipherInit_ex(dec_, EVP_chacha20_poly1305(), nullptr, k.Data(), zero_iv, 0) != 1) {
      Napi::Error::New(env, "AeadKey: OpenSSL refused the cipher").ThrowAsJavaScriptException();
    }
  }

  ~AeadKey() override {
    if (enc_ != nullptr) EVP_CIPHER_CTX_free(enc_);
    if (dec_ != nullptr) EVP_CIPHER_CTX_free(dec_);
  }

 private:
  static void Nonce(const Napi::CallbackInfo& info, unsigned char* iv) {
    uint32_t lo = info[0].As<Napi::Number>().Uint32Value();
    uint32_t hi = info[1].As<Napi::Number>().Uint32Value();
    iv[0] = iv[1] = iv[2] = iv[3] = 0;
    for (int i = 0; i < 4; i++) {
      iv[4 + i] = static_cast<unsigned char>(lo >> (8 * i));
      iv[8 + i] = static_cast<unsigned char>(hi >> (8 * i));
    }
  }

  static bool Args(const Napi::CallbackInfo& info) {
    return info.Length() >= 6 && info[0].IsNumber() && info[1].IsNumber() && info[2].IsTypedArray() && info[3].IsTypedArray() &&
           info[4].IsTypedArray() && info[5].IsNumber();
  }

  Napi::Value Seal(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Args(info)) {
      Napi::TypeError::New(env, "seal(lo, hi, aad, pt, out, outOff)").ThrowAsJavaScriptException();
      return env.Null();
    }
    auto aad = info[2].As<Napi::Uint8Array>();
    auto pt = info[3].As<Napi::Uint8Array>();
    auto out = info[4].As<Napi::Uint8Array>();
    int64_t off = info[5].As<Napi::Number>().Int64Value();
    size_t n = pt.ByteLength();
    if (off < 0 || static_cast<size_t>(off) + n + 16 > out.ByteLength() || n > 0x7fffffff) return Napi::Number::New(env, -1);
    unsigned char iv[12];
    Nonce(info, iv);
    unsigned char* dst = out.Data() + off;
    int l = 0;
    if (EVP_CipherInit_ex(enc_, nullptr, nullptr, nullptr, iv, 1) != 1) return Napi::Number::New(env, -1);
    if (aad.ByteLength() > 0 && EVP_CipherUpdate(enc_, nullptr, &l, aad.Data(), static_cast<int>(aad.ByteLength())) != 1) return Napi::Number::New(env, -1);
    if (n > 0 && EVP_CipherUpdate(enc_, dst, &l, pt.Data(), static_cast<int>(n)) != 1) return Napi::Number::New(env, -1);
    if (EVP_CipherFinal_ex(enc_, dst + n, &l) != 1) return Napi::Number::New(env, -1);
    if (EVP_CIPHER_CTX_ctrl(enc_, EVP_CTRL_AEAD_GET_TAG, 16, dst + n) != 1) return Napi::Number::New(env, -1);
    return Napi::Number::New(env, static_cast<double>(n + 16));
  }

  Napi::Value Open(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Args(info)) {
      Napi::TypeError::New(env, "open(lo, hi, aad, sealed, out, outOff)").ThrowAsJavaScriptException();
      return env.Null();
    }
    auto aad = info[2].As<Napi::Uint8Array>();
    auto sealed = info[3].As<Napi::Uint8Array>();
    auto out = info[4].As<Napi::Uint8Array>();
    int64_t off = info[5].As<Napi::Number>().Int64Value();
    if (sealed.ByteLength() < 16 || sealed.ByteLength() > 0x7fffffff) return Napi::Number::New(env, -1);
    size_t n = sealed.ByteLength() - 16;
    if (off < 0 || static_cast<size_t>(off) + n > out.ByteLength()) return Napi::Number::New(env, -1);
    unsigned char iv[12];
    Nonce(info, iv);
    unsigned char tag[16];
    std::memcpy(tag, sealed.Data() + n, 16);  // before an in-place decrypt could overwrite it
    unsigned char* dst = out.Data() + off;
    int l = 0;
    if (EVP_CipherInit_ex(dec_, nullptr, nullptr, nullptr, iv, 0) != 1) return Napi::Number::New(env, -1);
    if (aad.ByteLength() > 0 && EVP_CipherUpdate(dec_, nullptr, &l, aad.Data(), static_cast<int>(aad.ByteLength())) != 1) return Napi::Number::New(env, -1);
    if (n > 0 && EVP_CipherUpdate(dec_, dst, &l, sealed.Data(), static_cast<int>(n)) != 1) return Napi::Number::New(env, -1);
    if (EVP_CIPHER_CTX_ctrl(dec_, EVP_CTRL_AEAD_SET_TAG, 16, tag) != 1) return Napi::Number::New(env, -1);
    if (EVP_CipherFinal_ex(dec_, dst + n, &l) != 1) return Napi::Number::New(env, -1);
    return Napi::Number::New(env, static_cast<double>(n));
  }

  EVP_CIPHER_CTX* enc_ = nullptr;
  EVP_CIPHER_CTX* dec_ = nullptr;
};

}  // namespace aead
