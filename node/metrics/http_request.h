// HttpRequestParser: the request side of the metrics port's HTTP/1.x, just
// enough for a Prometheus scrape, and the responses it answers with.
//
// A request is a head only: "METHOD SP TARGET SP HTTP/1.x CRLF", header
// lines "Name: value CRLF", an empty line. Bare LF line ends are accepted
// (RFC 9112 allows it). Checked before anything is kept:
// - the head (request line + headers) is at most head_bytes_max (431);
// - the method is a token, the target starts with '/' and holds only
//   visible ASCII, the version is HTTP/1.0 or HTTP/1.1 (400, 505);
// - every header line has a token name and a colon; a request with a body
//   (Content-Length other than 0, or Transfer-Encoding) is refused (400):
//   nothing this port serves takes one.
// After an error the parser stays failed and the connection must close.
// Requests that follow one another on a connection (keep-alive, pipelining)
// are returned one at a time; only the bytes fed are buffered.
//
// Pure: no I/O, no clock. One parser per connection.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ringkv::metrics {

struct HttpRequest {
  std::string method;
  std::string path;   // the target without its query string
  bool keep_alive = true;  // false for HTTP/1.0 or "Connection: close"
};

struct HttpError {
  int status = 400;
  std::string reason;
};

class HttpRequestParser {
 public:
  static constexpr size_t kHeadBytesMaxDefault = 8 * 1024;
  explicit HttpRequestParser(size_t head_bytes_max = kHeadBytesMaxDefault) : head_bytes_max_(head_bytes_max) {}

  void feed(std::string_view bytes);
  enum class Status { kRequest, kNeedMore, kError };
  Status next(HttpRequest& request, HttpError& error);
  size_t buffered_bytes() const { return buffer_.size() - consumed_; }

 private:
  Status fail(HttpError& error, int status, std::string reason);
  bool parse_head(std::string_view head, HttpRequest& request, HttpError& error);

  size_t head_bytes_max_;
  std::string buffer_;
  size_t consumed_ = 0;
  bool failed_ = false;
  HttpError failure_;
};

// What the metrics port does with a parsed request.
enum class Route { kMetrics, kNotFound, kMethodNotAllowed };
Route route(const HttpRequest& request);

// A whole HTTP/1.1 response. `close` adds "Connection: close"; a 405 names
// the allowed method.
std::string http_response(int status, std::string_view content_type, std::string_view body, bool close);
// Content type of the Prometheus text format.
inline constexpr std::string_view kPrometheusTextType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace ringkv::metrics
