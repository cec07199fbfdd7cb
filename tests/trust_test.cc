// node/trust: keyrings, sealed datagrams, the replay guard and sealed sessions.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include "node/trust/keyring.h"
#include "node/trust/replay_guard.h"
#include "node/trust/sealed_datagram.h"
#include "node/trust/sealed_batch.h"
#include "node/trust/session.h"

using namespace ringkv::trust;

namespace {

const std::string kCluster = "test-cluster";
const std::string kSenderId(16, 'a');

Keyring ring_of(std::vector<Key> keys) { return *Keyring::create(std::move(keys)); }

// libsodium starts before any test runs (doctest's REQUIRE only works inside one).
const bool sodium_ready = init_sodium();

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / (name + "-" + std::to_string(getpid()))).string();
}

void write_file(const std::string& path, const std::string& text, mode_t mode) {
  std::remove(path.c_str());
  std::ofstream(path) << text;
  ::chmod(path.c_str(), mode);
}

}  // namespace

TEST_CASE("a key survives base64 and a keyring survives serialize and parse") {
  REQUIRE(sodium_ready);
  const Key a = generate_key(), b = generate_key();
  CHECK(a != b);
  CHECK(*key_from_base64(key_to_base64(a)) == a);
  CHECK(key_to_base64(a).size() == 44);
  Keyring keyring = ring_of({a, b});
  auto parsed = Keyring::parse(keyring.serialize());
  REQUIRE(parsed);
  CHECK(parsed->primary() == a);
  CHECK(parsed->list() == keyring.list());
  CHECK(fingerprint(a).size() == 16);
  CHECK(fingerprint(a) != fingerprint(b));
}

TEST_CASE("parsing skips blank lines and comments and refuses bad lines and empty files") {
  const Key a = generate_key(), b = generate_key();
  auto parsed = Keyring::parse("# cluster keys\n\n  " + key_to_base64(b) + "  \n# old\n" + key_to_base64(a) + "\n");
  REQUIRE(parsed);
  CHECK(parsed->primary() == b);
  CHECK(parsed->list().size() == 2);
  CHECK_FALSE(Keyring::parse("# nothing\n\n"));
  CHECK_FALSE(Keyring::parse("not base64!\n"));
  CHECK_FALSE(Keyring::parse("c2hvcnQ=\n"));  // valid base64, 5 bytes
}

TEST_CASE("install, use and remove rotate keys, never removing the primary") {
  const Key a = generate_key(), b = generate_key();
  Keyring keyring = ring_of({a});
  CHECK_FALSE(keyring.use(b));
  keyring.install(b);
  keyring.install(b);
  CHECK(keyring.list().size() == 2);
  CHECK_FALSE(keyring.remove(a));  // the primary
  REQUIRE(keyring.use(b));
  CHECK(keyring.primary() == b);
  REQUIRE(keyring.remove(a));
  CHECK(keyring.list() == std::vector<Key>{b});
  CHECK_FALSE(keyring.remove(a));
}

TEST_CASE("a key file readable by group or others is refused, naming chmod 600") {
  const std::string path = temp_path("ringkv-keyring");
  const Key a = generate_key();
  write_file(path, key_to_base64(a) + "\n", 0644);
  auto refused = load_keyring_file(path);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().find(path) != std::string::npos);
  CHECK(refused.error().find("chmod 600") != std::string::npos);
  ::chmod(path.c_str(), 0600);
  auto loaded = load_keyring_file(path);
  REQUIRE(loaded);
  CHECK(loaded->primary() == a);
  write_file(path, "# empty\n", 0600);
  CHECK_FALSE(load_keyring_file(path));
  CHECK_FALSE(load_keyring_file(path + ".missing"));
  std::remove(path.c_str());
}

TEST_CASE("a saved keyring is written with mode 0600 and loads back") {
  const std::string path = temp_path("ringkv-saved");
  Keyring keyring = ring_of({generate_key(), generate_key()});
  REQUIRE(save_keyring_file(keyring, path));
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);
  auto loaded = load_keyring_file(path);
  REQUIRE(loaded);
  CHECK(loaded->list() == keyring.list());
  std::remove(path.c_str());
}

TEST_CASE("a sealed datagram opens under any installed key and not under another") {
  const Key a = generate_key(), b = generate_key();
  DatagramSealer sealer(kCluster, kSenderId, 1);
  const std::string datagram = sealer.seal(a, "gossip payload");
  CHECK(datagram.size() == std::string("gossip payload").size() + kSealedOverheadBytes);
  CHECK(looks_sealed(datagram));
  ReplayGuard guard;
  auto opened = open_datagram(ring_of({b, a}), kCluster, datagram, guard);
  REQUIRE(opened);
  CHECK(*opened == "gossip payload");
  ReplayGuard other_guard;
  auto wrong = open_datagram(ring_of({b}), kCluster, datagram, other_guard);
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error() == Refusal::kNotAuthentic);
  auto other_cluster = open_datagram(ring_of({a}), "another", datagram, other_guard);
  REQUIRE_FALSE(other_cluster);
  CHECK(other_cluster.error() == Refusal::kNotAuthentic);
}

