#pragma once

#include <string>
#include <vector>

/// Keeps the password of a PostgreSQL connection string out of logs and
/// errors. Private to the PostgreSQL adapter.
namespace conveyor::postgres {

/// Returns the secrets of `url`: the password of a URI
/// (`postgresql://user:secret@host/db`, or `?password=secret`) or of a
/// key/value string (`password=secret`), as written and percent-decoded;
/// empty if there is none.
std::vector<std::string> secrets_of(const std::string& url);

/// Returns `text` with every secret of `url` replaced by "***".
std::string scrub(std::string text, const std::string& url);

/// Returns `url` with its password replaced by "***": what may be logged.
std::string redact(const std::string& url);

} // namespace conveyor::postgres
