"""Build the booth's long-context corpus from permissively licensed text installed on this machine.

Why: KV-aware routing pays off when every turn resends thousands of tokens of context, so the
default chat is a conversation about one long, real document or source file. The text must ship in
the repo (nothing is fetched at run time) and be free to redistribute, so it is taken from Python's
standard library (PSF-2.0) and from installed PyPI packages whose licence metadata says MIT, BSD,
Apache-2.0 or ISC (checked per package below; each record carries its licence and source).

    .venv/bin/python -m loadgen.build_corpus      # rewrites loadgen/data/corpus.jsonl and CORPUS.md

Each record: id, kind (code|doc), title, source (package==version path), license, text (cut at a
line boundary to at most MAX_CHARS), chars_per_token (measured with the rehearsal's tokenizer, a
stand-in for Llama 3's on English text; code costs more tokens per character than prose).
"""

from __future__ import annotations

import importlib.metadata as md
import json
import re
import sysconfig
from pathlib import Path

HERE = Path(__file__).parent
OUT = HERE / "data" / "corpus.jsonl"
SOURCES_MD = HERE / "data" / "CORPUS.md"
TOKENIZER = HERE.parent / "rehearsal" / "tokenizer" / "tokenizer.json"
MIN_CHARS = 20_000  # ~5k tokens of prose: every document can open a 4-8k-token conversation
MAX_CHARS = 28_000  # ~7k tokens of prose, ~8k of code with Llama 3: the engine's max-num-tokens bounds the prompt anyway
PER_PACKAGE = 3

# Packages and the licence their metadata declares (verified in `_licence_ok`), plus which files to read.
PACKAGES = {
    "ai-dynamo": ("Apache-2.0", ("dynamo",)),
    "httpx": ("BSD-3-Clause", ("httpx",)),
    "httpcore": ("BSD-3-Clause", ("httpcore",)),
    "starlette": ("BSD-3-Clause", ("starlette",)),
    "fastapi": ("MIT", ("fastapi",)),
    "pydantic": ("MIT", ("pydantic",)),
    "uvicorn": ("BSD-3-Clause", ("uvicorn",)),
    "click": ("BSD-3-Clause", ("click",)),
    "Jinja2": ("BSD-3-Clause", ("jinja2",)),
    "anyio": ("MIT", ("anyio",)),
    "attrs": ("MIT", ("attr",)),
    "requests": ("Apache-2.0", ("requests",)),
    "urllib3": ("MIT", ("urllib3",)),
    "jsonschema": ("MIT", ("jsonschema",)),
    "pytest": ("MIT", ("_pytest",)),
    "rich": ("MIT", ("rich",)),
    "redis": ("MIT", ("redis",)),
    "websockets": ("BSD-3-Clause", ("websockets",)),
    "PyYAML": ("MIT", ("yaml",)),
    "transformers": ("Apache-2.0", ("transformers/generation", "transformers/cache_utils.py", "transformers/tokenization_utils_base.py",
                                    "transformers/trainer.py", "transformers/configuration_utils.py")),
    "huggingface_hub": ("Apache-2.0", ("huggingface_hub",)),
    "pulumi": ("Apache-2.0", ("pulumi",)),
    "h11": ("MIT", ("h11",)),
    "msgspec": ("BSD-3-Clause", ("msgspec",)),
    "Pygments": ("BSD-2-Clause", ("pygments/lexer.py", "pygments/formatters/html.py", "pygments/lexers/python.py")),
    "markdown-it-py": ("MIT", ("markdown_it",)),
    "opentelemetry-sdk": ("Apache-2.0", ("opentelemetry/sdk",)),
    "typer": ("MIT", ("typer",)),
    "playwright": ("Apache-2.0", ("playwright/_impl",)),
    "websocket-client": ("Apache-2.0", ("websocket",)),
}
STDLIB = (
    "argparse.py", "asyncio/base_events.py", "asyncio/tasks.py", "asyncio/streams.py", "asyncio/selector_events.py",
    "http/client.py", "http/server.py", "http/cookiejar.py", "urllib/parse.py", "urllib/request.py", "email/message.py",
    "logging/__init__.py", "logging/handlers.py", "logging/config.py", "subprocess.py", "threading.py", "socket.py",
    "ssl.py", "shutil.py", "pathlib.py", "tarfile.py", "zipfile.py", "collections/__init__.py", "functools.py",
    "typing.py", "dataclasses.py", "concurrent/futures/_base.py", "concurrent/futures/process.py", "selectors.py",
    "statistics.py", "random.py", "difflib.py", "configparser.py", "enum.py", "inspect.py", "pdb.py", "pickle.py",
    "tempfile.py", "unittest/case.py", "unittest/mock.py", "textwrap.py", "csv.py", "heapq.py", "ipaddress.py",
    "datetime.py", "imaplib.py", "smtplib.py", "multiprocessing/pool.py", "multiprocessing/managers.py",
)
SKIP = re.compile(r"(^|/)(tests?|_vendor|vendored|migrations)(/|$)|_pb2|generated|\.pyi$|/models/v\d|LICENSE|CHANGELOG|HISTORY|AGENTS\.md|CLAUDE\.md")
ALLOWED = ("MIT", "BSD", "Apache", "PSF", "ISC", "Python Software Foundation")