TEST_CASE("every flipped byte of a sealed datagram is refused") {
  const Key a = generate_key();
  DatagramSealer sealer(kCluster, kSenderId, 1);
  const std::string datagram = sealer.seal(a, "payload");
  for (size_t i = 0; i < datagram.size(); ++i) {
    std::string bad = datagram;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    ReplayGuard guard;
    auto opened = open_datagram(ring_of({a}), kCluster, bad, guard);
    REQUIRE_FALSE(opened);
    if (i == 0) {
      CHECK(opened.error() == Refusal::kPlaintext);
    } else if (i == 1) {
      CHECK(opened.error() == Refusal::kWrongVersion);
    } else {
      CHECK(opened.error() == Refusal::kNotAuthentic);
    }
  }
}

TEST_CASE("a truncated datagram is refused as truncated") {
  const Key a = generate_key();
  DatagramSealer sealer(kCluster, kSenderId, 1);
  const std::string datagram = sealer.seal(a, "");
  ReplayGuard guard;
  for (size_t length : {size_t{1}, size_t{2}, kSealedHeaderBytes, datagram.size() - 1}) {
    auto opened = open_datagram(ring_of({a}), kCluster, datagram.substr(0, length), guard);
    REQUIRE_FALSE(opened);
    CHECK(opened.error() == Refusal::kTruncated);
  }
  CHECK(open_datagram(ring_of({a}), kCluster, datagram, guard));  // the empty payload itself is fine
}

TEST_CASE("plaintext msgpack is told apart by its first byte") {
  ReplayGuard guard;
  auto opened = open_datagram(ring_of({generate_key()}), kCluster, std::string("\x93\x01\x02\x03"), guard);
  REQUIRE_FALSE(opened);
  CHECK(opened.error() == Refusal::kPlaintext);
}

TEST_CASE("the same datagram twice is refused as replayed") {
  const Key a = generate_key();
  DatagramSealer sealer(kCluster, kSenderId, 1);
  const std::string datagram = sealer.seal(a, "once");
  ReplayGuard guard;
  CHECK(open_datagram(ring_of({a}), kCluster, datagram, guard));
  auto again = open_datagram(ring_of({a}), kCluster, datagram, guard);
  REQUIRE_FALSE(again);
  CHECK(again.error() == Refusal::kReplayed);
}

TEST_CASE("a datagram of an older generation is refused once a newer one was seen") {
  const Key a = generate_key();
  DatagramSealer before_restart(kCluster, kSenderId, 4);
  DatagramSealer after_restart(kCluster, kSenderId, 5);
  const std::string old = before_restart.seal(a, "old");
  ReplayGuard guard;
  CHECK(open_datagram(ring_of({a}), kCluster, after_restart.seal(a, "new"), guard));
  auto refused = open_datagram(ring_of({a}), kCluster, old, guard);
  REQUIRE_FALSE(refused);
  CHECK(refused.error() == Refusal::kReplayed);
}

TEST_CASE("the replay window takes reordering but refuses counters below it") {
  ReplayGuard guard;
  CHECK(guard.accept("s", 1, 10));
  CHECK(guard.accept("s", 1, 8));   // late, inside the window
  CHECK_FALSE(guard.accept("s", 1, 8));
  CHECK(guard.accept("s", 1, 2000));
  CHECK_FALSE(guard.accept("s", 1, 2000 - ReplayGuard::kWindowBits));  // below the window
  CHECK(guard.accept("s", 1, 2000 - ReplayGuard::kWindowBits + 1));    // its last slot
  CHECK_FALSE(guard.accept("s", 1, 10));
  CHECK(guard.accept("s", 2, 1));  // a restart starts over
  CHECK_FALSE(guard.accept("s", 1, 5000));
}

TEST_CASE("the replay guard tracks a bounded number of senders, evicting the least recently seen") {
  ReplayGuard guard(3);
  CHECK(guard.accept("a", 1, 1));
  CHECK(guard.accept("b", 1, 1));
  CHECK(guard.accept("c", 1, 1));
  CHECK(guard.accept("a", 1, 2));  // a is now the most recent
  CHECK(guard.accept("d", 1, 1));  // evicts b
  CHECK(guard.senders() == 3);
  CHECK_FALSE(guard.accept("a", 1, 2));
  CHECK_FALSE(guard.accept("c", 1, 1));
  CHECK(guard.accept("b", 1, 1));  // forgotten, so taken again (the documented hole)
}

