//! The NixOS workflow end to end: a store made from scratch with nsec, hosts
//! from SSH host keys, secrets from every template and generator, and per
//! host `nsec nix --host H` output that the real `nix-instantiate`
//! evaluates and the real sops resolves the way sops-install-secrets does,
//! with only that host's identity.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// One evaluated declaration: attribute → (sopsFile, key, format), with
/// sops-nix's defaults applied (`key` = the attribute name, `format` = yaml).
type Evaluated = BTreeMap<String, (PathBuf, String, String)>;

/// Evaluates a generated module with the real nix-instantiate, path values
/// turned into strings so nothing is copied into a Nix store.
fn evaluate(sb: &Sandbox, module: &Path) -> Evaluated {
    let expr = format!(
        "builtins.mapAttrs (n: v: v // {{ sopsFile = toString v.sopsFile; }}) (import {}).sops.secrets",
        module.display()
    );
    let out = ok(sb
        .cmd(tool("nix-instantiate"))
        .args(["--eval", "--strict", "--json", "--expr"])
        .arg(&expr));
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let mut m = Evaluated::new();
    for (attr, d) in v.as_object().unwrap() {
        let file = PathBuf::from(d["sopsFile"].as_str().unwrap());
        let key = d
            .get("key")
            .and_then(|k| k.as_str())
            .unwrap_or(attr)
            .to_string();
        let format = d
            .get("format")
            .and_then(|k| k.as_str())
            .unwrap_or("yaml")
            .to_string();
        m.insert(attr.clone(), (file, key, format));
    }
    m
}

/// A command run as the host would: HOME empty, only `identity` as key.
fn as_host(sb: &Sandbox, identity: &Path) -> Command {
    let home = tempfile::tempdir().unwrap().keep();
    let mut c = sb.sops();
    c.env("HOME", &home).env("SOPS_AGE_KEY_FILE", identity);
    c
}

/// Resolves a declaration as sops-install-secrets does (decrypt the file,
/// split `key` on `/`, descend through maps, need a string). Returns the
/// value, or why it fails.
fn resolve(
    sb: &Sandbox,
    identity: &Path,
    file: &Path,
    key: &str,
    format: &str,
) -> Result<String, String> {
    let mut c = as_host(sb, identity);
    c.arg("decrypt");
    if matches!(format, "yaml" | "json") && !key.is_empty() {
        c.args(["--output-type", "json"]);
    }
    let out = run(c.arg(file));
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    if !matches!(format, "yaml" | "json") || key.is_empty() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for part in key.split('/') {
        v = v
            .get(part)
            .cloned()
            .ok_or_else(|| format!("the key '{key}' cannot be found"))?;
    }
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("the value of key '{key}' is not a string"))
}

/// The value at `key` (split on `/`) of the encrypted file, as stored.
fn stored_leaf(file: &Path, key: &str) -> String {
    use secrets_core::Format;
    let bytes = std::fs::read(file).unwrap();
    let docs = secrets_core::store::parse(Format::from_path(file), &bytes).unwrap();
    let mut v = secrets_core::Value::Map(docs[0].clone());
    for part in key.split('/') {
        v = match v {
            secrets_core::Value::Map(m) => m.get(part).cloned().unwrap(),
            other => panic!("{key} is not reachable in {}: {other:?}", file.display()),
        };
    }
    match v {
        secrets_core::Value::Str(s) => s,
        other => panic!("{key} in {} is not a string: {other:?}", file.display()),
    }
}

/// The attribute names in `sops.secrets.NAME = …` lines.
fn snippet_names(snippet: &str) -> Vec<String> {
    snippet
        .lines()
        .filter_map(|l| l.strip_prefix("sops.secrets."))
        .map(|l| {
            let name = l.split(" = ").next().unwrap();
            name.trim_matches('"').to_string()
        })
        .collect()
}

struct Host {
    name: &'static str,
    /// Its age identity, derived from its SSH host key as sops-nix does.
    identity: PathBuf,
}

