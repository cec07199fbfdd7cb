// Sealed batches: how a sealed peer session (session.h) carries messages.
//
// A whole coalesced write is sealed at once: a sealed frame's plaintext is
// one or more messages, each framed as on the wire (4-byte big-endian
// length, then the message), and the sealed frame itself is framed the
// same way. One AEAD per write instead of one per message; the batch is
// authenticated as a unit (a tampered, replayed or reordered batch opens
// nothing, so no message of it reaches the caller).
//
//   frame   = length(4) || Session::seal(batch)        length <= frame_bytes_max
//   batch   = 1*( length(4) || message )
//
// Pure functions; the caller owns the buffers.
#pragma once

#include <cstddef>
#include <expected>
#include <string>
#include <string_view>

#include "node/trust/session.h"

namespace ringkv::trust {

// Appends one sealed frame holding `plaintext` (sealed in place in `out`).
void append_sealed_frame(std::string& out, Session& session, std::string_view plaintext);
// Appends `framed` (whole frames, as above) to `out` as sealed frames, each
// at most frame_bytes_max long, split between messages. REQUIRES: every
// message's frame plus the 16-byte tag fits in frame_bytes_max.
void append_sealed_batch(std::string& out, Session& session, std::string_view framed, size_t frame_bytes_max);
// Takes the next message off an opened batch; an error when the batch is
// truncated or a length exceeds frame_bytes_max.
std::expected<std::string_view, std::string> take_batched(std::string_view& batch, size_t frame_bytes_max);

}  // namespace ringkv::trust
