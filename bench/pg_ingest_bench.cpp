// Log ingestion into PostgreSQL: parts sent in shuffled order through the log
// sequencer into the PostgreSQL store, against a raw `\copy` of the same rows
// with psql into a table shaped like the store's, on the same server in the
// same run. See bench/README.md.
//
// It starts no server: give one with --db URL or $CONVEYOR_BENCH_PG_URL, e.g.
//   tests/adapters/postgres/pg-server.sh start /tmp/pg-bench
//   build/bench/pg_ingest_bench --db "$(cat /tmp/pg-bench/url)"
//   tests/adapters/postgres/pg-server.sh stop /tmp/pg-bench
// Each run works in fresh databases of its own on that server (created and
// dropped here), so the URL's database is never written.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <pqxx/connection>
#include <pqxx/nontransaction>
#include <spdlog/spdlog.h>

#include "actors/log_sequencer/log_sequencer_actor.hpp"
#include "adapters/postgres/postgres_store_actor.hpp"
#include "messages/error.hpp"
#include "messages/type_ids.hpp"

using namespace conveyor;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

struct options {
  std::string db;           ///< server URL (any database on it)
  int jobs = 1000;
  int parts = 500;          ///< per job
  int size = 100;           ///< bytes per part
  int runs = 2;             ///< raw COPY and store path, alternating
  int feeders = 64;         ///< actors sending parts, like workers
  int window = 500;         ///< unacknowledged parts per feeder
  unsigned seed = 1;
  std::string psql = "psql";
  bool copy = true;         ///< --copy 0: the store path alone (profiling)
};

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "pg_ingest_bench: %s\n", what.c_str());
  std::exit(1);
}

options parse(int argc, char** argv) {
  options o;
  if (auto env = std::getenv("CONVEYOR_BENCH_PG_URL"))
    o.db = env;
  for (int i = 1; i < argc; i += 2) {
    std::string key = argv[i];
    if (i + 1 >= argc)
      die("missing value for " + key);
    std::string value = argv[i + 1];
    if (key == "--db")
      o.db = value;
    else if (key == "--jobs")
      o.jobs = std::stoi(value);
    else if (key == "--parts")
      o.parts = std::stoi(value);
    else if (key == "--size")
      o.size = std::stoi(value);
    else if (key == "--runs")
      o.runs = std::stoi(value);
    else if (key == "--feeders")
      o.feeders = std::stoi(value);
    else if (key == "--window")
      o.window = std::stoi(value);
    else if (key == "--seed")
      o.seed = static_cast<unsigned>(std::stoul(value));
    else if (key == "--psql")
      o.psql = value;
    else if (key == "--copy")
      o.copy = value != "0";
    else
      die("unknown option " + key);
  }
  if (o.db.empty())
    die("no server: give --db postgresql://USER@HOST:PORT/DB or set "
        "CONVEYOR_BENCH_PG_URL; for a throwaway one run "
        "tests/adapters/postgres/pg-server.sh start DIR and use DIR/url");
  if (o.jobs < 1 || o.parts < 1 || o.size < 1 || o.runs < 1 || o.feeders < 1
      || o.window < 1)
    die("--jobs, --parts, --size, --runs, --feeders and --window must be "
        "positive");
  return o;
}

/// `url` (a URI) with its database replaced by `name`.
std::string with_database(const std::string& url, const std::string& name) {
  auto scheme = url.find("://");
  if (scheme == std::string::npos)
    die("the URL must be a URI (postgresql://...)");
  auto slash = url.find('/', scheme + 3);
  auto query = url.find('?', scheme + 3);
  auto tail = query == std::string::npos ? std::string{} : url.substr(query);
  return url.substr(0, std::min(slash, query)) + "/" + name + tail;
}

