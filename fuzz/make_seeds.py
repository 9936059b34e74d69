#!/usr/bin/env python3
"""Writes fuzz/seeds/<corpus>/ from the repository's test data.

The seeds are committed; run this again when tests/data changes:
    python3 fuzz/make_seeds.py
fuzz/throwaway-keys/ holds THROWAWAY SSH keys made for fuzzing (ssh-keygen,
once, some with the passphrase `throwaway`); they protect nothing.
"""
import base64
import hashlib
import pathlib
import re
import shutil

ROOT = pathlib.Path(__file__).resolve().parent.parent
SEEDS = ROOT / "fuzz" / "seeds"
DATA = [ROOT / "tests" / "data", ROOT / "examples", ROOT / "templates"]
LIMIT = 16 * 1024  # bytes per seed file


def files(*suffixes):
    for base in DATA:
        for p in sorted(base.rglob("*")):
            if p.is_file() and p.name.endswith(suffixes) and p.stat().st_size <= LIMIT:
                yield p


def put(corpus, data, name=None):
    d = SEEDS / corpus
    d.mkdir(parents=True, exist_ok=True)
    name = name or hashlib.sha1(data).hexdigest()[:16]
    (d / name).write_bytes(data)


def main():
    keys = ROOT / "fuzz" / "throwaway-keys"
    kept = {p.name: p.read_bytes() for p in sorted(keys.iterdir())}
    shutil.rmtree(SEEDS, ignore_errors=True)
    texts = []
    for p in files(".yaml", ".yml"):
        put("yaml", p.read_bytes())
        texts.append(p.read_bytes())
    for p in files(".json"):
        put("json", p.read_bytes())
        texts.append(p.read_bytes())
    for p in files(".env"):
        put("dotenv", p.read_bytes())
        texts.append(p.read_bytes())
    for p in files(".ini"):
        put("ini", p.read_bytes())
        texts.append(p.read_bytes())
    # ENC[…] values: one per seed, and the plaintext forms of each type.
    values = set()
    for t in texts:
        values.update(re.findall(rb"ENC\[AES256_GCM,[^\]]*\]", t))
    for v in sorted(values)[:200]:
        put("enc_value", v)
    for v in [b"42", b"-7", b"3.25", b"1e300", b"NaN", b"-Inf", b"True", b"false",
              b"2024-01-02T03:04:05.5+02:00", b"hello", b"\xff\x00"]:
        put("enc_value", v)
    # Encrypted files for the metadata target; the first byte picks the
    # store: '0' YAML, '1' JSON, '2' dotenv, '3' INI.
    for prefix, suffixes in [(b"0", (".yaml",)), (b"1", (".json",)), (b"2", (".env",)), (b"3", (".ini",))]:
        for p in files(*suffixes):
            data = p.read_bytes()
            if b"sops" in data and b"lastmodified" in data:
                put("metadata", prefix + data)
    # .sops.yaml
    for p in files(".yaml"):
        if p.name in (".sops.yaml", "sops.yaml"):
            put("sops_yaml", p.read_bytes())
    # age identities and recipients
    for p in files(".txt"):
        if b"AGE-SECRET-KEY-1" in p.read_bytes():
            put("age_identity", p.read_bytes())
    recipients = set()
    for t in texts:
        recipients.update(re.findall(rb"age1[02-9ac-hj-np-z]{58}", t))
    put("age_identity", b"\n".join(sorted(recipients)) + b"\n")
    put("age_identity", (ROOT / "tests/data/vectors/keys/ssh_ed25519.pub").read_bytes())
    # SSH keys; the first byte picks the shape: '0' a whole file, '1' the
    # binary body of an OPENSSH PRIVATE KEY file, '2' an ssh-ed25519 blob.
    ssh_files = [(ROOT / "tests/data/vectors/keys/ssh_ed25519").read_bytes(),
                 (ROOT / "tests/data/vectors/keys/ssh_ed25519.pub").read_bytes()]
    ssh_files += [kept[n] for n in sorted(kept) if not n.endswith(".pub")]
    ssh_files += [kept[n] for n in sorted(kept) if n.endswith(".pub")]
    for data in ssh_files:
        put("ssh_key", b"0" + data)
        text = data.decode()
        if "BEGIN OPENSSH PRIVATE KEY" in text:
            body = "".join(text.strip().splitlines()[1:-1])
            put("ssh_key", b"1" + base64.b64decode(body))
        elif text.startswith("ssh-ed25519 "):
            put("ssh_key", b"2" + base64.b64decode(text.split()[1]))


if __name__ == "__main__":
    main()
