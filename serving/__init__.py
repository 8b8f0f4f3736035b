"""Facts about how the model is served that both the cloud program (components/) and the local rehearsal
(rehearsal/) use: the engine's batch limits, the frontends' migration limit, the KV router's policy
document and the model catalog with its GPU memory arithmetic (the rehearsal sizes each layout's KV cache
with the same budget the config check applies). One home, below both, so neither imports the other for them (issue 21: components/dgd.py and
rehearsal/settings.py imported each other)."""
