#include "agent/sentry/envelope.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>

#include "agent/sentry/json_paths.h"
#include "common/messages.h"

namespace rollgate::agent::sentry {
namespace {

// At most kMaxSentryTextBytes, cut on a UTF-8 character boundary.
std::string clipped(std::string_view text) {
  if (text.size() <= kMaxSentryTextBytes) return std::string(text);
  std::size_t end = kMaxSentryTextBytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end));
}

std::string_view textOf(const JsonScalar& value) {
  if (const auto* s = std::get_if<std::string_view>(&value)) return *s;
  return {};
}

bool isErrorLevel(std::string_view level) { return level == "error" || level == "fatal"; }

// Reads one event, keeping the outermost exception (the last of exception.values) and, in its
// stack trace, the top in-app frame (the last frame with in_app true; without any, the last).
class EventReader {
 public:
  Result<SentryEvent> read(std::string_view json, std::string_view what) {
    JsonVisitor visitor;
    visitor.scalar = [this](std::string_view path, const JsonScalar& v) { scalar(path, v); };
    visitor.objectEnd = [this](std::string_view path) { objectEnd(path); };
    if (Status read = visitJson(json, visitor, what); !read) return read.error();
    if (!sawObject_) return makeError(std::string(what) + ": expected a JSON object");
    event_.error = isErrorLevel(event_.level);
    event_.exception = !exceptionType_.empty() || exceptions_ > 0;
    if (event_.exception) {
      event_.type = clipped(exceptionType_.empty() ? "(unknown)" : exceptionType_);
      event_.frame = clipped(inAppFrame_.empty() ? anyFrame_ : inAppFrame_);
      event_.message = clipped(exceptionValue_);
    } else {
      event_.message = clipped(message_);
    }
    return event_;
  }

 private:
  void scalar(std::string_view path, const JsonScalar& v) {
    constexpr std::string_view kExc = "exception.values[].";
    if (path == "level") {
      event_.level = clipped(textOf(v));
    } else if (path == "release") {
      event_.release = clipped(textOf(v));
    } else if (path == "message" || path == "message.formatted" || path == "logentry.formatted" ||
               (path == "logentry.message" && message_.empty())) {
      message_ = clipped(textOf(v));
    } else if (path.starts_with(kExc)) {
      std::string_view rest = path.substr(kExc.size());
      if (rest == "type") {
        current_.type = clipped(textOf(v));
      } else if (rest == "value") {
        current_.value = clipped(textOf(v));
      } else if (rest == "module") {
        current_.module = clipped(textOf(v));
      } else if (rest == "mechanism.handled") {
        if (const auto* b = std::get_if<bool>(&v); b != nullptr && !*b) event_.unhandled = true;
      } else if (rest == "stacktrace.frames[].in_app") {
        const auto* b = std::get_if<bool>(&v);
        frame_.inApp = b != nullptr && *b;
      } else if (rest == "stacktrace.frames[].module") {
        frame_.module = clipped(textOf(v));
      } else if (rest == "stacktrace.frames[].function") {
        frame_.function = clipped(textOf(v));
      } else if (rest == "stacktrace.frames[].filename") {
        frame_.filename = clipped(textOf(v));
      }
    }
  }

  void objectEnd(std::string_view path) {
    if (path.empty()) {
      sawObject_ = true;
    } else if (path == "exception.values[].stacktrace.frames[]") {
      std::string where = frame_.module.empty() ? frame_.filename : frame_.module;
      std::string text = where.empty() ? frame_.function : where + "." + frame_.function;
      current_.anyFrame = text;
      if (frame_.inApp) current_.inAppFrame = text;
      frame_ = {};
    } else if (path == "exception.values[]") {
      // The last exception in the list is the outermost one: it names the event.
      ++exceptions_;
      exceptionType_ = current_.module.empty() || current_.type.empty()
                           ? current_.type
                           : current_.module + "." + current_.type;
      exceptionValue_ = current_.value;
      inAppFrame_ = current_.inAppFrame;
      anyFrame_ = current_.anyFrame;
      current_ = {};
    }
  }

  struct Frame {
    bool inApp = false;
    std::string module, function, filename;
  };
  struct Exception {
    std::string type, value, module, inAppFrame, anyFrame;
  };
  SentryEvent event_;
  bool sawObject_ = false;
  std::string message_;
  Frame frame_;
  Exception current_;
  std::uint64_t exceptions_ = 0;
  std::string exceptionType_, exceptionValue_, inAppFrame_, anyFrame_;
};

