// The metrics port's pure parts: the Prometheus text renderer and the HTTP
// request parser (node/metrics).
#include <doctest/doctest.h>

#include <algorithm>
#include <iterator>
#include <string>

#include "node/metrics/exposition.h"
#include "node/metrics/http_request.h"

using namespace ringkv::metrics;

TEST_CASE("a family is rendered once with its help and type, samples grouped under it") {
  Exposition exposition;
  exposition.counter("ringkv_requests_total", "Requests.", 3, {{"op", "get"}});
  exposition.gauge("ringkv_members", "Members.", 2);
  exposition.counter("ringkv_requests_total", "Requests.", 5, {{"op", "put"}});
  CHECK(exposition.take() ==
        "# HELP ringkv_requests_total Requests.\n"
        "# TYPE ringkv_requests_total counter\n"
        "ringkv_requests_total{op=\"get\"} 3\n"
        "ringkv_requests_total{op=\"put\"} 5\n"
        "# HELP ringkv_members Members.\n"
        "# TYPE ringkv_members gauge\n"
        "ringkv_members 2\n");
  CHECK(exposition.take().empty());
}

TEST_CASE("label values are escaped and help text keeps to one line") {
  Exposition exposition;
  exposition.gauge("ringkv_x", "a\\b\nc", 1, {{"name", "q\"uote\\back\nline"}});
  CHECK(exposition.take() ==
        "# HELP ringkv_x a\\\\b\\nc\n"
        "# TYPE ringkv_x gauge\n"
        "ringkv_x{name=\"q\\\"uote\\\\back\\nline\"} 1\n");
}

TEST_CASE("values print whole when whole, shortest otherwise, and the special ones by name") {
  CHECK(format_value(0) == "0");
  CHECK(format_value(123456789012.0) == "123456789012");
  CHECK(format_value(-4) == "-4");
  CHECK(format_value(0.25) == "0.25");
  CHECK(format_value(0.0001) == "0.0001");
  CHECK(format_value(1.0 / 0.0) == "+Inf");
  CHECK(format_value(-1.0 / 0.0) == "-Inf");
  CHECK(format_value(0.0 / 0.0) == "NaN");
}

TEST_CASE("names are checked against the format's grammar") {
  CHECK(valid_name("ringkv_writes_total"));
  CHECK(valid_name("_a:b9"));
  CHECK_FALSE(valid_name(""));
  CHECK_FALSE(valid_name("9abc"));
  CHECK_FALSE(valid_name("a-b"));
  CHECK_FALSE(valid_name("a b"));
}

TEST_CASE("a histogram renders cumulative buckets, +Inf, sum and count") {
  Exposition exposition;
  HistogramSample sample{{{0.001, 1}, {0.01, 3}}, 0.5, 4};
  exposition.histogram("ringkv_latency_seconds", "Latency.", sample, {{"op", "get"}});
  CHECK(exposition.take() ==
        "# HELP ringkv_latency_seconds Latency.\n"
        "# TYPE ringkv_latency_seconds histogram\n"
        "ringkv_latency_seconds_bucket{op=\"get\",le=\"0.001\"} 1\n"
        "ringkv_latency_seconds_bucket{op=\"get\",le=\"0.01\"} 3\n"
        "ringkv_latency_seconds_bucket{op=\"get\",le=\"+Inf\"} 4\n"
        "ringkv_latency_seconds_sum{op=\"get\"} 0.5\n"
        "ringkv_latency_seconds_count{op=\"get\"} 4\n");
}

namespace {

struct Parsed {
  HttpRequestParser::Status status;
  HttpRequest request;
  HttpError error;
};

Parsed parse(HttpRequestParser& parser) {
  Parsed parsed;
  parsed.status = parser.next(parsed.request, parsed.error);
  return parsed;
}

Parsed parse_one(std::string_view bytes) {
  HttpRequestParser parser;
  parser.feed(bytes);
  return parse(parser);
}

}  // namespace

TEST_CASE("a scrape request parses into method, path and keep-alive") {
  const Parsed parsed = parse_one(
      "GET /metrics?x=1 HTTP/1.1\r\nHost: 127.0.0.1:9100\r\nAccept: text/plain\r\nUser-Agent: Prometheus/2.42\r\n\r\n");
  REQUIRE(parsed.status == HttpRequestParser::Status::kRequest);
  CHECK(parsed.request.method == "GET");
  CHECK(parsed.request.path == "/metrics");
  CHECK(parsed.request.keep_alive);
  CHECK(route(parsed.request) == Route::kMetrics);
}

TEST_CASE("HTTP/1.0, Connection: close and bare LF line ends are understood") {
  CHECK_FALSE(parse_one("GET /metrics HTTP/1.0\r\n\r\n").request.keep_alive);
  CHECK_FALSE(parse_one("GET /metrics HTTP/1.1\nConnection: Close\n\n").request.keep_alive);
  CHECK(parse_one("GET /metrics HTTP/1.1\n\n").status == HttpRequestParser::Status::kRequest);
}

