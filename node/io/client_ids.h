// ClientIds: which server owns a client connection.
//
// NodeCore tags every reply with the ClientId the request came with; the
// node's one drain (node_process.cc) routes each reply to the server that
// owns that id. The msgpack TcpServer counts up from 1; the RespServer's ids
// carry kRespClientTag, a bit the msgpack counter never reaches.
#pragma once

#include "node/core/coordinator.h"

namespace ringkv::io {

inline constexpr core::ClientId kRespClientTag = core::ClientId{1} << 62;
inline constexpr core::ClientId kMsgpackClientFirst = 1;
inline constexpr core::ClientId kRespClientFirst = kRespClientTag | 1;

inline bool is_resp_client(core::ClientId id) { return (id & kRespClientTag) != 0; }
inline bool is_msgpack_client(core::ClientId id) { return id != 0 && !is_resp_client(id); }

}  // namespace ringkv::io
