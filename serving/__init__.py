"""Facts about how the model is served that both the cloud program (components/) and the local rehearsal
(rehearsal/) use: the engine's batch limits, the frontends' migration limit and the KV router's policy
document. One home, below both, so neither imports the other for them (issue 21: components/dgd.py and
rehearsal/settings.py imported each other)."""