/// A fresh database on the server, dropped at the end.
class scratch_database {
public:
  scratch_database(const std::string& server_url, std::string name)
    : server_url_(server_url), name_(std::move(name)),
      url_(with_database(server_url, name_)) {
    exec_admin("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    exec_admin("CREATE DATABASE " + name_);
  }

  ~scratch_database() {
    try {
      exec_admin("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (...) {
      // Left for the server's owner to drop.
    }
  }

  const std::string& url() const {
    return url_;
  }

  int64_t query_int(const std::string& sql) const {
    pqxx::connection conn{url_};
    pqxx::nontransaction tx{conn};
    auto r = tx.exec(sql);
    return r.empty() || r[0][0].is_null() ? 0 : r[0][0].as<int64_t>();
  }

private:
  void exec_admin(const std::string& sql) const {
    pqxx::connection conn{server_url_};
    pqxx::nontransaction tx{conn};
    tx.exec(sql);
  }

  std::string server_url_;
  std::string name_;
  std::string url_;
};

/// The parts of every job, shuffled over all jobs.
std::vector<log_part> make_parts(const options& o) {
  std::vector<log_part> result;
  result.reserve(static_cast<size_t>(o.jobs) * static_cast<size_t>(o.parts));
  for (int j = 0; j < o.jobs; ++j)
    for (int n = 0; n < o.parts; ++n) {
      auto text = "job " + std::to_string(j + 1) + " part " + std::to_string(n)
                  + " ";
      text.resize(static_cast<size_t>(o.size) - 1, 'x');
      text += '\n';
      result.push_back(log_part{j + 1, 1, n, std::move(text), n + 1 == o.parts});
    }
  std::mt19937 rng{o.seed};
  std::shuffle(result.begin(), result.end(), rng);
  return result;
}

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)
         + static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

std::string shell_quote(const std::string& x) {
  std::string result = "'";
  for (auto c : x)
    result += c == '\'' ? std::string{"'\\''"} : std::string(1, c);
  return result + "'";
}

// -- raw COPY -----------------------------------------------------------------

/// Writes the parts as COPY text (bytea in hex) to `path`.
void write_copy_file(const std::vector<log_part>& parts,
                     const std::string& path) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string line;
  std::ofstream out{path, std::ios::binary};
  for (const auto& p : parts) {
    line = std::to_string(p.job_id) + '\t' + std::to_string(p.attempt) + '\t'
           + std::to_string(p.number) + "\t\\\\x";
    for (unsigned char c : p.content) {
      line += digits[c >> 4];
      line += digits[c & 0x0F];
    }
    line += p.final ? "\tt\n" : "\tf\n";
    out << line;
  }
  if (!out.flush())
    die("cannot write " + path);
}

/// `\copy` of the file into the store's own log_parts table (made by the
/// store's migrations, primary key included) of a fresh database; rows/s as
/// psql's wall time.
double raw_copy(const options& o, size_t rows, const std::string& file,
                const std::string& name) {
  scratch_database db{o.db, name};
  {
    caf::actor_system_config cfg;
    register_message_types(cfg);
    caf::actor_system sys{cfg};
    auto store = spawn_postgres_store(sys, db.url()); // migrations only
    if (!store)
      die("cannot open the store: " + describe(store.error()));
    caf::anon_send_exit(*store, caf::exit_reason::user_shutdown);
  }
  auto cmd = o.psql + " -X -q -v ON_ERROR_STOP=1 -d " + shell_quote(db.url())
             + " -c " + shell_quote("\\copy log_parts (job_id, attempt, "
                                    "number, content, final) FROM '"
                                    + file + "'");
  auto t0 = clock_type::now();
  if (std::system(cmd.c_str()) != 0)
    die("psql \\copy failed: " + cmd);
  auto seconds = seconds_since(t0);
  auto stored = db.query_int("SELECT count(*) FROM log_parts");
  if (stored != static_cast<int64_t>(rows))
    die("raw COPY stored " + std::to_string(stored) + " rows");
  return static_cast<double>(rows) / seconds;
}

// -- the store path -----------------------------------------------------------

using done_atom = caf::atom_constant<caf::atom("done")>;

struct feed_context {
  log_sequencer_actor seq;
  std::vector<log_part> parts;
  size_t window = 0;
  size_t next = 0;  ///< the next part to send
  size_t acked = 0;
  caf::actor done_to;
};

