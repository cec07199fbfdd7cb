#include "node/metrics/http_request.h"

#include <algorithm>
#include <cctype>

namespace ringkv::metrics {
namespace {

// RFC 9110 tchar.
bool token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}
bool is_token(std::string_view text) { return !text.empty() && std::all_of(text.begin(), text.end(), token_char); }

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// The next line of `head` (without its LF or CRLF); advances `head`.
std::string_view take_line(std::string_view& head) {
  const size_t end = head.find('\n');
  std::string_view line = head.substr(0, end);
  head.remove_prefix(end == std::string_view::npos ? head.size() : end + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
  }
}

}  // namespace

void HttpRequestParser::feed(std::string_view bytes) {
  if (failed_) return;
  if (consumed_ > 0) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
  buffer_.append(bytes);
}

HttpRequestParser::Status HttpRequestParser::fail(HttpError& error, int status, std::string reason) {
  failed_ = true;
  failure_ = HttpError{status, std::move(reason)};
  buffer_.clear();
  consumed_ = 0;
  error = failure_;
  return Status::kError;
}

HttpRequestParser::Status HttpRequestParser::next(HttpRequest& request, HttpError& error) {
  if (failed_) {
    error = failure_;
    return Status::kError;
  }
  const std::string_view pending = std::string_view(buffer_).substr(consumed_);
  // The head ends at the first empty line (CRLF CRLF, or bare LFs).
  size_t end = std::string_view::npos;
  size_t end_length = 0;
  for (size_t i = pending.find('\n'); i != std::string_view::npos; i = pending.find('\n', i + 1)) {
    if (i + 1 < pending.size() && pending[i + 1] == '\n') {
      end = i + 1;
      end_length = 1;
      break;
    }
    if (i + 2 < pending.size() && pending[i + 1] == '\r' && pending[i + 2] == '\n') {
      end = i + 1;
      end_length = 2;
      break;
    }
  }
  if (end == std::string_view::npos) {
    if (pending.size() > head_bytes_max_) return fail(error, 431, "request head over " + std::to_string(head_bytes_max_) + " bytes");
    return Status::kNeedMore;
  }
  if (end + end_length > head_bytes_max_) {
    return fail(error, 431, "request head over " + std::to_string(head_bytes_max_) + " bytes");
  }
  const std::string_view head = pending.substr(0, end);
  consumed_ += end + end_length;
  request = HttpRequest{};
  if (!parse_head(head, request, error)) return fail(error, error.status, error.reason);
  return Status::kRequest;
}

bool HttpRequestParser::parse_head(std::string_view head, HttpRequest& request, HttpError& error) {
  auto refuse = [&](int status, std::string reason) {
    error = HttpError{status, std::move(reason)};
    return false;
  };
  std::string_view line = take_line(head);
  const size_t first_space = line.find(' ');
  const size_t second_space = first_space == std::string_view::npos ? first_space : line.find(' ', first_space + 1);
  if (second_space == std::string_view::npos || line.find(' ', second_space + 1) != std::string_view::npos) {
    return refuse(400, "malformed request line");
  }
  const std::string_view method = line.substr(0, first_space);
  const std::string_view target = line.substr(first_space + 1, second_space - first_space - 1);
  const std::string_view version = line.substr(second_space + 1);
  if (!is_token(method)) return refuse(400, "malformed method");
  if (target.empty() || target.front() != '/' ||
      !std::all_of(target.begin(), target.end(), [](char c) { return c > 0x20 && c < 0x7f; })) {
    return refuse(400, "malformed request target");
  }
  if (version.size() != 8 || version.substr(0, 7) != "HTTP/1.") return refuse(400, "malformed HTTP version");
  if (version[7] != '0' && version[7] != '1') return refuse(505, "only HTTP/1.0 and HTTP/1.1 are served");
  request.method = std::string(method);
  request.path = std::string(target.substr(0, target.find('?')));
  request.keep_alive = version[7] == '1';
  while (!head.empty()) {
    line = take_line(head);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) return refuse(400, "malformed header line");
    if (std::any_of(line.begin(), line.end(), [](char c) { return c == '\r' || c == '\0'; })) {
      return refuse(400, "control character in a header line");
    }
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = trim(line.substr(colon + 1));
    if (equals_ignoring_case(name, "Content-Length") && value != "0") return refuse(400, "a request body is not accepted");
    if (equals_ignoring_case(name, "Transfer-Encoding")) return refuse(400, "a request body is not accepted");
    if (equals_ignoring_case(name, "Connection") && equals_ignoring_case(value, "close")) request.keep_alive = false;
  }
  return true;
}

Route route(const HttpRequest& request) {
  if (request.path != "/metrics") return Route::kNotFound;
  if (request.method != "GET") return Route::kMethodNotAllowed;
  return Route::kMetrics;
}

std::string http_response(int status, std::string_view content_type, std::string_view body, bool close) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + ' ' + std::string(reason_phrase(status)) + "\r\n";
  out += "Content-Type: ";
  out += content_type;
  out += "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  if (status == 405) out += "Allow: GET\r\n";
  if (close) out += "Connection: close\r\n";
  out += "\r\n";
  out += body;
  return out;
}

}  // namespace ringkv::metrics
