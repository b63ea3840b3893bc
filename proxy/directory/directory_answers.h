// What podgate makes of a directory's HTTP answer, apart from any I/O: the
// answer of podgate-directory to GET /v1/lookup (see
// backend-directory/lookup_answer.h) and the headers of an nginx auth_http
// service (see auth_http_directory.h). Pure functions, so unit tests and
// fuzzers link this library alone.
#pragma once

#include <string>

#include "backend-directory/directory.h"
#include "backend-directory/lookup_answer.h"
#include "core/http/http_message.h"
#include "proxy/directory/directory_client.h"

namespace podgate::proxy {

// One podgate-directory answer, before HttpDirectory decides about its cache
// and the next URL.
struct DirectoryAnswer {
  enum class Kind {
    Found,         // `lookup` holds the route and how long it may be cached
    UnknownUser,   // 404 {"error": "unknown user"}: worth caching briefly
    UnusableName,  // 400: the directory cannot look this name up; no outage
    Failed,        // anything else: `problem` says why; the next URL may know
  };
  Kind kind = Kind::Failed;
  directory::LookupAnswer lookup;
  std::string problem;
};

// Never throws: an answer that does not parse or decode is Failed.
DirectoryAnswer interpret_directory_answer(const core::http::Response& response);

// The auth_http answer's headers as a lookup result.
LookupResult interpret_auth_http_answer(const core::http::Response& response,
                                        directory::Protocol protocol);

}  // namespace podgate::proxy