using feed_ptr = std::shared_ptr<feed_context>;

void feed_next(caf::event_based_actor* self, const feed_ptr& ctx);

// Sends part `i`; again if it is not acknowledged, as workers do.
void feed(caf::event_based_actor* self, const feed_ptr& ctx, size_t i) {
  self->request(ctx->seq, caf::infinite, ctx->parts[i])
    .then(
      [self, ctx](bool) {
        if (++ctx->acked == ctx->parts.size()) {
          self->send(ctx->done_to, done_atom::value);
          self->quit();
          return;
        }
        feed_next(self, ctx);
      },
      [self, ctx, i](const caf::error&) { feed(self, ctx, i); });
}

void feed_next(caf::event_based_actor* self, const feed_ptr& ctx) {
  if (ctx->next < ctx->parts.size())
    feed(self, ctx, ctx->next++);
}

// Sends its parts to the sequencer without waiting for each, like a worker,
// with at most `window` unacknowledged (CAF 0.17 looks pending responses up
// in a flat map: an unbounded number would make the sender the bottleneck);
// tells `done_to` once every part is acknowledged (stored).
caf::behavior feeder(caf::event_based_actor* self, feed_ptr ctx) {
  for (size_t i = 0; i < ctx->window; ++i)
    feed_next(self, ctx);
  if (ctx->parts.empty()) {
    self->send(ctx->done_to, done_atom::value);
    self->quit();
  }
  return {[](done_atom) {}};
}

double metric(const metric_families& xs, const std::string& name) {
  for (const auto& x : xs)
    if (x.name == name && !x.samples.empty())
      return x.samples.front().value;
  return 0;
}

struct store_result {
  double rows_per_s = 0;
  double acked_s = 0;     ///< until every part was acknowledged
  double completed_s = 0; ///< until every log was aggregated
  double batches = 0;     ///< sequencer write batches
  double cpu_s = 0;       ///< this process (actors, libpq) over the run
  double store_busy_s = 0; ///< the store's time in write transactions
  double store_txns = 0;   ///< write transactions (a group commit is one)
};

// Reads the `_sum` or `_count` sample of a histogram.
double histogram_part(const metric_families& xs, const std::string& name,
                      const std::string& suffix) {
  for (const auto& x : xs)
    if (x.name == name)
      for (const auto& sample : x.samples)
        if (sample.suffix == suffix)
          return sample.value;
  return 0;
}