// One `session` item: a started session (init) and, at its end, how it ended.
Status readSession(std::string_view json, std::string_view what, SessionCounts& counts) {
  bool init = false;
  std::string status;
  std::uint64_t errors = 0;
  JsonVisitor visitor;
  visitor.scalar = [&](std::string_view path, const JsonScalar& v) {
    if (path == "init") {
      const auto* b = std::get_if<bool>(&v);
      init = b != nullptr && *b;
    } else if (path == "status") {
      status = clipped(textOf(v));
    } else if (path == "errors") {
      errors = countOf(v);
    }
  };
  if (Status read = visitJson(json, visitor, what); !read) return read;
  if (init) counts.started += 1;
  if (status == "crashed") {
    counts.crashed += 1;
  } else if (status == "abnormal") {
    counts.abnormal += 1;
  } else if (status == "exited" && errors > 0) {
    counts.errored += 1;
  }
  return {};
}

// One `sessions` item: aggregates, each bucket counting finished sessions by how they ended.
Status readAggregates(std::string_view json, std::string_view what, SessionCounts& counts) {
  JsonVisitor visitor;
  visitor.scalar = [&](std::string_view path, const JsonScalar& v) {
    constexpr std::string_view kAgg = "aggregates[].";
    if (!path.starts_with(kAgg)) return;
    std::string_view field = path.substr(kAgg.size());
    std::uint64_t n = std::min<std::uint64_t>(countOf(v), 1'000'000'000);
    if (field == "exited") {
      counts.started += n;
    } else if (field == "errored") {
      counts.started += n;
      counts.errored += n;
    } else if (field == "crashed") {
      counts.started += n;
      counts.crashed += n;
    } else if (field == "abnormal") {
      counts.started += n;
      counts.abnormal += n;
    }
  };
  return visitJson(json, visitor, what);
}

Status readItem(std::string_view type, std::string_view payload, std::size_t index,
                ParsedEnvelope& out, std::uint64_t& sessionItems) {
  std::string what = std::string(type) + " item " + std::to_string(index);
  if (type == "event") {
    if (payload.size() > kSentryMaxEventBytes) {
      out.oversizedItems += 1;
      return {};
    }
    EventReader reader;
    auto event = reader.read(payload, what);
    if (!event) return event.error();
    out.events.push_back(std::move(*event));
  } else if (type == "session" || type == "sessions") {
    if (++sessionItems > kSentryMaxSessionsPerEnvelope) {
      out.excessSessions += 1;
      return {};
    }
    return type == "session" ? readSession(payload, what, out.sessions)
                             : readAggregates(payload, what, out.sessions);
  } else {
    out.skippedItems += 1;
  }
  return {};
}

std::string_view nextLine(std::string_view body, std::size_t& pos) {
  std::size_t end = body.find('\n', pos);
  if (end == std::string_view::npos) end = body.size();
  std::string_view line = body.substr(pos, end - pos);
  pos = std::min(body.size(), end + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

bool isBlank(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; });
}

}  // namespace

Result<ParsedEnvelope> parseEnvelope(std::string_view body) {
  ParsedEnvelope out;
  std::size_t pos = 0;
  std::string_view header = nextLine(body, pos);
  bool headerObject = false;
  JsonVisitor headerVisitor;
  headerVisitor.scalar = [&](std::string_view path, const JsonScalar& v) {
    if (path == "dsn") {
      if (auto key = keyFromDsn(textOf(v))) out.dsnKey = clipped(*key);
    }
  };
  headerVisitor.objectEnd = [&](std::string_view path) { headerObject |= path.empty(); };
  if (Status read = visitJson(header, headerVisitor, "envelope header"); !read) return read.error();
  if (!headerObject) return makeError("envelope header: expected a JSON object");
  std::uint64_t sessionItems = 0;
  for (std::size_t index = 1; pos < body.size(); ++index) {
    std::string_view itemHeader = nextLine(body, pos);
    if (isBlank(itemHeader)) {
      if (pos >= body.size()) break;  // trailing newlines
      return makeError("envelope item " + std::to_string(index) + ": empty item header");
    }
    std::string type;
    std::optional<std::uint64_t> length;
    bool lengthInvalid = false;
    JsonVisitor itemVisitor;
    itemVisitor.scalar = [&](std::string_view path, const JsonScalar& v) {
      if (path == "type") type = clipped(textOf(v));
      if (path == "length") {
        if (std::holds_alternative<std::uint64_t>(v)) {
          length = std::get<std::uint64_t>(v);
        } else {
          lengthInvalid = true;
        }
      }
    };
    std::string what = "envelope item " + std::to_string(index) + " header";
    if (Status read = visitJson(itemHeader, itemVisitor, what); !read) return read.error();
    if (type.empty()) return makeError(what + ": missing \"type\"");
    if (lengthInvalid) return makeError(what + ": \"length\" is not a non-negative integer");
    std::string_view payload;
    if (length) {
      if (*length > body.size() - pos) {
        return makeError(what + ": length " + std::to_string(*length) + " runs past the end (" +
                         std::to_string(body.size() - pos) + " bytes left)");
      }
      payload = body.substr(pos, *length);
      pos += *length;
      if (pos < body.size() && body[pos] == '\n') ++pos;
    } else {
      payload = nextLine(body, pos);
    }
    if (Status item = readItem(type, payload, index, out, sessionItems); !item) {
      return item.error();
    }
  }
  return out;
}

