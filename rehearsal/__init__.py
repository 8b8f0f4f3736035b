"""Local rehearsal of the booth demo: real Dynamo frontends and KV router over mocker workers, on 127.0.0.1."""
