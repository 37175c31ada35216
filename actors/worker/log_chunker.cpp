#include "actors/worker/log_chunker.hpp"

#include <algorithm>
#include <iterator>
#include <utility>

namespace conveyor {

log_chunker::log_chunker(int64_t job_id, int32_t attempt,
                         log_chunker_config cfg)
  : job_id_(job_id), attempt_(attempt), cfg_(cfg) {
  // A zero size would never make progress.
  cfg_.max_part_bytes = std::max<size_t>(cfg_.max_part_bytes, 1);
}

std::vector<log_part> log_chunker::write(std::string_view bytes,
                                         clock::time_point now) {
  std::vector<log_part> result;
  if (finished_ || bytes.empty())
    return result;
  if (pending_.empty())
    oldest_ = now;
  pending_.append(bytes.data(), bytes.size());
  bytes_written_ += static_cast<int64_t>(bytes.size());
  ends_with_newline_ = bytes.back() == '\n';
  auto before = result.size();
  cut_full_parts(result);
  // Whatever is left after a size cut arrived just now.
  if (result.size() != before)
    oldest_ = now;
  auto due = tick(now);
  std::move(due.begin(), due.end(), std::back_inserter(result));
  return result;
}

std::vector<log_part> log_chunker::tick(clock::time_point now) {
  std::vector<log_part> result;
  if (finished_ || pending_.empty() || now - oldest_ < cfg_.max_delay)
    return result;
  result.push_back(make_part(std::exchange(pending_, {}), false));
  return result;
}

std::vector<log_part> log_chunker::finish(std::string_view last_text) {
  std::vector<log_part> result;
  if (finished_)
    return result;
  if (!last_text.empty()) {
    if (!ends_with_newline_)
      pending_ += '\n';
    pending_.append(last_text.data(), last_text.size());
    if (last_text.back() != '\n')
      pending_ += '\n';
  }
  // Keep the final part non-empty whenever there is text at all.
  while (pending_.size() > cfg_.max_part_bytes) {
    result.push_back(
      make_part(pending_.substr(0, cfg_.max_part_bytes), false));
    pending_.erase(0, cfg_.max_part_bytes);
  }
  result.push_back(make_part(std::exchange(pending_, {}), true));
  finished_ = true;
  return result;
}

log_part log_chunker::make_part(std::string content, bool final) {
  log_part x;
  x.job_id = job_id_;
  x.attempt = attempt_;
  x.number = next_number_++;
  x.content = std::move(content);
  x.final = final;
  return x;
}

void log_chunker::cut_full_parts(std::vector<log_part>& out) {
  size_t offset = 0;
  while (pending_.size() - offset >= cfg_.max_part_bytes) {
    out.push_back(
      make_part(pending_.substr(offset, cfg_.max_part_bytes), false));
    offset += cfg_.max_part_bytes;
  }
  pending_.erase(0, offset);
}

} // namespace conveyor