namespace {

struct Pair {
  Session initiator;
  Session acceptor;
};

Pair handshake(const Keyring& initiator_ring, const Keyring& acceptor_ring) {
  DatagramSealer initiator_sealer(kCluster, std::string(16, 'i'), 1);
  DatagramSealer acceptor_sealer(kCluster, std::string(16, 'r'), 1);
  std::string hello, ack;
  Session initiator = Session::initiate(initiator_ring, initiator_sealer, kCluster, hello);
  CHECK(looks_sealed(hello));
  auto acceptor = Session::accept(acceptor_ring, acceptor_sealer, kCluster, hello, ack);
  REQUIRE(acceptor);
  REQUIRE(initiator.complete(ack));
  return Pair{std::move(initiator), std::move(*acceptor)};
}

}  // namespace

TEST_CASE("a sealed session carries frames both ways") {
  const Keyring keyring = ring_of({generate_key()});
  Pair pair = handshake(keyring, keyring);
  CHECK(pair.initiator.established());
  CHECK(pair.acceptor.established());
  for (int i = 0; i < 3; ++i) {
    const std::string request = "request " + std::to_string(i);
    auto opened = pair.acceptor.open(pair.initiator.seal(request));
    REQUIRE(opened);
    CHECK(*opened == request);
    auto reply = pair.initiator.open(pair.acceptor.seal("reply"));
    REQUIRE(reply);
    CHECK(*reply == "reply");
  }
}

TEST_CASE("a Hello under a key the acceptor lacks is refused") {
  DatagramSealer sealer(kCluster, kSenderId, 1);
  std::string hello, ack;
  Session::initiate(ring_of({generate_key()}), sealer, kCluster, hello);
  auto refused = Session::accept(ring_of({generate_key()}), sealer, kCluster, hello, ack);
  REQUIRE_FALSE(refused);
  CHECK(refused.error() == Refusal::kNotAuthentic);
  CHECK(ack.empty());
}

TEST_CASE("after rotation the HelloAck is sealed with the key that opened the Hello") {
  // The initiator already uses the new key; the acceptor has installed it
  // but still seals with the old primary. The answer must open under the
  // new key alone (the only one the initiator tries for HelloAck).
  const Key old_key = generate_key(), new_key = generate_key();
  Keyring acceptor_ring = ring_of({old_key, new_key});
  Keyring initiator_ring = ring_of({new_key, old_key});
  DatagramSealer initiator_sealer(kCluster, std::string(16, 'i'), 1);
  DatagramSealer acceptor_sealer(kCluster, std::string(16, 'r'), 1);
  std::string hello, ack;
  Session initiator = Session::initiate(initiator_ring, initiator_sealer, kCluster, hello);
  auto acceptor = Session::accept(acceptor_ring, acceptor_sealer, kCluster, hello, ack);
  REQUIRE(acceptor);
  ReplayGuard guard;
  CHECK(open_datagram(ring_of({new_key}), kCluster, ack, guard));
  CHECK_FALSE(open_datagram(ring_of({old_key}), kCluster, ack, guard));
  REQUIRE(initiator.complete(ack));
  CHECK(acceptor->open(initiator.seal("after rotation")));
}

TEST_CASE("a HelloAck for another Hello is refused") {
  const Keyring keyring = ring_of({generate_key()});
  DatagramSealer sealer(kCluster, kSenderId, 1);
  std::string hello_one, hello_two, ack_one, ack_two;
  Session first = Session::initiate(keyring, sealer, kCluster, hello_one);
  Session second = Session::initiate(keyring, sealer, kCluster, hello_two);
  REQUIRE(Session::accept(keyring, sealer, kCluster, hello_one, ack_one));
  auto refused = second.complete(ack_one);
  REQUIRE_FALSE(refused);
  CHECK(refused.error() == Refusal::kNotAuthentic);
  CHECK(first.complete(ack_one));
}

TEST_CASE("a frame replayed within a session or into a new one does not open") {
  const Keyring keyring = ring_of({generate_key()});
  Pair pair = handshake(keyring, keyring);
  const std::string frame = pair.initiator.seal("write x=1");
  REQUIRE(pair.acceptor.open(frame));
  auto again = pair.acceptor.open(frame);
  REQUIRE_FALSE(again);
  CHECK(again.error() == Refusal::kNotAuthentic);

  Pair fresh = handshake(keyring, keyring);
  CHECK_FALSE(fresh.acceptor.open(frame));
  // A replayed Hello gets a fresh nonce_s, so recorded frames still fail.
  CHECK_FALSE(fresh.acceptor.open(std::string(3, 'x')));
}

