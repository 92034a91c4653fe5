// The HTTP/JSON API of a real node process, driven by the Python client a user would paste
// (clients/python/p2p_agent.py, through tests/http/client_test.py) and by curl.

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <regex>
#include <fstream>
#include <string>
#include <thread>

#include "tests/support/data.hpp"
#include "tests/support/process.hpp"

using namespace p2p::test;

namespace {

/// curl's status code and body for one request (curl -s -w '\n%{http_code}').
std::pair<int, std::string> curl(const std::string& dir, std::vector<std::string> args) {
  std::vector<std::string> full{"/usr/bin/curl", "-s", "-w", "\n%{http_code}"};
  full.insert(full.end(), args.begin(), args.end());
  auto r = run_program(full, dir, 60);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  auto nl = r.out.rfind('\n');
  REQUIRE(nl != std::string::npos);
  return {std::stoi(r.out.substr(nl + 1)), r.out.substr(0, nl)};
}

} // namespace

TEST_CASE("the HTTP API serves collections, points, filtered search and documents to the Python client and curl") {
  auto dir = fresh_dir("http-api");
  auto port = free_ports(1);
  auto url = "http://127.0.0.1:" + std::to_string(port);
  const std::string key = "s3cret-key";
  node_process node(dir, R"({"vectors": {"dim": 512}, "http": {"api_key": ")" + key + R"("}})",
                    {"--http-port", std::to_string(port)});
  auto py = run_program({"/usr/bin/python3", std::string(P2P_SOURCE_DIR) + "/tests/http/client_test.py", url, key}, dir, 120);
  CHECK_MESSAGE(py.exit_code == 0, py.out << py.err);
  CHECK(py.out.find("http client test: ok") != std::string::npos);

  auto auth = "Authorization: Bearer " + key;
  // No key, a wrong key: 401 with a reason; /healthz needs none.
  CHECK(curl(dir, {url + "/collections"}).first == 401);
  CHECK(curl(dir, {"-H", "Authorization: Bearer wrong", url + "/collections"}).first == 401);
  CHECK(curl(dir, {url + "/healthz"}) == std::pair<int, std::string>{200, "ok\n"});
  // Create, upsert and search with curl.
  auto created = curl(dir, {"-H", auth, "-X", "PUT", url + "/collections/c", "-d", R"({"dim": 3, "metric": "ip"})"});
  CHECK(created.first == 200);
  CHECK(created.second.find(R"("created": true)") != std::string::npos);
  auto put = curl(dir, {"-H", auth, "-X", "PUT", url + "/collections/c/points", "-d",
                        R"({"points": [{"id": "x", "vector": [1, 0, 0], "metadata": {"k": "v"}}, {"id": "y", "vector": [0, 1, 0]}]})"});
  CHECK(put == std::pair<int, std::string>{200, "{\"stored\": 2}\n"});
  auto hit = curl(dir, {"-H", auth, "-X", "POST", url + "/collections/c/search", "-d",
                        R"({"vector": [0.9, 0.1, 0], "k": 1, "with_payload": true})"});
  CHECK(hit.first == 200);
  CHECK(hit.second.find(R"({"results": [{"id": "x", "score": 0.899999976, "metadata": {"k":"v"}}])") != std::string::npos);
  // Bad requests name what is wrong; a body past the limit is 413; unknown paths 404.
  auto bad = curl(dir, {"-H", auth, "-X", "PUT", url + "/collections/c/points", "-d", R"({"points": [{"vector": [1, 0, 0]}]})"});
  CHECK(bad == std::pair<int, std::string>{400, "{\"error\": \"points[0].id: required\"}\n"});
  CHECK(curl(dir, {"-H", auth, "-X", "PUT", url + "/collections/c/points", "-d", "[1, 2"}).first == 400);
  {
    std::ofstream big(dir + "/big.json");
    big << R"({"points": [)";
    for (int i = 0; i < 10001; ++i)
      big << (i ? "," : "") << R"({"id": ")" << i << R"(", "vector": [1, 0, 0]})";
    big << "]}";
  }
  auto many = curl(dir, {"-H", auth, "-X", "PUT", url + "/collections/c/points", "--data-binary", "@" + dir + "/big.json"});
  CHECK(many.first == 413);
  CHECK(many.second.find("points: at most 10000 per request, got 10001") != std::string::npos);
  {
    std::ofstream huge(dir + "/huge.json");
    huge << R"({"points": [{"id": "h", "vector": [1, 0, 0], "metadata": {"pad": ")" << std::string(33u << 20, 'x') << R"("}}]})";
  }
  auto too_big = curl(dir, {"-H", auth, "-X", "PUT", url + "/collections/c/points", "--data-binary", "@" + dir + "/huge.json"});
  CHECK(too_big.first == 413);
  CHECK(curl(dir, {"-H", auth, url + "/nothing/here"}).first == 404);
  CHECK(curl(dir, {"-H", auth, "-X", "DELETE", url + "/collections/none"}).first == 404);
  // The node served on through all of it.
  auto status = curl(dir, {"-H", auth, url + "/status"});
  CHECK(status.first == 200);
  CHECK(status.second.find(R"("name": "c", "dim": 3, "metric": "ip", "count": 2)") != std::string::npos);
  // The dashboard is one page with no external assets.
  auto page = curl(dir, {url + "/"});
  CHECK(page.first == 200);
  CHECK(page.second.find("<title>p2p-agent</title>") != std::string::npos);
  CHECK(page.second.find("src=\"http") == std::string::npos);
  CHECK(node.stop() == 0);
}