TEST_CASE("a request split over reads waits for its end, and pipelined requests come one at a time") {
  HttpRequestParser parser;
  parser.feed("GET /metr");
  CHECK(parse(parser).status == HttpRequestParser::Status::kNeedMore);
  parser.feed("ics HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\nPOST");
  Parsed first = parse(parser);
  REQUIRE(first.status == HttpRequestParser::Status::kRequest);
  CHECK(first.request.path == "/metrics");
  Parsed second = parse(parser);
  REQUIRE(second.status == HttpRequestParser::Status::kRequest);
  CHECK(second.request.path == "/");
  CHECK(route(second.request) == Route::kNotFound);
  CHECK(parse(parser).status == HttpRequestParser::Status::kNeedMore);
  CHECK(parser.buffered_bytes() == 4);
}

TEST_CASE("other paths are not found and other methods are not allowed") {
  CHECK(route(parse_one("GET /other HTTP/1.1\r\n\r\n").request) == Route::kNotFound);
  CHECK(route(parse_one("DELETE /metrics HTTP/1.1\r\n\r\n").request) == Route::kMethodNotAllowed);
  CHECK(route(parse_one("HEAD /metrics HTTP/1.1\r\n\r\n").request) == Route::kMethodNotAllowed);
}

TEST_CASE("malformed requests are refused with a status and the parser stays failed") {
  struct Case {
    const char* bytes;
    int status;
  };
  const Case cases[] = {
      {"\r\n\r\n", 400},
      {"GARBAGE\r\n\r\n", 400},
      {"GET /metrics\r\n\r\n", 400},
      {"GET  /metrics HTTP/1.1\r\n\r\n", 400},
      {"GET metrics HTTP/1.1\r\n\r\n", 400},
      {"G(T /metrics HTTP/1.1\r\n\r\n", 400},
      {"GET /metrics HTTP/2.0\r\n\r\n", 400},
      {"GET /metrics HTTP/1.9\r\n\r\n", 505},
      {"GET /metrics FTP/1.1\r\n\r\n", 400},
      {"GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n", 400},
      {"GET /metrics HTTP/1.1\r\n: empty name\r\n\r\n", 400},
      {"GET /metrics HTTP/1.1\r\nX: a\rb\r\n\r\n", 400},
      {"POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 400},
      {"GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"GET /met\x01rics HTTP/1.1\r\n\r\n", 400},
  };
  for (const Case& c : cases) {
    CAPTURE(c.bytes);
    HttpRequestParser parser;
    parser.feed(c.bytes);
    const Parsed parsed = parse(parser);
    CHECK(parsed.status == HttpRequestParser::Status::kError);
    CHECK(parsed.error.status == c.status);
    CHECK_FALSE(parsed.error.reason.empty());
    parser.feed("GET /metrics HTTP/1.1\r\n\r\n");
    CHECK(parse(parser).status == HttpRequestParser::Status::kError);
    CHECK(parser.buffered_bytes() == 0);
  }
}

TEST_CASE("a head over the bound is refused before its end arrives") {
  HttpRequestParser parser(64);
  parser.feed("GET /metrics HTTP/1.1\r\nX-Long: ");
  CHECK(parse(parser).status == HttpRequestParser::Status::kNeedMore);
  parser.feed(std::string(64, 'a'));
  const Parsed parsed = parse(parser);
  CHECK(parsed.status == HttpRequestParser::Status::kError);
  CHECK(parsed.error.status == 431);
  CHECK(parser.buffered_bytes() == 0);
}

TEST_CASE("responses carry status, length, type, and Allow or Connection: close when due") {
  CHECK(http_response(200, "text/plain", "abc", false) ==
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc");
  const std::string refused = http_response(405, "text/plain", "", true);
  CHECK(refused.find("HTTP/1.1 405 Method Not Allowed\r\n") == 0);
  CHECK(refused.find("Allow: GET\r\n") != std::string::npos);
  CHECK(refused.find("Connection: close\r\n") != std::string::npos);
}

TEST_CASE("random bytes fed in random pieces never get past the parser's bounds") {
  // Seeded, so a failure replays: pieces of real requests and junk, cut anywhere.
  const std::string_view pieces[] = {"GET ", "/metrics", " HTTP/1.1", "\r\n", "\n", "Host: x", ":", " ",
                                     "\r", "\0", "\xff", "Content-Length: 3", "POST", "?a=b", "HTTP/1.0"};
  uint64_t state = 20240601;
  auto next = [&state] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return state >> 33;
  };
  for (int round = 0; round < 2000; ++round) {
    HttpRequestParser parser(256);
    std::string input;
    const int count = static_cast<int>(next() % 40);
    for (int i = 0; i < count; ++i) input += pieces[next() % std::size(pieces)];
    size_t at = 0;
    int requests = 0;
    bool failed = false;
    while (at < input.size() && !failed) {
      const size_t length = std::min<size_t>(1 + next() % 16, input.size() - at);
      parser.feed(std::string_view(input).substr(at, length));
      at += length;
      HttpRequest request;
      HttpError error;
      for (auto status = parser.next(request, error); status != HttpRequestParser::Status::kNeedMore;
           status = parser.next(request, error)) {
        if (status == HttpRequestParser::Status::kError) {
          CHECK((error.status == 400 || error.status == 431 || error.status == 505));
          failed = true;
          break;
        }
        CHECK(request.path.starts_with("/"));
        ++requests;
      }
      // Once drained, what waits for the end of a head stays within the bound.
      CHECK(parser.buffered_bytes() <= 256);
    }
    CHECK(requests <= count);
  }
}