TEST_CASE("a flipped or truncated session frame is refused") {
  const Keyring keyring = ring_of({generate_key()});
  Pair pair = handshake(keyring, keyring);
  std::string frame = pair.initiator.seal("payload");
  frame[3] = static_cast<char>(frame[3] ^ 0x80);
  CHECK(pair.acceptor.open(frame).error() == Refusal::kNotAuthentic);
  Pair other = handshake(keyring, keyring);
  CHECK(other.acceptor.open(other.initiator.seal("x").substr(0, 5)).error() == Refusal::kTruncated);
}

TEST_CASE("the primary version is kept in the key file and older files read as version 0") {
  const Key a = generate_key();
  auto keyring = Keyring::create({a});
  REQUIRE(keyring.has_value());
  CHECK(keyring->primary_version() == 0);
  keyring->set_primary_version(12);
  auto parsed = Keyring::parse(keyring->serialize());
  REQUIRE(parsed.has_value());
  CHECK(parsed->primary_version() == 12);
  auto old = Keyring::parse(key_to_base64(a) + "\n");
  REQUIRE(old.has_value());
  CHECK(old->primary_version() == 0);
  auto garbled = Keyring::parse("# primary-version 12x\n" + key_to_base64(a) + "\n");
  REQUIRE(garbled.has_value());
  CHECK(garbled->primary_version() == 0);
}

namespace {

std::string framed(std::string_view message) {
  std::string out;
  const size_t length = message.size();
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((length >> shift) & 0xff));
  out.append(message);
  return out;
}

// Splits sealed frames, opens each and takes its messages.
std::vector<std::string> open_batches(Session& session, std::string_view frames, size_t frame_bytes_max,
                                      size_t& frame_count) {
  std::vector<std::string> messages;
  frame_count = 0;
  while (!frames.empty()) {
    auto frame = take_batched(frames, frame_bytes_max);
    REQUIRE(frame);
    CHECK(frame->size() <= frame_bytes_max);
    ++frame_count;
    auto batch = session.open(*frame);
    REQUIRE(batch);
    std::string_view rest = *batch;
    while (!rest.empty()) {
      auto message = take_batched(rest, frame_bytes_max);
      REQUIRE(message);
      messages.emplace_back(*message);
    }
  }
  return messages;
}

}  // namespace

TEST_CASE("a coalesced write is sealed as one batch and opens into its messages in order") {
  const Keyring keyring = ring_of({generate_key()});
  Pair pair = handshake(keyring, keyring);
  const std::vector<std::string> sent = {"first", "", std::string(300, 'x'), "last"};
  std::string batch;
  for (const std::string& message : sent) batch += framed(message);
  std::string wire_bytes;
  append_sealed_batch(wire_bytes, pair.initiator, batch, 1 << 20);
  size_t frames = 0;
  CHECK(open_batches(pair.acceptor, wire_bytes, 1 << 20, frames) == sent);
  CHECK(frames == 1);
}

TEST_CASE("a batch over the frame limit is split between messages, each sealed frame within the limit") {
  const Keyring keyring = ring_of({generate_key()});
  Pair pair = handshake(keyring, keyring);
  constexpr size_t kFrameBytesMax = 100;
  std::vector<std::string> sent;
  std::string batch;
  for (int i = 0; i < 10; ++i) {
    sent.push_back(std::string(30, static_cast<char>('a' + i)));
    batch += framed(sent.back());
  }
  std::string wire_bytes;
  append_sealed_batch(wire_bytes, pair.initiator, batch, kFrameBytesMax);
  size_t frames = 0;
  CHECK(open_batches(pair.acceptor, wire_bytes, kFrameBytesMax, frames) == sent);
  CHECK(frames == 5);  // two 34-byte frames + 16-byte tag fit in 100, three do not
}

TEST_CASE("a truncated batch or one with a length over the limit is refused") {
  std::string batch = framed("hello");
  std::string_view truncated = std::string_view(batch).substr(0, batch.size() - 1);
  CHECK_FALSE(take_batched(truncated, 1024));
  std::string_view short_length = std::string_view(batch).substr(0, 3);
  CHECK_FALSE(take_batched(short_length, 1024));
  std::string_view over = batch;
  CHECK_FALSE(take_batched(over, 4));
  std::string_view whole = batch;
  auto message = take_batched(whole, 1024);
  REQUIRE(message);
  CHECK(*message == "hello");
  CHECK(whole.empty());
}
