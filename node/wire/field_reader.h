// FieldReader: typed, bounded reads of one msgpack message's fields, in
// order, recording the first problem instead of throwing. Internal to
// node/wire (the codec); not part of the protocol's public surface.
#pragma once

#include <msgpack.hpp>

#include <cstdint>
#include <optional>
#include <string>

#include "node/wire/limits.h"
#include "node/wire/message.h"

namespace ringkv::wire {

// Reads fields of one message array in order, recording the first problem.
class FieldReader {
 public:
  FieldReader(const msgpack::object* fields, size_t count, const Limits& limits)
      : fields_(fields), count_(count), limits_(&limits) {}

  bool u64(uint64_t& out) {
    const msgpack::object* o = take();
    if (o == nullptr) return false;
    if (o->type != msgpack::type::POSITIVE_INTEGER) return fail("expected an unsigned integer");
    out = o->via.u64;
    return true;
  }
  bool u32(uint32_t& out) {
    uint64_t wide = 0;
    if (!u64(wide)) return false;
    if (wide > UINT32_MAX) return fail("integer out of range");
    out = static_cast<uint32_t>(wide);
    return true;
  }
  // A signed integer, or nil (nullopt).
  bool optional_i64(std::optional<int64_t>& out) {
    const msgpack::object* o = take();
    if (o == nullptr) return false;
    if (o->type == msgpack::type::NIL) {
      out.reset();
    } else if (o->type == msgpack::type::NEGATIVE_INTEGER) {
      out = o->via.i64;
    } else if (o->type == msgpack::type::POSITIVE_INTEGER && o->via.u64 <= INT64_MAX) {
      out = static_cast<int64_t>(o->via.u64);
    } else {
      return fail("expected a signed integer or nil");
    }
    return true;
  }
  bool boolean(bool& out) {
    const msgpack::object* o = take();
    if (o == nullptr) return false;
    if (o->type != msgpack::type::BOOLEAN) return fail("expected a boolean");
    out = o->via.boolean;
    return true;
  }
  // Accepts bin or str, bounded by `max_bytes`.
  bool bytes(std::string& out, size_t max_bytes, const char* what) {
    const msgpack::object* o = take();
    if (o == nullptr) return false;
    const char* data = nullptr;
    size_t size = 0;
    if (o->type == msgpack::type::BIN) {
      data = o->via.bin.ptr;
      size = o->via.bin.size;
    } else if (o->type == msgpack::type::STR) {
      data = o->via.str.ptr;
      size = o->via.str.size;
    } else {
      return fail(std::string("expected bytes for ") + what);
    }
    if (size > max_bytes) {
      too_large_ = true;
      return fail(std::string(what) + " of " + std::to_string(size) + " bytes exceeds the limit of " +
                  std::to_string(max_bytes));
    }
    out.assign(data, size);
    return true;
  }
  bool key(std::string& out) {
    if (!bytes(out, limits_->key_bytes_max, "key")) return false;
    if (out.empty()) return fail("key is empty");
    return true;
  }
  bool consistency(Consistency& out) {
    uint32_t raw = 0;
    if (!u32(raw)) return false;
    if (raw < 1 || raw > 4) return fail("unknown consistency level " + std::to_string(raw));
    out = static_cast<Consistency>(raw);
    return true;
  }
  // Opens a nested array: a reader over its elements.
  bool nested(FieldReader& out) {
    const msgpack::object* o = take();
    if (o == nullptr) return false;
    if (o->type != msgpack::type::ARRAY) return fail("expected an array");
    out = FieldReader(o->via.array.ptr, o->via.array.size, *limits_);
    return true;
  }
  size_t remaining() const { return count_ - next_; }
  // Takes over the first problem of a nested reader.
  bool adopt(const FieldReader& nested) {
    too_large_ = too_large_ || nested.too_large_;
    return nested.error_.empty() ? true : fail(nested.error_);
  }
  // Records a problem found by the caller (the first one wins).
  bool fail(std::string reason) {
    if (error_.empty()) error_ = std::move(reason);
    return false;
  }
  bool finish() {
    if (error_.empty() && next_ != count_) return fail("unexpected extra fields");
    return error_.empty();
  }
  const std::string& error() const { return error_; }
  bool too_large() const { return too_large_; }

 private:
  const msgpack::object* take() {
    if (!error_.empty()) return nullptr;
    if (next_ >= count_) {
      fail("missing fields");
      return nullptr;
    }
    return &fields_[next_++];
  }

  const msgpack::object* fields_;
  size_t count_;
  const Limits* limits_;
  size_t next_ = 0;
  std::string error_;
  bool too_large_ = false;
};

}  // namespace ringkv::wire
