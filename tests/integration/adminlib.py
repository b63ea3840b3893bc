"""podgate's admin API from the tests: sessions, kicks and /metrics.

  AdminClient(podgate)   for a podlib.Podgate with an "admin" listener
  http_call(method, url) one HTTP request: (status, body text)
"""

import json
import urllib.error
import urllib.request

import directorylib


def http_call(method, url, body=None, timeout=10):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


class AdminClient:
    def __init__(self, podgate):
        self.base = "http://" + podgate.extra_config["admin"]["listen"]

    def metrics(self):
        status, text = http_call("GET", self.base + "/metrics")
        assert status == 200, text
        return directorylib.parse_metrics(text)

    def lookups(self, result):
        return self.metrics().get('podgate_directory_client_lookups_total{result="%s"}' % result, 0)

    def sessions(self, user=None):
        target = "/v1/sessions" + ("?user=" + user if user else "")
        status, text = http_call("GET", self.base + target)
        assert status == 200, text
        return json.loads(text)["sessions"]

    def kick(self, user):
        status, text = http_call("POST", self.base + "/v1/kick?user=" + user)
        assert status == 200, text
        return json.loads(text)["kicked"]