TEST_CASE("with security.tls the HTTP API and /metrics are HTTPS and take only clients with the cluster's certificates") {
  auto dir = fresh_dir("http-tls");
  auto certs = run_program({"/bin/bash", P2P_SOURCE_DIR "/scripts/make-certs.sh", "--dir", dir + "/tls", "node-1", "client"}, dir, 60);
  REQUIRE_MESSAGE(certs.exit_code == 0, certs.err);
  auto other = run_program({"/bin/bash", P2P_SOURCE_DIR "/scripts/make-certs.sh", "--dir", dir + "/other", "client"}, dir, 60);
  REQUIRE_MESSAGE(other.exit_code == 0, other.err);
  auto ports = free_ports(2);
  auto tls = dir + "/tls";
  node_process node(dir, R"({"security": {"tls": {"ca": ")" + tls + R"(/ca.pem", "certificate": ")" + tls
                           + R"(/node-1.pem", "key": ")" + tls + R"(/node-1.key"}}, "metrics": {"port": )"
                           + std::to_string(ports + 1) + "}}",
                    {"--http-port", std::to_string(ports)});
  auto url = "https://127.0.0.1:" + std::to_string(ports);
  std::vector<std::string> mine{"--cacert", tls + "/ca.pem", "--cert", tls + "/client.pem", "--key", tls + "/client.key"};
  auto with = [&](std::vector<std::string> cert, std::vector<std::string> rest) {
    cert.insert(cert.end(), rest.begin(), rest.end());
    return cert;
  };
  CHECK(curl(dir, with(mine, {url + "/healthz"})) == std::pair<int, std::string>{200, "ok\n"});
  auto created = curl(dir, with(mine, {"-X", "PUT", url + "/collections/t", "-d", R"({"dim": 2, "metric": "l2"})"}));
  CHECK(created.first == 200);
  auto metrics = curl(dir, with(mine, {"https://127.0.0.1:" + std::to_string(ports + 1) + "/metrics"}));
  CHECK(metrics.first == 200);
  CHECK(metrics.second.find("p2p_build_info{") != std::string::npos);
  // No client certificate, another CA's, or plain HTTP: refused, and the node serves on.
  std::vector<std::string> bare{"/usr/bin/curl", "-s", "--cacert", tls + "/ca.pem", url + "/healthz"};
  CHECK(run_program(bare, dir, 30).exit_code != 0);
  std::vector<std::string> foreign{"/usr/bin/curl", "-s", "--cacert", tls + "/ca.pem", "--cert", dir + "/other/client.pem",
                                   "--key", dir + "/other/client.key", url + "/healthz"};
  CHECK(run_program(foreign, dir, 30).exit_code != 0);
  std::string body;
  CHECK(http_get(ports, "/healthz", body) != 200);
  // The Python client with the cluster's TLS files.
  auto py = run_program({"/usr/bin/python3", "-c",
                         "import sys; sys.path.insert(0, '" + std::string(P2P_SOURCE_DIR) + "/clients/python'); "
                         "from p2p_agent import Client; c = Client('" + url + "', tls_dir='" + tls + "'); "
                         "c.upsert('t', [{'id': 'a', 'vector': [1, 2]}]); print(c.get('t', 'a')['vector'])"},
                        dir, 60);
  CHECK_MESSAGE(py.exit_code == 0, py.err);
  CHECK(py.out == "[1, 2]\n");
  CHECK(curl(dir, with(mine, {url + "/healthz"})).first == 200);
}

