#!/usr/bin/env python3
"""Writes the benign look-alike corpus for tests/response_detectors.rs.

Every line here has the shape of something the secret and personal-data
detectors look for (long hex, base64, digits, key words) and none of it is
a secret or personal data: a finding on this corpus is a false positive.
No e-mail addresses, phone numbers or card numbers appear on purpose.

Deterministic: `python3 generate.py` in this directory rewrites the same
files byte for byte.
"""

import base64
import hashlib
import random
import uuid

rng = random.Random(20240615)


def hexs(n):
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def b64(n):
    return base64.b64encode(bytes(rng.getrandbits(8) for _ in range(n))).decode()


def write(name, lines):
    with open(name, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")


WORDS = (
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore "
    "magna aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris nisi aliquip ex ea commodo "
    "consequat duis aute irure in reprehenderit voluptate velit esse cillum fugiat nulla pariatur"
).split()
NAMES = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov", "Ken Thompson"]
SUBJECTS = [
    "Fix off-by-one in frame decoder",
    "Bump serde from 1.0.203 to 1.0.204",
    "Add retry with jitter to upstream connect",
    "Refactor token bucket into its own module",
    "Update secret scanning docs",
    "Rotate signing key handling (no key material in repo)",
    "Merge pull request #4821 from feature/password-reset-flow",
]


def git_log():
    out = []
    for i in range(40):
        sha = hexs(40)
        out.append(f"commit {sha}")
        if i % 7 == 3:
            out.append(f"Merge: {sha[:7]} {hexs(7)}")
        out.append(f"Author: {rng.choice(NAMES)}")
        day = rng.randint(1, 28)
        out.append(f"Date:   Tue Mar {day} {rng.randint(0, 23):02}:{rng.randint(0, 59):02}:{rng.randint(0, 59):02} 2024 +0100")
        out.append("")
        out.append(f"    {rng.choice(SUBJECTS)}")
        out.append("")
    for _ in range(20):
        out.append(f"{hexs(7)} {rng.choice(SUBJECTS)}")
    out.append(f"index {hexs(7)}..{hexs(7)} 100644")
    out.append(f"Change-Id: I{hexs(40)}")
    out.append(f"git-tree-sha1: {hexs(40)}")
    return out


def digests():
    out = []
    files = ["target/release/mcp-warden", "dist/app.tar.gz", "README.md", "Cargo.lock", "image.iso"]
    for _ in range(30):
        data = bytes(rng.getrandbits(8) for _ in range(64))
        out.append(f"{hashlib.sha256(data).hexdigest()}  {rng.choice(files)}")
    for _ in range(10):
        data = bytes(rng.getrandbits(8) for _ in range(64))
        out.append(f"{hashlib.md5(data).hexdigest()}  {rng.choice(files)}")
        out.append(f"SHA512 ({rng.choice(files)}) = {hashlib.sha512(data).hexdigest()}")
    for _ in range(30):
        out.append(str(uuid.UUID(int=rng.getrandbits(128), version=4)))
    for _ in range(10):
        u = uuid.UUID(int=rng.getrandbits(128), version=4)
        out.append(f'{{"id": "{u}", "request_id": "{uuid.UUID(int=rng.getrandbits(128), version=4)}"}}')
    for _ in range(15):
        out.append(f"ghcr.io/example/app@sha256:{hexs(64)}")
        out.append(f"docker.io/library/postgres:16.{rng.randint(0, 9)}@sha256:{hexs(64)}")
    for i in range(20):
        integrity = base64.b64encode(hashlib.sha512(str(i).encode()).digest()).decode()
        out.append(f'      "integrity": "sha512-{integrity}",')
        out.append(f'      "resolved": "https://registry.npmjs.org/pkg-{i}/-/pkg-{i}-{i % 5}.{i % 3}.{i}.tgz",')
    for _ in range(10):
        out.append(f'checksum = "{hexs(64)}"')
    for _ in range(20):
        out.append(hexs(rng.choice([16, 24, 32, 40, 48, 64, 96, 128])))
    for _ in range(6):
        out.append(f'"etag": "W/\\"{hexs(32)}\\""')
        out.append(f'"cache_key": "{hexs(64)}"')
        out.append(f'"key": "{hexs(40)}"')
        out.append(f'"key_id": "{uuid.UUID(int=rng.getrandbits(128), version=4)}"')
        out.append(f'"public_key_fingerprint": "SHA256:{b64(32).rstrip("=")}"')
        out.append(f'"nextPageToken": "{b64(24)}"')
    out.append("ssh-ed25519 " + base64.b64encode(b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00 " + bytes(rng.getrandbits(8) for _ in range(32))).decode() + " deploy")
    out.append("-----BEGIN PUBLIC KEY-----")
    for _ in range(6):
        out.append(b64(48))
    out.append("-----END PUBLIC KEY-----")
    out.append("-----BEGIN CERTIFICATE-----")
    for _ in range(10):
        out.append(b64(48))
    out.append("-----END CERTIFICATE-----")
    return out


MINIFIED = (
    '!function(e,t){"use strict";var n=t.document,r=function(e){return e&&e.key?e.key:null},'
    'o={token:"",key:0,keys:[],secretary:!1,tokenize:function(s){return s.split(/\\s+/).map(function(w,i){'
    'return{t:w,i:i,k:r({key:w})}})}};function a(e){for(var t=0,n=e.length;t<n;t++)o.keys.push(e[t]);'
    'return o.keys.length}var c=0x5f3759df,u=1e-9,l=[16777215,4294967295,9007199254740991];'
    'e.Widget=function(s){this.id="w"+(++c>>>0).toString(36);this.token=o.tokenize(s);'
    'this.key=r(s)||a([s]);this.color="#1a2b3c"};e.Widget.prototype.render=function(){'
    'return"<div class=\\"w-"+this.id+"\\" style=\\"color:#ff00aa;background:#0f0\\">"+this.token.length+"</div>"}'
    '}(window,window);'
)


def web():
    out = [MINIFIED]
    png = b"\x89PNG\r\n\x1a\n" + bytes(rng.getrandbits(8) for _ in range(1500))
    out.append(f'<img alt="chart" src="data:image/png;base64,{base64.b64encode(png).decode()}">')
    out.append(f'background-image: url("data:image/gif;base64,{b64(120)}");')
    out.append('<link rel="stylesheet" href="https://cdn.example.com/app.3f9a2c1e.css" integrity="sha384-'
               + b64(48) + '" crossorigin="anonymous">')
    out.append(f'<script src="/static/js/main.{hexs(8)}.chunk.js"></script>')
    for _ in range(30):
        out.append(f".c-{hexs(4)} {{ color: #{hexs(6)}; border-color: #{hexs(3)}; background: #{hexs(8)}; }}")
    out.append("a:hover{color:#ABCDEF}.btn-primary{background-color:#0d6efd;border:1px solid #0a58ca}")
    out.append("@media (max-width: 768px) { .grid { grid-template-columns: repeat(2, 1fr); } }")
    out.append("@import url('https://fonts.example.com/css2?family=Inter:wght@400;700&display=swap');")
    out.append(f"https://example.com/assets/{hexs(32)}/logo@2x.png")
    out.append(f"https://example.com/download?id={hexs(24)}&session_state={uuid.UUID(int=rng.getrandbits(128), version=4)}")
    out.append("https://user@example.com/repo.git and ssh://git@example.org:22/srv/repo.git")
    out.append("postgres://localhost:5432/app?sslmode=disable")
    out.append("npm install left-pad@1.3.0 @babel/core@7.24.5 typescript@5.4.5")
    return out


def prose():
    out = []
    for i in range(60):
        words = [rng.choice(WORDS) for _ in range(rng.randint(8, 20))]
        n = rng.randint(0, 99999)
        words.insert(rng.randint(0, len(words)), str(n))
        if i % 3 == 0:
            words.insert(rng.randint(0, len(words)), f"{rng.randint(2000, 2030)}-{rng.randint(1, 12):02}-{rng.randint(1, 28):02}")
        if i % 4 == 0:
            words.insert(rng.randint(0, len(words)), f"{rng.randint(1, 999)},{rng.randint(0, 999):03}.{rng.randint(0, 99):02}")
        if i % 5 == 0:
            words.insert(rng.randint(0, len(words)), f"{rng.randint(0, 100)}%")
        out.append(" ".join(words).capitalize() + ".")
    for _ in range(20):
        out.append(f"{rng.randint(2000, 2030)}-{rng.randint(1, 12):02}-{rng.randint(1, 28):02}T{rng.randint(0, 23):02}:"
                   f"{rng.randint(0, 59):02}:{rng.randint(0, 59):02}.{rng.randint(0, 999999):06}Z INFO request "
                   f"completed in {rng.randint(1, 5000)} ms status={rng.choice([200, 201, 204, 404, 500])} "
                   f"bytes={rng.randint(0, 10**7)}")
    for _ in range(10):
        out.append(f"ts={rng.randint(1_600_000_000_000, 1_800_000_000_000)} ns={rng.randint(10**18, 2 * 10**18)} "
                   f"pid={rng.randint(100, 99999)} addr=10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}:{rng.randint(1024, 65535)}")
    for _ in range(20):
        major, minor, patch = rng.randint(0, 30), rng.randint(0, 99), rng.randint(0, 999)
        out.append(f"version {major}.{minor}.{patch}-rc.{rng.randint(1, 9)}+build.{rng.randint(1000, 99999)} "
                   f"(v{major}.{minor}.{patch}, 1.{minor}.{patch}, go1.{minor}.{patch % 10})")
    out.append("Order #100245 shipped 3 items, 12 x 45 cm, weight 2.75 kg, tracking 1Z 999 AA1 01 2345 6784.")
    out.append("Invoice 2024-0042: total 1,299.00 EUR, due in 30 days; ref INV-000123-2024.")
    out.append("The 2023-24 season ran from 09-01 to 05-31, 38 matches, 114 goals.")
    out.append("Measurements: 3.14159265358979, 2.71828182845904, 1.41421356237309, 6.02214076e23.")
    out.append("Coordinates 51.5072, -0.1276; elevation 11 m; population 8,866,180 (2021).")
    out.append("Build 20240615.3 finished: 1284 tests, 0 failures, 17 ignored in 342.8 s.")
    out.append("ISBN 978-0-13-468599-1, ISSN 0317-8471, DOI 10.1145/3386569.3392463.")
    return out


def config():
    out = [
        "# Settings that mention secrets without holding any",
        "max_tokens: 4096",
        "token_type: Bearer",
        '"token_type": "bearer",',
        "tokens_used: 128734",
        "token_limit = 100000",
        "password_min_length = 12",
        "password: ${DB_PASSWORD}",
        "password = <your password here>",
        'api_key = os.environ["API_KEY"]',
        "secret: !vault secret/data/app#db_password",
        "SECRET_NAME=MY_APP_DB_PASSWORD_2",
        "secret_file: config/secrets.prod.yaml",
        "primary_key = user_id",
        "sort_key: created_at#2024-06-15",
        'key = "user:1234:session"',
        "keyboard_layout: en-US-intl",
        "monkey_patch = true",
        "token_expires_at: 2024-01-15T10:00:00Z",
        "ssh_key_path: ~/.ssh/id_ed25519",
        "tls_key_file = /etc/ssl/private/server.key",
        "key: value",
        "secret_santa_budget = 25",
        "token=",
        "pwd: /home/runner/work/app",
        "PWD=/workspace/build-2024",
        "passwordless: true",
        "tokenizer: cl100k_base",
        "Bearer authentication is described in RFC 6750.",
        "Authorization: Bearer <token>",
        "Authorization: Bearer ${ACCESS_TOKEN}",
        "The primary key is id; the secret is to index by created_at.",
        "Keys: 42 keys rotated on 2024-06-01, next rotation in 90 days.",
        'let key = format!("{prefix}-{id}");',
        "const token = await getToken(scope);",
        "if password == confirm_password { ok() }",
        "ARG SECRET_VERSION=1.4.2",
        "export NODE_OPTIONS=--max-old-space-size=4096",
        "DATABASE_URL=postgres://app@db.internal:5432/app",
        "sk-learn is not a key; task-12345 and disk-usage-report-2024 are not keys either.",
        "The ASIAN and AKIAN words appear; eyJ alone is not a token.",
        "xoxo - hugs and kisses",
        "npm_config_registry=https://registry.npmjs.org/",
        "ghp_ prefix docs: classic tokens start with ghp_",
        "glpat- is the GitLab personal access token prefix",
        "sk_live_ and sk_test_ are Stripe prefixes",
        "https://example.com/path:with@sign/in-path",
        "ftp://anonymous@ftp.example.org/pub",
    ]
    for _ in range(10):
        out.append(f'"cacheKey": "{hexs(64)}",')
        out.append(f'"idempotency_key": "{uuid.UUID(int=rng.getrandbits(128), version=4)}",')
        out.append(f'"commit_sha": "{hexs(40)}",')
        out.append(f'"checksum": "sha256:{hexs(64)}",')
    return out


write("git_log.txt", git_log())
write("digests.txt", digests())
write("web.txt", web())
write("prose.txt", prose())
write("config.txt", config())
