#pragma once

#include <string>

namespace voicegate::cli {

/// The answer of a blocking CLI request.
struct CliResponse {
    int status = 0;
    std::string body;
    std::string error;  // transport error; empty on success
};

/// POSTs JSON to a running voicegate (plain http, for `voicegate token`). Blocking: only for the
/// command line, never on an event loop.
CliResponse cli_post_json(const std::string& base_url, const std::string& path,
                          const std::string& body, const std::string& bearer, int timeout_ms);

}  // namespace voicegate::cli
