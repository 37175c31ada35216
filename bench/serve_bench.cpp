// Throughput and latency of `conveyor serve`: builds of a one-job config
// whose script is `true`, submitted over HTTP, on SQLite or (--db URL) on a
// fresh database of a PostgreSQL server. See bench/README.md.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <csignal>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "adapters/http/client.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;

namespace {

struct options {
  std::string conveyor = "build/app/conveyor";
  std::string executor = "process";
  int workers = 8;
  int builds = 1000;
  int idle = 100;
  int clients = 8;
  int crash_every_ms = 0; ///< crash the scheduler this often during the burst
  /// "sqlite" (in the data directory), or the URL of a PostgreSQL server: the
  /// benchmark makes a fresh database there with psql and drops it after.
  std::string db = "sqlite";
  std::string psql = "psql";
};

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "serve_bench: %s\n", what.c_str());
  std::exit(1);
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string key = argv[i];
    std::string value = argv[i + 1];
    if (key == "--conveyor")
      o.conveyor = value;
    else if (key == "--executor")
      o.executor = value;
    else if (key == "--workers")
      o.workers = std::stoi(value);
    else if (key == "--builds")
      o.builds = std::stoi(value);
    else if (key == "--idle")
      o.idle = std::stoi(value);
    else if (key == "--clients")
      o.clients = std::stoi(value);
    else if (key == "--crash-every-ms")
      o.crash_every_ms = std::stoi(value);
    else if (key == "--db")
      o.db = value;
    else if (key == "--psql")
      o.psql = value;
    else
      die("unknown option " + key);
  }
  return o;
}