fn ssh_host(sb: &Sandbox, name: &'static str) -> (PathBuf, Host) {
    let key = sb.path(&format!("hostkeys/{name}"));
    std::fs::create_dir_all(key.parent().unwrap()).unwrap();
    ok(Command::new(tool("ssh-keygen"))
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&key));
    let identity = sb.path(&format!("hostkeys/{name}.age"));
    let private = ok(sb
        .nsec()
        .args(["ssh-to-age", "--private-key", "-i"])
        .arg(&key));
    std::fs::write(&identity, private).unwrap();
    (key.with_extension("pub"), Host { name, identity })
}

#[test]
fn per_host_declarations_deploy_with_only_that_hosts_key() {
    let sb = Sandbox::new();
    ok(sb.nsec().args(["init", "--name", "alice"]));
    let (desktop_pub, desktop) = ssh_host(&sb, "desktop");
    let (nas_pub, nas) = ssh_host(&sb, "nas");
    ok(sb
        .nsec()
        .args(["host", "add", "desktop", "--yes", "--ssh-key"])
        .arg(&desktop_pub));
    ok(sb
        .nsec()
        .args([
            "host",
            "add",
            "nas",
            "--only",
            "api-keys",
            "--yes",
            "--ssh-key",
        ])
        .arg(&nas_pub));

    // Secrets from each template and generator; two share the base name
    // `github`; one is named like a Nix keyword.
    let mut printed: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut pasted = String::new();
    let mut add = |args: &[&str], stdin: &str| {
        let out = run_with_stdin(sb.nsec().arg("add").args(args), stdin.as_bytes());
        assert_eq!(
            code(&out),
            0,
            "add {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        pasted.push_str(&text);
        printed.insert(args[0].to_string(), snippet_names(&text));
    };
    add(
        &["api-keys/openai", "--template", "api-key"],
        "sk-openai-0123456789\n",
    );
    add(&["api-keys/github"], "ghp_first_value\n");
    add(&["ssh-keys/github", "--template", "ssh-key"], "");
    add(&["api-keys/if"], "keyword-named\n");
    add(
        &[
            "api-keys/postgres",
            "--template",
            "database",
            "--field",
            "user=app",
            "--field",
            "host=db",
        ],
        "",
    );
    add(&["ssh-keys/wg-desktop", "--template", "wireguard"], "");
    add(&["api-keys/session", "--generate", "hex"], "");
    add(&["api-keys/cookie", "--generate", "base64"], "");
    add(&["api-keys/admin", "--generate", "password"], "");
    add(&["api-keys/app.env"], "dotenv-value\n");

    // Everything add printed, pasted into one module, is valid Nix with no
    // name given twice.
    let module = sb.write("pasted.nix", format!("{{\n{pasted}}}\n"));
    let out = run(sb
        .cmd(tool("nix-instantiate"))
        .args(["--eval", "--strict", "--expr"])
        .arg(format!(
            "builtins.attrNames (import {}).sops.secrets",
            module.display()
        )));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Adding ssh-keys/github did not rename api-keys/github.
    assert_eq!(printed["api-keys/github"], vec!["github"]);
    assert_eq!(printed["ssh-keys/github"], vec!["ssh-keys/github"]);
    assert_eq!(printed["api-keys/if"], vec!["if"]);

    let store = sb.path("secrets");
    let everything = sb.write("all.nix", ok(sb.nsec().arg("nix")));
    let all = evaluate(&sb, &everything);
    for (name, attrs) in &printed {
        for a in attrs {
            assert!(
                all.contains_key(a),
                "{name}: add printed `{a}`, nix declares {:?}",
                all.keys()
            );
        }
    }

    for host in [&desktop, &nas] {
        let out = run(sb.nsec().args(["nix", "--host", host.name]));
        assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
        let module = sb.write(&format!("{}.nix", host.name), &out.stdout);
        let declared = evaluate(&sb, &module);
        assert!(!declared.is_empty(), "nothing declared for {}", host.name);
        let mut declared_files = std::collections::BTreeSet::new();
        for (attr, (file, key, format)) in &declared {
            // The same name as the whole-store output.
            assert_eq!(
                all.get(attr),
                Some(&(file.clone(), key.clone(), format.clone()))
            );
            // Resolves with only this host's identity.
            let value = resolve(&sb, &host.identity, file, key, format)
                .unwrap_or_else(|e| panic!("{}: {attr} does not resolve: {e}", host.name));
            assert!(!value.is_empty());
            // Never a plaintext field.
            if matches!(format.as_str(), "yaml" | "json") {
                assert!(
                    stored_leaf(file, key).starts_with("ENC["),
                    "{}: {attr} declares a plaintext value",
                    host.name
                );
            }
            declared_files.insert(file.canonicalize().unwrap());
        }
        // Every file left out is one the host cannot read.
        let repo = secrets_core::repo::Store::open(&store).unwrap();
        for entry in repo.secret_files().unwrap() {
            let canonical = entry.canonicalize().unwrap();
            if declared_files.contains(&canonical) {
                continue;
            }
            let out = run(as_host(&sb, &host.identity).arg("decrypt").arg(&entry));
            assert!(
                !out.status.success(),
                "{}: {} is readable but not declared",
                host.name,
                entry.display()
            );
        }
        // And the preflight agrees: nothing to report.
        let v = run(sb
            .nsec()
            .args(["validate", "--keyless", "--host", host.name]));
        assert_eq!(code(&v), 0, "{}", String::from_utf8_lossy(&v.stdout));
    }
    // nas got only api-keys.
    let nas_decls = evaluate(&sb, &sb.path("nas.nix"));
    assert!(nas_decls
        .values()
        .all(|(f, _, _)| f.to_string_lossy().contains("/api-keys/")));
    assert!(nas_decls.contains_key("github") && !nas_decls.contains_key("ssh-keys/github"));
}

#[test]
fn preflight_reports_what_would_fail_at_boot() {
    let sb = Sandbox::new();
    ok(sb.nsec().args(["init", "--name", "alice"]));
    let (desktop_pub, desktop) = ssh_host(&sb, "desktop");
    let add = |name: &str, value: &str| {
        let out = run_with_stdin(sb.nsec().args(["add", name]), value.as_bytes());
        assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    };
    add("api-keys/old", "value-1234\n");
    // The host joins without re-keying: E051 for the existing file.
    let out = run_with_stdin(
        sb.nsec()
            .args(["host", "add", "desktop", "--ssh-key"])
            .arg(&desktop_pub),
        b"n\n",
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let report = |host: &str| {
        let out = run(sb
            .nsec()
            .args(["validate", "--keyless", "--json", "--host", host]));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let problems: Vec<(String, String)> = v["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["code"].as_str().unwrap().to_string(),
                    p["fix"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        (code(&out), problems)
    };
    let (rc, problems) = report("desktop");
    assert_eq!(rc, 1);
    let e051 = problems.iter().find(|(c, _)| c == "E051").expect("E051");
    // The fix works when pasted, and then the host's preflight is clean.
    let fix: Vec<&str> = e051.1.split_whitespace().collect();
    assert_eq!(fix[0], "nsec");
    ok(sb.nsec().args(&fix[1..]));
    assert_eq!(
        report("desktop")
            .1
            .iter()
            .filter(|(c, _)| c.starts_with('E'))
            .count(),
        0
    );
    let all = evaluate(
        &sb,
        &sb.write("d.nix", ok(sb.nsec().args(["nix", "--host", "desktop"]))),
    );
    let (file, key, format) = &all["old"];
    assert!(resolve(&sb, &desktop.identity, file, key, format).is_ok());

    // A value that is not a string cannot be installed: E052, and it is not declared.
    let st = sb.path("secrets");
    let plain = sb.write("num.yaml", "port: 5432\nname: x\n");
    let enc = ok(sb
        .nsec()
        .args(["encrypt", "--filename-override"])
        .arg(st.join("api-keys/num.yaml"))
        .arg(&plain));
    std::fs::write(st.join("api-keys/num.yaml"), enc).unwrap();
    let (_, problems) = report("desktop");
    assert!(problems.iter().any(|(c, _)| c == "E052"), "{problems:?}");
    let nix = String::from_utf8(ok(sb.nsec().args(["nix", "--host", "desktop"]))).unwrap();
    assert!(
        nix.contains("num = ") && nix.contains("key = \"name\""),
        "{nix}"
    );
    assert!(!nix.contains("port"), "{nix}");

    // A host named by its ssh-ed25519 key: sops-nix cannot open its stanzas.
    let cfg = std::fs::read_to_string(st.join(".sops.yaml")).unwrap();
    let ssh_pub = std::fs::read_to_string(&desktop_pub).unwrap();
    let ssh_pub = ssh_pub
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    let desktop_age =
        String::from_utf8(ok(sb.nsec().args(["ssh-to-age", "-i"]).arg(&desktop_pub))).unwrap();
    let cfg = cfg.replace(desktop_age.trim(), &format!("\"{ssh_pub}\""));
    std::fs::write(st.join(".sops.yaml"), cfg).unwrap();
    let (rc, problems) = report("desktop");
    assert_eq!(rc, 1);
    assert!(problems.iter().any(|(c, _)| c == "E053"), "{problems:?}");

    // An unknown host is an error, not "0 problems".
    let (rc, problems) = report("nobody");
    assert_eq!(rc, 1);
    assert!(problems.iter().any(|(c, _)| c == "E050"), "{problems:?}");
    assert_ne!(code(&run(sb.nsec().args(["nix", "--host", "nobody"]))), 0);
}

#[test]
fn nix_settings_survive_regeneration_and_are_valid_nix() {
    let sb = Sandbox::new();
    ok(sb.nsec().args(["init", "--name", "alice"]));
    let out = run_with_stdin(
        sb.nsec()
            .args(["add", "api-keys/openai", "--template", "api-key"]),
        b"sk-0123456789abc\n",
    );
    assert_eq!(code(&out), 0);
    let st = sb.path("secrets");
    let mut cfg = std::fs::read_to_string(st.join(".sops.yaml")).unwrap();
    cfg.push_str(
        "nsec:\n  nix:\n    api-keys/openai:\n      owner: openai\n      group: \"ai\"\n      mode: \"0440\"\n      restartUnits: [openai.service]\n      reloadUnits: [nginx.service]\n      neededForUsers: false\n      path: /var/lib/openai/key\n",
    );
    std::fs::write(st.join(".sops.yaml"), cfg).unwrap();
    let module = sb.write("s.nix", ok(sb.nsec().arg("nix")));
    let expr = format!(
        "builtins.toJSON (builtins.mapAttrs (n: v: removeAttrs v [\"sopsFile\"]) (import {}).sops.secrets)",
        module.display()
    );
    let out = ok(sb
        .cmd(tool("nix-instantiate"))
        .args(["--eval", "--strict", "--expr"])
        .arg(&expr));
    let text = String::from_utf8(out).unwrap();
    let json: String = serde_json::from_str(text.trim()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"openai": {
            "owner": "openai", "group": "ai", "mode": "0440", "path": "/var/lib/openai/key",
            "restartUnits": ["openai.service"], "reloadUnits": ["nginx.service"], "neededForUsers": false
        }})
    );
    // Metadata fields of the template are never declared.
    let text = std::fs::read_to_string(&module).unwrap();
    assert!(!text.contains("_unencrypted"), "{text}");
    // A bad setting is an error naming it.
    let cfg = std::fs::read_to_string(st.join(".sops.yaml")).unwrap();
    std::fs::write(
        st.join(".sops.yaml"),
        cfg.replace("mode: \"0440\"", "mode: rw"),
    )
    .unwrap();
    let out = run(sb.nsec().arg("nix"));
    assert_ne!(code(&out), 0);
    assert!(String::from_utf8_lossy(&out.stderr).contains("nsec.nix.api-keys/openai.mode"));
}

/// `.sops.yaml` at the repository root, as in sops-nix's README: only what
/// the creation rules cover is the store. validate, list, nix, rotate and
/// the pre-commit hook leave flake.nix and the rest of the configuration
/// alone; a plaintext file the rules cover is still refused.
#[test]
fn root_sops_yaml_makes_only_the_rules_the_store() {
    let sb = Sandbox::new();
    let key = sb.path("keys.txt");
    ok(sb.nsec().args(["keygen", "-o"]).arg(&key));
    let recipient =
        String::from_utf8(ok(Command::new(age_bin("age-keygen")).arg("-y").arg(&key))).unwrap();
    sb.write(
        ".sops.yaml",
        format!(
            "keys:\n  - &alice {}\ncreation_rules:\n  - path_regex: secrets/[^/]+\\.(yaml|json|env|ini)$\n    key_groups:\n      - age:\n          - *alice\n",
            recipient.trim()
        ),
    );
    sb.write("flake.nix", "{ outputs = { self }: { }; }\n");
    sb.write(
        "configuration.nix",
        "{ ... }: { networking.hostName = \"laptop\"; }\n",
    );
    sb.write("hosts/laptop/hardware.yaml", "disk: nvme0n1\n");
    let git = |args: &[&str]| run(sb.git(&key).args(args));
    assert!(git(&["init", "-q", "-b", "main"]).status.success());
    let out = run_with_stdin(
        sb.nsec()
            .args(["add", "secrets/openai"])
            .env("SOPS_AGE_KEY_FILE", &key),
        b"sk-root-layout-123\n",
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "sops.secrets.openai = { sopsFile = ./secrets/openai.yaml; };\n"
    );
    ok(sb.nsec().args(["git", "install"]));
    let attrs = std::fs::read_to_string(sb.path(".gitattributes")).unwrap();
    assert!(attrs.contains("secrets/** diff=nsec merge=nsec"), "{attrs}");
    assert!(!attrs.contains("*.yaml"), "{attrs}");

    // validate and list see only the secret.
    let v = run(sb.nsec().args(["validate", "--keyless"]));
    assert_eq!(code(&v), 0, "{}", String::from_utf8_lossy(&v.stdout));
    let listed: serde_json::Value =
        serde_json::from_slice(&ok(sb.nsec().args(["list", "--json"]))).unwrap();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["secrets/openai"]);
    let nix = String::from_utf8(ok(sb.nsec().arg("nix"))).unwrap();
    assert!(
        nix.contains("openai = ") && !nix.contains("hardware"),
        "{nix}"
    );
    let rotated = run(sb
        .nsec()
        .args(["rotate", "--all", "--yes"])
        .env("SOPS_AGE_KEY_FILE", &key));
    assert_eq!(
        code(&rotated),
        0,
        "{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(sb.path("hosts/laptop/hardware.yaml")).unwrap(),
        "disk: nvme0n1\n"
    );

    // The configuration commits; a plaintext secret does not.
    assert!(git(&["add", "-A"]).status.success());
    let c = git(&["commit", "-q", "-m", "config"]);
    assert!(
        c.status.success(),
        "{}{}",
        String::from_utf8_lossy(&c.stdout),
        String::from_utf8_lossy(&c.stderr)
    );
    sb.write("secrets/leak.yaml", "token: plain-text-secret\n");
    assert!(git(&["add", "secrets/leak.yaml"]).status.success());
    let c = git(&["commit", "-q", "-m", "leak"]);
    assert!(!c.status.success(), "the plaintext secret was committed");
    let msg = String::from_utf8_lossy(&c.stdout).into_owned() + &String::from_utf8_lossy(&c.stderr);
    assert!(
        msg.contains("E010") && !msg.contains("plain-text-secret"),
        "{msg}"
    );
}
