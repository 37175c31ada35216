#pragma once

#include <string>
#include <vector>

#include "messages/build.hpp"
#include "messages/build_request.hpp"
#include "messages/job.hpp"

/// The jsonb columns of the PostgreSQL adapter. PostgreSQL text holds neither
/// NUL bytes nor invalid UTF-8, so a string that is not such text is kept as
/// {"hex": "..."}: any bytes survive a round trip. Private to the adapter;
/// decoding malformed input throws `failure`.
namespace conveyor::postgres {

/// True if `x` can be stored in a text column: valid UTF-8 without NUL.
bool is_text(const std::string& x);

/// Encodes one string as a JSON scalar for a jsonb column.
std::string encode_string(const std::string& x);

/// Decodes `text` made by `encode_string`.
std::string decode_string(const std::string& text);

/// Encodes every field of a build request.
std::string encode_request(const build_request& x);

/// Decodes `text` made by `encode_request`.
build_request decode_request(const std::string& text);

/// Encodes what a job runs: everything in `x` except the ids, index, attempt
/// and allow_failure, which have columns of their own.
std::string encode_spec(const job_spec& x);

/// Decodes `text` made by `encode_spec` into `x`, leaving the fields with
/// columns of their own untouched.
void decode_spec(const std::string& text, job_spec& x);

/// Encodes a build's config messages as a JSON array.
std::string encode_messages(const std::vector<config_message>& xs);

/// Decodes `text` made by `encode_messages`.
std::vector<config_message> decode_messages(const std::string& text);

} // namespace conveyor::postgres