def _licence_ok(dist: md.Distribution, expected: str) -> str:
    """The licence the package itself declares; refuse to build if it is not the expected permissive one."""
    meta = dist.metadata
    declared = meta.get("License-Expression") or ""
    classifiers = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or [] if c.startswith("License")]
    text = " ".join([declared, meta.get("License") or "", *classifiers])
    family = expected.split("-")[0]
    if family not in text or not any(a in text for a in ALLOWED):
        raise SystemExit(f"{meta['Name']}: licence metadata {text[:80]!r} does not say {expected}")
    return declared or expected


def _cut(text: str) -> str:
    if len(text) <= MAX_CHARS:
        return text
    head = text[:MAX_CHARS]
    return head[: head.rfind("\n") + 1] or head


def _usable(text: str) -> bool:
    lines = text.splitlines()
    return len(text) >= MIN_CHARS and max((len(line) for line in lines), default=0) < 400  # no data blobs


def _title(path: str, text: str) -> str:
    if path.endswith((".md", ".rst", ".txt")):
        for line in text.splitlines():
            heading = line.strip().lstrip("#").strip()
            if heading and not heading.startswith(("<", "-", "SPDX", "!", "Licensed", "All rights", "Copyright", "[")):
                return heading[:90]
    return path


def _candidates(root: Path, prefixes: tuple[str, ...]) -> list[Path]:
    files = []
    for prefix in prefixes:
        base = root / prefix
        found = [base] if base.is_file() else sorted(base.rglob("*"))
        files += [f for f in found if f.suffix in (".py", ".md", ".rst") and not SKIP.search(str(f.relative_to(root)))]
    return files


def collect() -> list[dict]:
    records, prose = [], []
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for rel in STDLIB:
        text = (stdlib / rel).read_text(encoding="utf-8")
        if _usable(text):
            records.append({"kind": "code", "title": f"Python standard library: {rel}", "source": f"CPython {sysconfig.get_python_version()} Lib/{rel}",
                            "license": "PSF-2.0", "text": _cut(text)})
    for name, (expected, prefixes) in PACKAGES.items():
        dist = md.distribution(name)
        licence = _licence_ok(dist, expected)
        root = Path(dist.locate_file(""))
        readme = dist.metadata.get_payload() or ""
        if readme.strip():
            prose.append((f"{name} README", f"{name}=={dist.version} METADATA", licence, readme))
        for path in _candidates(root, prefixes):
            if path.suffix != ".py":
                rel = str(path.relative_to(root))
                prose.append((_title(rel, path.read_text(encoding="utf-8")), f"{name}=={dist.version} {rel}", licence, path.read_text(encoding="utf-8")))
        code = sorted((f for f in _candidates(root, prefixes) if f.suffix == ".py"), key=lambda f: -f.stat().st_size)
        picked = 0
        for path in code:  # the largest source files, at most PER_PACKAGE
            if picked >= PER_PACKAGE:
                break
            text = path.read_text(encoding="utf-8", errors="replace")
            if not _usable(text):
                continue
            rel = str(path.relative_to(root))
            records.append({"kind": "code", "title": f"{name}: {rel}", "source": f"{name}=={dist.version} {rel}",
                            "license": licence, "text": _cut(text)})
            picked += 1
    return records + _bundles(prose)


def _bundles(pieces: list[tuple[str, str, str, str]]) -> list[dict]:
    """Package READMEs and docs, packed in order into documents of MIN_CHARS..MAX_CHARS (a reader's handbook)."""
    out, current = [], []
    for piece in pieces:
        current.append(piece)
        if sum(len(p[3]) for p in current) >= MIN_CHARS:
            text = "\n\n".join(f"# {title}\n\n{body.strip()}" for title, _, _, body in current)
            licences = sorted({p[2] for p in current})
            packages = dict.fromkeys(p[1].split("==")[0] for p in current)
            out.append({"kind": "doc", "title": "Documentation: " + ", ".join(packages) + " (" + ", ".join(p[0] for p in current)[:100] + ")",
                        "source": "; ".join(p[1] for p in current), "license": " / ".join(licences), "text": _cut(text)})
            current = []
    return out


def measure(records: list[dict]) -> None:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(TOKENIZER))
    for r in records:
        r["chars_per_token"] = round(len(r["text"]) / len(tok.encode(r["text"]).ids), 3)


def write(records: list[dict]) -> None:
    for i, r in enumerate(records):
        r["id"] = f"doc-{i:03d}"
    keys = ("id", "kind", "title", "source", "license", "chars_per_token", "text")
    OUT.write_text("".join(json.dumps({k: r[k] for k in keys}, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    lines = [
        "# Long-context corpus: sources and licences",
        "",
        "Written by `python -m loadgen.build_corpus` from text installed on the build machine (nothing is fetched",
        "at run time). Each document is one file, cut at a line boundary to at most "
        f"{MAX_CHARS} characters; every package's licence was read from its own metadata.",
        "",
        "| id | kind | source | licence | chars/token | characters |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {r['id']} | {r['kind']} | `{r['source']}` | {r['license']} | {r['chars_per_token']} | {len(r['text'])} |" for r in records]
    SOURCES_MD.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    records = collect()
    measure(records)
    write(records)
    size = OUT.stat().st_size
    print(f"wrote {len(records)} documents, {size / 1e6:.2f} MB to {OUT}")


if __name__ == "__main__":
    main()
