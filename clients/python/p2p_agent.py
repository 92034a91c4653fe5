"""A client for the p2p-agent HTTP/JSON API (a node started with http.port or --http-port).

Standard library only: copy this file next to your code.

    from p2p_agent import Client
    c = Client("http://127.0.0.1:7480", api_key=None)
    c.create_collection("docs", dim=4, metric="cosine")
    c.upsert("docs", [{"id": "a", "vector": [1, 0, 0, 0], "metadata": {"lang": "en"}}])
    hits = c.search("docs", vector=[1, 0.1, 0, 0], k=3, filter={"lang": "en"}, with_payload=True)
    for h in hits["results"]:
        print(h["id"], h["score"], h.get("metadata"))

Every method returns the node's JSON answer as Python objects; an error answer raises
P2PError with the HTTP status and the node's message (which names the bad field).
"""

import json
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request

__all__ = ["Client", "P2PError"]


class P2PError(Exception):
    """The node answered with an error: `status` (HTTP) and `message` (the node's words)."""

    def __init__(self, status, message):
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class Client:
    """url: http://HOST:PORT, or https://HOST:PORT for a node with security.tls, where tls_dir
    (or $P2P_TLS_DIR) holds the cluster's ca.pem, client.pem and client.key."""

    def __init__(self, url, api_key=None, timeout=60, tls_dir=None):
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.context = None
        tls_dir = tls_dir or os.environ.get("P2P_TLS_DIR")
        if self.url.startswith("https://") and tls_dir:
            self.context = ssl.create_default_context(cafile=os.path.join(tls_dir, "ca.pem"))
            self.context.load_cert_chain(os.path.join(tls_dir, "client.pem"), os.path.join(tls_dir, "client.key"))

    # -- plumbing --
    def _call(self, method, path, body=None, raw=False):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.api_key:
            req.add_header("Authorization", "Bearer " + self.api_key)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout, context=self.context) as res:
                text = res.read().decode()
        except urllib.error.HTTPError as e:
            text = e.read().decode()
            try:
                message = json.loads(text)["error"]
            except (ValueError, KeyError, TypeError):
                message = text.strip()
            raise P2PError(e.code, message) from None
        return text if raw else json.loads(text)

    @staticmethod
    def _q(name):
        return urllib.parse.quote(str(name), safe="")

    # -- node --
    def health(self):
        return self._call("GET", "/healthz", raw=True).strip()

    def ready(self):
        return self._call("GET", "/readyz", raw=True).strip()

    def status(self):
        return self._call("GET", "/status")

    def peers(self):
        return self._call("GET", "/peers")["peers"]

    # -- collections --
    def collections(self):
        return self._call("GET", "/collections")["collections"]

    def create_collection(self, name, dim, metric="cosine"):
        return self._call("PUT", "/collections/" + self._q(name), {"dim": dim, "metric": metric})

    def drop_collection(self, name):
        return self._call("DELETE", "/collections/" + self._q(name))

    # -- points --
    def upsert(self, collection, points):
        """points: [{"id": str, "vector": [float], "metadata": {...}}, ...] (at most 10,000 per call)."""
        return self._call("PUT", f"/collections/{self._q(collection)}/points", {"points": list(points)})["stored"]

    def get(self, collection, id):
        return self._call("GET", f"/collections/{self._q(collection)}/points/{self._q(id)}")

    def delete(self, collection, id):
        return self._call("DELETE", f"/collections/{self._q(collection)}/points/{self._q(id)}")

    def search(self, collection, vector=None, vectors=None, text=None, k=10, ef=None, exact=False,
               filter=None, with_payload=False):
        """One of vector (one query), vectors (a batch: answers {"batches": [...]}) or text.
        filter: {"key": value, "key": [any, of], "key": {"gte": n, "lte": n, "ne": v}}."""
        body = {"k": k, "exact": exact, "with_payload": with_payload}
        if vector is not None:
            body["vector"] = list(vector)
        if vectors is not None:
            body["vectors"] = [list(v) for v in vectors]
        if text is not None:
            body["text"] = text
        if ef is not None:
            body["ef"] = ef
        if filter is not None:
            body["filter"] = filter
        return self._call("POST", f"/collections/{self._q(collection)}/search", body)

    def ingest(self, collection, documents, chunk_size=None, overlap=None):
        """documents: [{"id": str, "text": str}, ...]: chunked, embedded and stored as DOC#N."""
        body = {"documents": list(documents)}
        if chunk_size is not None:
            body["chunk_size"] = chunk_size
        if overlap is not None:
            body["overlap"] = overlap
        return self._call("POST", f"/collections/{self._q(collection)}/documents", body)


if __name__ == "__main__":
    import sys

    if len(sys.argv) < 2:
        print("usage: p2p_agent.py URL [API_KEY]   (prints the node's status)", file=sys.stderr)
        sys.exit(2)
    client = Client(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
    print(json.dumps(client.status(), indent=2))
