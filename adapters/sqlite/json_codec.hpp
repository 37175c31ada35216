#pragma once

#include <string>
#include <vector>

#include "messages/build.hpp"
#include "messages/job.hpp"

/// JSON columns of the SQLite adapter. Strings that are not valid UTF-8 are
/// kept exactly (as {"hex": "..."}), so any bytes survive a round trip.
namespace conveyor::sqlite {

/// Encodes what a job runs: everything in `x` except the ids, index, attempt
/// and allow_failure, which have columns of their own.
std::string encode_spec(const job_spec& x);

/// Decodes `text` made by `encode_spec` into `x`, leaving the fields with
/// columns of their own untouched; throws `failure` on malformed input.
void decode_spec(const std::string& text, job_spec& x);

/// Encodes a build's config messages as a JSON array.
std::string encode_messages(const std::vector<config_message>& xs);

/// Decodes `text` made by `encode_messages`; throws `failure` on malformed input.
std::vector<config_message> decode_messages(const std::string& text);

} // namespace conveyor::sqlite
