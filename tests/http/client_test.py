"""Drives a node's HTTP API with clients/python/p2p_agent.py; run by tests/integration/http_test.cpp
as: python3 client_test.py URL API_KEY. Exits non-zero (an AssertionError names the check) on failure."""

import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "clients", "python"))
from p2p_agent import Client, P2PError  # noqa: E402

url, key = sys.argv[1], sys.argv[2]


def expect_error(status, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except P2PError as e:
        assert e.status == status, f"expected {status}, got {e.status}: {e.message}"
        return e.message
    raise AssertionError(f"expected an error {status}")


anonymous = Client(url)
assert anonymous.health() == "ok"
assert expect_error(401, anonymous.status).startswith("unauthorized")

c = Client(url, api_key=key)
assert c.ready() == "ready"
assert c.status()["peers"][0]["state"] == "alive"
assert c.create_collection("py", dim=8, metric="l2")["created"] is True
assert c.create_collection("py", dim=8, metric="l2")["created"] is False
assert "exists with dimension 8" in expect_error(409, c.create_collection, "py", dim=9)

random.seed(3)
rows = [[random.gauss(0, 1) for _ in range(8)] for _ in range(300)]
points = [{"id": f"p{i}", "vector": v, "metadata": {"even": i % 2 == 0, "i": i, "tag": f"t{i % 3}"}}
          for i, v in enumerate(rows)]
assert c.upsert("py", points) == 300
assert [x for x in c.collections() if x["name"] == "py"][0]["count"] == 300

got = c.get("py", "p7")
assert got["id"] == "p7" and got["metadata"]["i"] == 7
assert all(abs(a - b) < 1e-6 for a, b in zip(got["vector"], rows[7]))

hits = c.search("py", vector=rows[10], k=5, with_payload=True)
assert hits["results"][0]["id"] == "p10" and hits["partial"] is False
assert hits["results"][0]["metadata"]["tag"] == "t1"

filtered = c.search("py", vector=rows[10], k=10, filter={"even": False, "tag": ["t0", "t2"], "i": {"gte": 50}},
                    with_payload=True)["results"]
assert len(filtered) == 10
for h in filtered:
    m = h["metadata"]
    assert m["even"] is False and m["tag"] in ("t0", "t2") and m["i"] >= 50, h

batch = c.search("py", vectors=[rows[1], rows[2]], k=1)
assert [b["results"][0]["id"] for b in batch["batches"]] == ["p1", "p2"]

assert c.delete("py", "p10")["deleted"] == "p10"
assert expect_error(404, c.delete, "py", "p10").startswith("not found")
assert expect_error(404, c.get, "py", "p10").startswith("not found")

# Every bad field is named.
assert "collection 'py' has dimension 8, got vectors of dimension 2" in expect_error(
    400, c.upsert, "py", [{"id": "x", "vector": [1, 2]}])
assert "points[1].vector: 3 values, points[0] has 8" in expect_error(
    400, c.upsert, "py", [{"id": "x", "vector": [0] * 8}, {"id": "y", "vector": [1, 2, 3]}])
assert "points[0].vector[2]: expected a number" in expect_error(
    400, c.upsert, "py", [{"id": "x", "vector": [0, 1, "two", 3, 4, 5, 6, 7]}])
assert "k: expected an integer from 1 to 10000" in expect_error(400, c.search, "py", vector=rows[0], k=0)
assert "filter.i.gt: expected eq, ne, gte or lte" in expect_error(400, c.search, "py", vector=rows[0], filter={"i": {"gt": 1}})
assert "give one of" in expect_error(400, c.search, "py")
assert "no collection 'nothing'" in expect_error(404, c.search, "nothing", vector=rows[0])

ingested = c.ingest("pydocs", [{"id": "lic", "text": "the license permits copying and changing"},
                               {"id": "other", "text": "vector databases store embeddings"}])
assert ingested["documents"] == 2 and ingested["failed"] == 0
text_hits = c.search("pydocs", text="license copying", k=1, with_payload=True)["results"]
assert text_hits[0]["id"] == "lic#0" and "license" in text_hits[0]["metadata"]["text"]

assert c.drop_collection("py")["vectors_removed"] == 299
assert expect_error(404, c.drop_collection, "py").startswith("not found")
print("http client test: ok")
