"""Helpers of bench/compare: podgate against nginx's mail proxy.

  pods      the Dovecot pod and its Postfix submission server, with TLS
  proxies   podgate, nginx (mail module) and nginx's auth_http service
  authhttp  the auth_http service itself (run as its own process)
  procstat  CPU time and RSS of a process tree, from /proc
  measure   podgate-bench runs: logins, held sessions, large FETCHes
  plan      the order of the runs (warm-up, interleaved targets)
  report    the table (Markdown) and the targets with PASS/FAIL
  paths     the repository, and tests/integration on sys.path (podlib)
"""