std::string slurp(const fs::path& path) {
  std::ifstream in{path};
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

/// A field of /proc/<pid>/status in kB, e.g. VmRSS or VmHWM.
double status_kib(pid_t pid, const std::string& field) {
  std::istringstream in{slurp("/proc/" + std::to_string(pid) + "/status")};
  for (std::string line; std::getline(in, line);)
    if (line.compare(0, field.size() + 1, field + ":") == 0)
      return std::stod(line.substr(field.size() + 1));
  return 0;
}

/// User + system CPU seconds of the process itself (not of its children).
double cpu_seconds(pid_t pid) {
  auto text = slurp("/proc/" + std::to_string(pid) + "/stat");
  std::istringstream in{text.substr(text.rfind(')') + 2)};
  std::vector<std::string> fields{std::istream_iterator<std::string>(in), {}};
  return (std::stod(fields[11]) + std::stod(fields[12]))
         / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double percentile(std::vector<double> xs, double p) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  auto rank = static_cast<size_t>(p / 100.0 * static_cast<double>(xs.size() - 1) + 0.5);
  return xs[std::min(rank, xs.size() - 1)];
}

const std::string token = "bench-token";

struct server {
  pid_t pid = -1;
  uint16_t port = 0;

  server(const options& o, const fs::path& dir, const std::string& db_url) {
    auto out = dir / "serve.out";
    auto data = dir / "data";
    pid = fork();
    if (pid == 0) {
      auto fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      auto workers = std::to_string(o.workers);
      setenv("CONVEYOR_API_TOKEN", token.c_str(), 1);
      auto db = db_url.empty() ? std::string{"sqlite"} : db_url;
      execl(o.conveyor.c_str(), "conveyor", "serve", "--data", data.c_str(),
            "--db", db.c_str(), "--http", "127.0.0.1:0", "--workers",
            workers.c_str(), "--executor", o.executor.c_str(), "--log-level",
            "warn", "--enable-fault-injection", "--max-restarts", "100000",
            static_cast<char*>(nullptr));
      _exit(127);
    }
    const std::string marker = "listening on http://127.0.0.1:";
    for (int i = 0; i < 1000 && port == 0; ++i) {
      auto text = slurp(out);
      if (auto at = text.find(marker); at != std::string::npos)
        port = static_cast<uint16_t>(std::stoi(text.substr(at + marker.size())));
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (port == 0)
      die("serve did not start: " + slurp(out));
    while (call("GET", "/readyz").status != 200)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

  ~server() {
    kill(pid, SIGTERM);
    waitpid(pid, nullptr, 0);
  }

  conveyor::http::client_response call(const std::string& method,
                                       const std::string& target,
                                       const std::string& body = {},
                                       std::string request_id = {}) {
    std::map<std::string, std::string> headers{{"Authorization",
                                                "Bearer " + token}};
    if (!request_id.empty())
      headers["X-Request-Id"] = request_id;
    return conveyor::http::fetch("127.0.0.1", port, method, target, body,
                                 headers);
  }

  /// Submits a build, again with the same request id if a module restarts.
  int64_t submit(const std::string& body, int n) {
    auto id = "bench-" + std::to_string(getpid()) + "-" + std::to_string(n);
    for (int tries = 0; tries < 100; ++tries) {
      auto res = call("POST", "/api/builds", body, id);
      if (res.status == 201)
        return json::parse(res.body)["id"].get<int64_t>();
      if (res.status < 500)
        die("submit failed: " + res.body);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    die("submit kept failing");
  }

  bool finished(int64_t id) {
    auto res = call("GET", "/api/builds/" + std::to_string(id));
    if (res.status != 200)
      return false;
    auto state = json::parse(res.body)["state"];
    return state != "created" && state != "started";
  }
};

std::string shell_quote(const std::string& x) {
  std::string result = "'";
  for (auto c : x)
    result += c == '\'' ? std::string{"'\\''"} : std::string(1, c);
  return result + "'";
}

/// `url` (a URI) with its database replaced by `name`.
std::string with_database(const std::string& url, const std::string& name) {
  auto scheme = url.find("://");
  if (scheme == std::string::npos)
    die("--db wants sqlite or a postgres:// URL");
  auto slash = url.find('/', scheme + 3);
  auto query = url.find('?', scheme + 3);
  auto tail = query == std::string::npos ? std::string{} : url.substr(query);
  return url.substr(0, std::min(slash, query)) + "/" + name + tail;
}

/// A fresh PostgreSQL database for one run, made and dropped with psql.
struct scratch_database {
  std::string psql;
  std::string server_url;
  std::string name;

  scratch_database(std::string psql_in, std::string url)
    : psql(std::move(psql_in)), server_url(std::move(url)),
      name("conveyor_serve_bench_" + std::to_string(getpid())) {
    exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
    exec("CREATE DATABASE " + name);
  }

  ~scratch_database() {
    exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
  }

  std::string url() const {
    return with_database(server_url, name);
  }

  void exec(const std::string& sql) const {
    auto cmd = psql + " -X -q -v ON_ERROR_STOP=1 -d " + shell_quote(server_url)
               + " -c " + shell_quote(sql) + " >/dev/null";
    if (std::system(cmd.c_str()) != 0)
      die("psql failed: " + sql);
  }
};

std::string make_repo(const fs::path& dir) {
  auto repo = dir / "repo";
  fs::create_directories(repo);
  std::ofstream{repo / ".travis.yml"} << "git:\n  clone: false\nscript: true\n";
  auto cmd = "cd " + repo.string()
             + " && git init -q -b main && git add -A && git -c user.name=b "
               "-c user.email=b@b.invalid commit -qm bench";
  if (std::system(cmd.c_str()) != 0)
    die("cannot make the benchmark repository");
  return repo.string();
}

} // namespace

int main(int argc, char** argv) {
  auto o = parse(argc, argv);
  char pattern[] = "/tmp/conveyor-bench-XXXXXX";
  if (!mkdtemp(pattern))
    die("mkdtemp failed");
  fs::path dir = pattern;
  auto body = json{{"repo", make_repo(dir)}}.dump();
  double rss_idle_mib = 0;
  double latency_idle_p50 = 0, latency_idle_p99 = 0;
  double burst_rate = 0, burst_p50 = 0, burst_p99 = 0, cpu_ms = 0, peak_mib = 0;
  int crashes = 0;
  std::unique_ptr<scratch_database> pg;
  if (o.db != "sqlite")
    pg = std::make_unique<scratch_database>(o.psql, o.db);
  {
    server s{o, dir, pg ? pg->url() : std::string{}};
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    rss_idle_mib = status_kib(s.pid, "VmRSS") / 1024.0;

    // Idle: one build at a time, submit to finished as the client sees it.
    std::vector<double> idle_ms;
    for (int i = 0; i < o.idle; ++i) {
      auto t0 = clock_type::now();
      auto id = s.submit(body, o.builds + i);
      while (!s.finished(id)) {
      }
      idle_ms.push_back(
        std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
    }
    latency_idle_p50 = percentile(idle_ms, 50);
    latency_idle_p99 = percentile(idle_ms, 99);

    // Burst: every build at once from several clients; finished as counted
    // by the server; latency from the server's own timestamps.
    auto cpu_before = cpu_seconds(s.pid);
    std::atomic<int> next{0};
    std::vector<int64_t> ids(static_cast<size_t>(o.builds));
    std::atomic<bool> burst_done{false};
    std::thread crasher{[&s, &o, &burst_done, &crashes] {
      if (o.crash_every_ms <= 0)
        return;
      while (!burst_done.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(o.crash_every_ms));
        if (s.call("POST", "/api/debug/crash", R"({"child":"scheduler"})").status == 202)
          ++crashes;
      }
    }};
    auto t0 = clock_type::now();
    std::vector<std::thread> clients;
    for (int c = 0; c < o.clients; ++c)
      clients.emplace_back([&] {
        for (int i; (i = next++) < o.builds;)
          ids[static_cast<size_t>(i)] = s.submit(body, i);
      });
    for (auto& t : clients)
      t.join();
    // Builds finish about in order: wait for each in turn.
    for (auto id : ids)
      while (!s.finished(id))
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    auto seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
    burst_done.store(true);
    crasher.join();
    burst_rate = o.builds / seconds;
    cpu_ms = (cpu_seconds(s.pid) - cpu_before) * 1000.0 / o.builds;
    peak_mib = status_kib(s.pid, "VmHWM") / 1024.0;
    std::vector<double> burst_ms;
    for (auto id : ids) {
      auto build = json::parse(s.call("GET", "/api/builds/" + std::to_string(id)).body);
      if (build["state"] != "passed")
        die("build " + std::to_string(id) + " ended " + build["state"].dump());
      burst_ms.push_back(build["finished_at"].get<double>()
                         - build["created_at"].get<double>());
    }
    burst_p50 = percentile(burst_ms, 50);
    burst_p99 = percentile(burst_ms, 99);
  }
  pg.reset();
  std::error_code ec;
  fs::remove_all(dir, ec);
  std::printf("| store | executor | workers | builds | scheduler crashes | builds/s "
              "| idle p50 ms | idle p99 ms | burst p50 ms | burst p99 ms "
              "| CPU ms/build | RSS idle MiB | RSS peak MiB |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  std::printf("| %s | %s | %d | %d | %d | %.0f | %.2f | %.2f | %.0f | %.0f "
              "| %.3f | %.1f | %.1f |\n",
              o.db == "sqlite" ? "sqlite" : "postgres", o.executor.c_str(),
              o.workers, o.builds, crashes, burst_rate,
              latency_idle_p50, latency_idle_p99, burst_p50, burst_p99, cpu_ms,
              rss_idle_mib, peak_mib);
}