store_result store_path(const options& o, const std::vector<log_part>& parts,
                        const std::string& name) {
  scratch_database db{o.db, name};
  caf::actor_system_config cfg;
  register_message_types(cfg);
  cfg.set("scheduler.max-threads", 2);
  cfg.set("scheduler.policy", caf::atom("sharing"));
  caf::actor_system sys{cfg};
  auto store = spawn_postgres_store(sys, db.url());
  if (!store)
    die("cannot open the store: " + describe(store.error()));
  auto seq = spawn_log_sequencer(sys, *store);
  caf::scoped_actor self{sys};
  auto sequencer_metrics = [&self, &seq] {
    metric_families result;
    self->request(seq, 10s, fetch_atom::value, metrics_atom::value)
      .receive([&result](metric_families& xs) { result = std::move(xs); },
               [](caf::error& err) { die("metrics: " + describe(err)); });
    return result;
  };
  // The sequencer resumes the (no) open logs first.
  std::this_thread::sleep_for(200ms);
  std::vector<feed_ptr> shares;
  for (int f = 0; f < o.feeders; ++f)
    shares.push_back(std::make_shared<feed_context>(
      feed_context{seq, {}, static_cast<size_t>(o.window), 0, 0,
                   caf::actor{self}}));
  for (size_t i = 0; i < parts.size(); ++i)
    shares[i % shares.size()]->parts.push_back(parts[i]);
  store_result r;
  auto cpu0 = cpu_seconds();
  auto t0 = clock_type::now();
  for (auto& share : shares)
    sys.spawn(feeder, share);
  for (int f = 0; f < o.feeders; ++f)
    self->receive([](done_atom) {},
                  caf::after(std::chrono::seconds(600)) >>
                    [] { die("parts not acknowledged within 600 s"); });
  r.acked_s = seconds_since(t0);
  for (;;) {
    auto m = sequencer_metrics();
    if (metric(m, "conveyor_logs_completed_total") >= o.jobs) {
      r.batches = metric(m, "conveyor_log_write_batches_total");
      break;
    }
    if (seconds_since(t0) > 600)
      die("logs not completed within 600 s");
    std::this_thread::sleep_for(1ms);
  }
  r.completed_s = seconds_since(t0);
  r.cpu_s = cpu_seconds() - cpu0;
  r.rows_per_s = static_cast<double>(parts.size()) / r.completed_s;
  self->request(*store, 10s, fetch_atom::value, metrics_atom::value)
    .receive(
      [&r](metric_families& xs) {
        r.store_busy_s = histogram_part(xs, "conveyor_store_transaction_seconds",
                                        "_sum");
        r.store_txns = histogram_part(xs, "conveyor_store_transaction_seconds",
                                      "_count");
      },
      [](caf::error& err) { die("store metrics: " + describe(err)); });
  caf::anon_send_exit(seq, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(*store, caf::exit_reason::user_shutdown);
  auto logs = db.query_int("SELECT count(*) FROM logs");
  auto bytes = db.query_int("SELECT sum(bytes) FROM logs");
  auto left = db.query_int("SELECT count(*) FROM log_parts");
  if (logs != o.jobs
      || bytes != static_cast<int64_t>(parts.size()) * o.size || left != 0)
    die("the store holds " + std::to_string(logs) + " logs of "
        + std::to_string(bytes) + " bytes and " + std::to_string(left)
        + " parts left");
  return r;
}

double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  auto n = xs.size();
  return n % 2 == 1 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

} // namespace

int main(int argc, char** argv) {
  auto o = parse(argc, argv);
  spdlog::set_level(spdlog::level::warn);
  auto parts = make_parts(o);
  auto file = "/tmp/conveyor-ingest-" + std::to_string(getpid()) + ".copy";
  write_copy_file(parts, file);
  auto base = "conveyor_ingest_bench_" + std::to_string(getpid());
  std::printf("%d jobs x %d parts of %d bytes = %zu rows, shuffled; %d "
              "feeders with %d parts unacknowledged each\n\n",
              o.jobs, o.parts, o.size, parts.size(), o.feeders, o.window);
  std::printf("| run | raw COPY rows/s | store rows/s | store / COPY "
              "| all acked s | all aggregated s | acked / COPY | part batches "
              "| parts/batch | store transactions | store busy s "
              "| bench CPU s |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  std::vector<double> copies, stores, ratios;
  for (int run = 1; run <= o.runs; ++run) {
    auto copy = o.copy ? raw_copy(o, parts.size(), file, base + "_copy") : 0.0;
    auto store = store_path(o, parts, base + "_store");
    copies.push_back(copy);
    stores.push_back(store.rows_per_s);
    ratios.push_back(store.rows_per_s / copy);
    // Parts acknowledged are committed in log_parts: the rows the raw COPY
    // writes, before the aggregation the raw COPY does not do.
    auto acked_rate = static_cast<double>(parts.size()) / store.acked_s;
    std::printf("| %d | %.0f | %.0f | %.0f %% | %.2f | %.2f | %.0f %% | %.0f "
                "| %.0f | %.0f | %.2f | %.2f |\n",
                run, copy, store.rows_per_s, 100 * ratios.back(),
                store.acked_s, store.completed_s, 100 * acked_rate / copy,
                store.batches,
                static_cast<double>(parts.size()) / std::max(1.0, store.batches),
                store.store_txns, store.store_busy_s, store.cpu_s);
    std::fflush(stdout);
  }
  std::remove(file.c_str());
  std::printf("| median | %.0f | %.0f | %.0f %% | | | | | | | | |\n",
              median(copies),
              median(stores), 100 * median(ratios));
}
