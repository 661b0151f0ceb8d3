"""审计日志: the append-only, hash-chained audit trail (issue #9).

middleware.py records (what, when, and what a failure to record means for the client);
chain.py is the entry and its hashes; writer.py appends; verify.py recomputes the chain and signs
its head; api.py serves the log to the office. The schema is made by ops/bootstrap.py.
"""