Result<ParsedEnvelope> parseStoreBody(std::string_view body) {
  ParsedEnvelope out;
  if (body.size() > kSentryMaxEventBytes) {
    out.oversizedItems = 1;
    return out;
  }
  EventReader reader;
  auto event = reader.read(body, "store event");
  if (!event) return event.error();
  out.events.push_back(std::move(*event));
  return out;
}

InflateStatus inflateBody(std::string_view compressed, std::size_t maxBytes, std::string& out,
                          std::string& error) {
  out.clear();
  z_stream stream{};
  // 32 + MAX_WBITS: gzip or zlib header, detected.
  if (inflateInit2(&stream, 32 + MAX_WBITS) != Z_OK) {
    error = "inflateInit2 failed";
    return InflateStatus::kMalformed;
  }
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  char chunk[16384];
  InflateStatus status = InflateStatus::kOk;
  for (;;) {
    stream.next_out = reinterpret_cast<Bytef*>(chunk);
    stream.avail_out = sizeof chunk;
    int rc = inflate(&stream, Z_NO_FLUSH);
    std::size_t produced = sizeof chunk - stream.avail_out;
    if (out.size() + produced > maxBytes) {
      error = "decompressed body exceeds " + std::to_string(maxBytes) + " bytes";
      status = InflateStatus::kTooLarge;
      break;
    }
    out.append(chunk, produced);
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK || (stream.avail_in == 0 && produced == 0)) {
      error = std::string("not a valid gzip or zlib stream") +
              (stream.msg != nullptr ? std::string(": ") + stream.msg : std::string());
      status = InflateStatus::kMalformed;
      break;
    }
  }
  inflateEnd(&stream);
  if (status != InflateStatus::kOk) out.clear();
  return status;
}

std::optional<std::string> keyFromAuthHeader(std::string_view header) {
  std::size_t at = header.find("sentry_key=");
  while (at != std::string_view::npos && at > 0 && header[at - 1] != ' ' && header[at - 1] != ',') {
    at = header.find("sentry_key=", at + 1);
  }
  if (at == std::string_view::npos) return std::nullopt;
  std::size_t begin = at + 11;
  std::size_t end = header.find_first_of(", ", begin);
  if (end == std::string_view::npos) end = header.size();
  if (end == begin) return std::nullopt;
  return std::string(header.substr(begin, end - begin));
}

std::optional<std::string> keyFromDsn(std::string_view dsn) {
  std::size_t scheme = dsn.find("://");
  if (scheme == std::string_view::npos) return std::nullopt;
  std::size_t begin = scheme + 3;
  std::size_t at = dsn.find('@', begin);
  std::size_t slash = dsn.find('/', begin);
  if (at == std::string_view::npos || (slash != std::string_view::npos && slash < at)) {
    return std::nullopt;
  }
  std::string_view user = dsn.substr(begin, at - begin);
  user = user.substr(0, user.find(':'));
  if (user.empty()) return std::nullopt;
  return std::string(user);
}

Result<DsnTarget> parseDsn(std::string_view dsn) {
  auto fail = [&](const std::string& why) {
    return makeError("DSN \"" + std::string(dsn) + "\": " + why +
                     " (expected http[s]://<key>@<host>[:port][/path]/<project>)");
  };
  if (!dsn.starts_with("http://") && !dsn.starts_with("https://")) {
    return fail("scheme is not http or https");
  }
  auto key = keyFromDsn(dsn);
  if (!key) return fail("no public key before '@'");
  std::size_t scheme = dsn.find("://") + 3;
  std::size_t at = dsn.find('@', scheme);
  std::string_view rest = dsn.substr(at + 1);
  while (rest.ends_with('/')) rest.remove_suffix(1);
  std::size_t slash = rest.rfind('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == rest.size()) {
    return fail("no project id after the host");
  }
  DsnTarget target;
  target.base = std::string(dsn.substr(0, scheme)) + std::string(rest.substr(0, slash));
  target.project = std::string(rest.substr(slash + 1));
  target.key = *key;
  return target;
}

}  // namespace rollgate::agent::sentry