TEST_CASE("the dashboard, rendered by headless Chromium, shows the live peers, collections and tasks") {
  const std::string chromium = "/usr/bin/chromium";
  REQUIRE_MESSAGE(std::filesystem::exists(chromium), "no " << chromium << ": scripts/setup.sh installs Debian's chromium");
  auto dir = fresh_dir("http-dashboard");
  auto port = free_ports(1);
  node_process first(fresh_dir("http-dashboard-1"), "{}", {"--http-port", std::to_string(port), "--id", "node-1"});
  node_process second(fresh_dir("http-dashboard-2"), "{}", {"--bootstrap", first.address(), "--id", "node-2"});
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
       std::chrono::steady_clock::now() < deadline;) {
    auto peers = run_agent({"peers", "--peer", first.address(), "--json"}, dir);
    if (peers.exit_code == 0 && peers.out.find("node-2") != std::string::npos)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  auto url = "http://127.0.0.1:" + std::to_string(port);
  auto made = curl(dir, {"-X", "PUT", url + "/collections/shown", "-d", R"({"dim": 3})"});
  REQUIRE(made.first == 200);
  auto put = curl(dir, {"-X", "PUT", url + "/collections/shown/points", "-d",
                        R"({"points": [{"id": "a", "vector": [1, 0, 0]}, {"id": "b", "vector": [0, 1, 0]}]})"});
  REQUIRE(put.first == 200);
  // --virtual-time-budget lets the page's script fetch /status and draw before the DOM is dumped.
  std::vector<std::string> base{chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                "--user-data-dir=" + dir + "/chromium-profile", "--virtual-time-budget=5000"};
  auto dump_args = base;
  dump_args.insert(dump_args.end(), {"--dump-dom", url + "/"});
  auto dom = run_program(dump_args, dir, 120);
  REQUIRE_MESSAGE(dom.exit_code == 0, dom.err);
  CHECK_MESSAGE(dom.out.find(R"(<b id="alive">2 / 2</b>)") != std::string::npos, dom.out);
  CHECK(dom.out.find("<td>node-2</td>") != std::string::npos);
  // Index threads: N busy of 1 (2 scheduler threads leave one to graph building).
  CHECK(std::regex_search(dom.out, std::regex(R"(<b id="graphs">[01] / 1( \([0-9]+ waiting\))?</b>)")));
  CHECK(dom.out.find("<td>shown</td>") != std::string::npos);
  CHECK(dom.out.find(R"(<div id="err"></div>)") != std::string::npos); // no error drawn
  auto shot_args = base;
  auto png = dir + "/dashboard.png";
  shot_args.insert(shot_args.end(), {"--window-size=1200,900", "--screenshot=" + png, url + "/"});
  auto shot = run_program(shot_args, dir, 120);
  CHECK_MESSAGE(shot.exit_code == 0, shot.err);
  CHECK(std::filesystem::exists(png));
  CHECK(std::filesystem::file_size(png) > 10000);
  MESSAGE("dashboard screenshot: " << png);
}
