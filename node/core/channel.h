// Channel: what the I/O layer vouches for about the connection a request
// arrived on. NodeCore decides what a request may do from it (and, for
// clients, from the credentials the connection presented).
//
// - kPeer: an internode session (sealed with a cluster key, or any
//   connection of a node run without a keyring, or a plaintext connection
//   accepted during a transitional rollout). Internode messages (replica
//   reads and writes, hints, streams, digests, push-pull, topology steps)
//   are only accepted on it.
// - kClient: a client connection (the `kv` CLI, RESP). Only client
//   requests are accepted; with users configured, only after it
//   authenticated, and only what its role allows.
#pragma once

namespace ringkv::core {

enum class Channel { kClient, kPeer };

}  // namespace ringkv::core
