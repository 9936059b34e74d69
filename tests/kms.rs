//! AWS KMS master keys against the real Go sops 3.11 (AWS SDK for Go) and
//! a real KMS API: moto's server (PyPI `moto[server]`), started by each test
//! on a free loopback port and stopped at its end. Keys are made through
//! moto's API. Nothing is mocked inside nsec and nothing is skipped: a
//! missing sops or moto fails the test. No address but 127.0.0.1 is used.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use secrets_core::file::SopsFile;
use secrets_core::Format;

const PLAIN: &str = "db:\n    password: hunter2\nlist:\n    - 1\n    - two\n";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A command that talks to `moto` and has no age or PGP key.
fn aws(mut cmd: Command, moto: &Moto) -> Command {
    moto.apply(&mut cmd);
    cmd
}

fn decrypt(cmd: Command, file: &Path) -> String {
    let mut cmd = cmd;
    text(&ok(cmd.arg("decrypt").arg(file)))
}

fn metadata(path: &Path) -> secrets_core::metadata::Metadata {
    SopsFile::parse(Format::from_path(path), &std::fs::read(path).unwrap())
        .unwrap()
        .metadata
}

fn kms_names(path: &Path) -> Vec<Vec<String>> {
    metadata(path)
        .key_groups
        .iter()
        .map(|g| {
            g.kms_entries()
                .unwrap()
                .into_iter()
                .map(|e| e.key.name())
                .collect()
        })
        .collect()
}

/// The lines of the `kms:` section of a YAML file, with `created_at` and
/// `enc` values blanked (they differ from run to run).
fn kms_section(yaml: &str) -> String {
    let start = yaml.find("    kms:\n").expect("a kms section");
    yaml[start..]
        .lines()
        .take_while(|l| l.starts_with("    kms:") || l.starts_with("      "))
        .map(|l| match l.split_once(": ") {
            Some((k, _)) if k.trim_start_matches([' ', '-']) == "created_at" => format!("{k}: T"),
            Some((k, _)) if k.trim_start_matches([' ', '-']) == "enc" => format!("{k}: E"),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn sops_kms_files_open_in_nsec_and_nsec_kms_files_in_sops() {
    let moto = Moto::start();
    let arn = moto.create_key();
    let sb = Sandbox::new();
    let plain = sb.write("plain.yaml", PLAIN);
    for context in [None, Some("app:nsec,env:test")] {
        let ctx_args: Vec<&str> = context
            .map(|c| vec!["--encryption-context", c])
            .unwrap_or_default();
        let by_sops = sb.path("by-sops.yaml");
        ok(aws(sb.sops(), &moto)
            .args(["encrypt", "--kms", &arn])
            .args(&ctx_args)
            .arg("--output")
            .arg(&by_sops)
            .arg(&plain));
        assert_eq!(
            decrypt(aws(sb.nsec(), &moto), &by_sops),
            PLAIN,
            "{context:?}"
        );

        let by_nsec = sb.path("by-nsec.yaml");
        ok(aws(sb.nsec(), &moto)
            .args(["encrypt", "--kms", &arn])
            .args(&ctx_args)
            .arg("--output")
            .arg(&by_nsec)
            .arg(&plain));
        assert_eq!(
            decrypt(aws(sb.sops(), &moto), &by_nsec),
            PLAIN,
            "{context:?}"
        );
        // The same metadata as sops writes, field by field.
        let ours = std::fs::read_to_string(&by_nsec).unwrap();
        let theirs = std::fs::read_to_string(&by_sops).unwrap();
        assert_eq!(kms_section(&ours), kms_section(&theirs), "{context:?}");
        let order = |y: &str| -> Vec<String> {
            y.lines()
                .filter(|l| l.starts_with("    ") && !l.starts_with("     "))
                .map(|l| l.trim().split(':').next().unwrap().to_string())
                .collect()
        };
        assert_eq!(order(&ours), order(&theirs));
    }
    // The context is part of the key: a file whose context was changed does
    // not open, and the error names the key and KMS' reason.
    let by_nsec = sb.path("by-nsec.yaml");
    let yaml = std::fs::read_to_string(&by_nsec).unwrap();
    let tampered = sb.write("tampered.yaml", yaml.replace("env: test", "env: prod"));
    let out = run(aws(sb.nsec(), &moto).arg("decrypt").arg(&tampered));
    assert_eq!(code(&out), 128, "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("kms {arn}|app:nsec,env:prod")),
        "{err}"
    );
    assert!(err.contains("KMS Decrypt failed"), "{err}");

    // SOPS_KMS_ARN, JSON and the legacy form.
    let plain_json = sb.write("plain.json", "{\"a\": \"b\"}");
    let json = sb.path("by-nsec.json");
    ok(aws(sb.nsec(), &moto)
        .env("SOPS_KMS_ARN", &arn)
        .args(["encrypt", "--output"])
        .arg(&json)
        .arg(&plain_json));
    assert_eq!(kms_names(&json), [vec![arn.clone()]]);
    assert_eq!(
        decrypt(aws(sb.sops(), &moto), &json),
        text(&ok(aws(sb.nsec(), &moto).arg("decrypt").arg(&json)))
    );
    let legacy = sb.write(
        "legacy.yaml",
        ok(aws(sb.nsec(), &moto)
            .args(["-e", "--kms", &arn])
            .arg(&plain)),
    );
    assert_eq!(decrypt(aws(sb.sops(), &moto), &legacy), PLAIN);
}

#[test]
fn kms_keys_by_rule_with_roles_and_rotate() {
    let moto = Moto::start();
    let a = moto.create_key();
    let b = moto.create_key();
    let role = "arn:aws:iam::123456789012:role/nsec-test";
    let sb = Sandbox::new();
    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: ^flat/\n    kms: {a}+{role}\n  - path_regex: ^groups/\n    key_groups:\n      - kms:\n          - arn: {b}\n            context:\n              team: infra\n        age:\n          - {AGE_A}\n"
        ),
    );
    // The flat form, with a role assumed through STS first.
    let flat = sb.write("flat/x.yaml", PLAIN);
    ok(aws(sb.nsec(), &moto).args(["encrypt", "-i"]).arg(&flat));
    assert_eq!(kms_names(&flat), [vec![format!("{a}+{role}")]]);
    assert_eq!(decrypt(aws(sb.sops(), &moto), &flat), PLAIN);
    let flat_sops = sb.write("flat/z.yaml", PLAIN);
    ok(aws(sb.sops(), &moto)
        .args(["encrypt", "-i"])
        .arg(&flat_sops));
    assert_eq!(
        kms_section(&std::fs::read_to_string(&flat).unwrap()),
        kms_section(&std::fs::read_to_string(&flat_sops).unwrap())
    );
    assert_eq!(decrypt(aws(sb.nsec(), &moto), &flat_sops), PLAIN);
    // With --encryption-context, which applies to the flat form's keys.
    let flat2 = sb.write("flat/y.yaml", PLAIN);
    ok(aws(sb.nsec(), &moto)
        .args(["encrypt", "-i", "--encryption-context", "k:v"])
        .arg(&flat2));
    assert_eq!(kms_names(&flat2), [vec![format!("{a}+{role}|k:v")]]);
    assert_eq!(decrypt(aws(sb.sops(), &moto), &flat2), PLAIN);

    // The key-group form with a per-key context, as sops writes it.
    let groups = sb.write("groups/x.yaml", PLAIN);
    ok(aws(sb.nsec(), &moto).args(["encrypt", "-i"]).arg(&groups));
    let by_sops = sb.write("groups/y.yaml", PLAIN);
    ok(aws(sb.sops(), &moto).args(["encrypt", "-i"]).arg(&by_sops));
    assert_eq!(
        kms_section(&std::fs::read_to_string(&groups).unwrap()),
        kms_section(&std::fs::read_to_string(&by_sops).unwrap())
    );
    assert_eq!(decrypt(aws(sb.sops(), &moto), &groups), PLAIN);
    assert_eq!(decrypt(aws(sb.nsec(), &moto), &by_sops), PLAIN);

    // rotate: a new data key, a KMS key added and another removed.
    let before = std::fs::read_to_string(&by_sops).unwrap();
    ok(aws(sb.nsec(), &moto)
        .args(["rotate", "-i", "--add-kms", &a])
        .arg(&by_sops));
    assert_ne!(std::fs::read_to_string(&by_sops).unwrap(), before);
    assert_eq!(
        kms_names(&by_sops),
        [vec![format!("{b}|team:infra"), a.clone()]]
    );
    assert_eq!(decrypt(aws(sb.sops(), &moto), &by_sops), PLAIN);
    ok(aws(sb.nsec(), &moto)
        .args(["rotate", "-i", "--rm-kms", &b])
        .arg(&by_sops));
    assert_eq!(kms_names(&by_sops), [vec![a.clone()]]);
    assert_eq!(decrypt(aws(sb.sops(), &moto), &by_sops), PLAIN);
    // The age key alone still opens it (in sops, without any AWS access).
    let mut age_only = sb.sops();
    age_only.env("SOPS_AGE_KEY_FILE", key_file("A"));
    assert_eq!(decrypt(age_only, &by_sops), PLAIN);
    // sops rotates what nsec rotated.
    ok(aws(sb.sops(), &moto).args(["rotate", "-i"]).arg(&by_sops));
    assert_eq!(decrypt(aws(sb.nsec(), &moto), &by_sops), PLAIN);

    // updatekeys back to the rule.
    let out = run(aws(sb.nsec(), &moto)
        .args(["updatekeys", "-y"])
        .arg(&by_sops));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(kms_names(&by_sops), [vec![format!("{b}|team:infra")]]);
    assert_eq!(decrypt(aws(sb.sops(), &moto), &by_sops), PLAIN);
}

/// A file made by sops for age key A, a new PGP key in `gpg` and a new KMS
/// key in `moto`.
fn age_pgp_kms_file(
    sb: &Sandbox,
    moto: &Moto,
    gpg: &GpgHome,
    extra: &[&str],
) -> std::path::PathBuf {
    let arn = moto.create_key();
    let fp = gpg.generate("alice <alice@example.org>");
    let plain = sb.write("plain.yaml", PLAIN);
    let file = sb.path("x.yaml");
    let mut make = aws(sb.sops(), moto);
    gpg.apply(&mut make);
    ok(make
        .args(["encrypt", "--age", AGE_A, "--pgp", &fp, "--kms", &arn])
        .args(extra)
        .arg("--output")
        .arg(&file)
        .arg(&plain));
    file
}

#[test]
fn age_pgp_and_kms_stanzas_made_by_sops_survive_set() {
    let moto = Moto::start();
    let gpg = GpgHome::new();
    let sb = Sandbox::new();
    let file = age_pgp_kms_file(&sb, &moto, &gpg, &["--encryption-context", "app:nsec"]);
    let before = metadata(&file);
    // nsec set, with only the KMS key at hand.
    ok(aws(sb.nsec(), &moto)
        .env("SOPS_GPG_EXEC", sb.path("no-gpg"))
        .arg("set")
        .arg(&file)
        .args(["[\"db\"][\"password\"]", "\"changed\""]));
    let after = metadata(&file);
    assert_eq!(after.key_groups[0].age, before.key_groups[0].age);
    assert_eq!(
        after.key_groups[0].pgp_entries().unwrap(),
        before.key_groups[0].pgp_entries().unwrap()
    );
    assert_eq!(
        after.key_groups[0].kms_entries().unwrap(),
        before.key_groups[0].kms_entries().unwrap()
    );
    let want = PLAIN.replace("hunter2", "changed");
    // Each key alone opens it in sops.
    let mut age_only = sb.sops();
    age_only
        .env("SOPS_AGE_KEY_FILE", key_file("A"))
        .env("GNUPGHOME", GpgHome::new().dir.path());
    assert_eq!(decrypt(age_only, &file), want, "age alone");
    let mut pgp_only = sb.sops();
    gpg.apply(&mut pgp_only);
    assert_eq!(decrypt(pgp_only, &file), want, "pgp alone");
    let empty = GpgHome::new();
    let mut kms_only = aws(sb.sops(), &moto);
    empty.apply(&mut kms_only);
    assert_eq!(decrypt(kms_only, &file), want, "kms alone");
    // And in nsec: the KMS key alone, with gpg failing first.
    let mut kms_only = aws(sb.nsec(), &moto);
    empty.apply(&mut kms_only);
    assert_eq!(decrypt(kms_only, &file), want);
}

#[test]
fn an_unreachable_kms_never_blocks_age_and_errors_name_the_key() {
    let moto = Moto::start();
    let arn = moto.create_key();
    let sb = Sandbox::new();
    let plain = sb.write("plain.yaml", PLAIN);
    let file = sb.path("x.yaml");
    ok(aws(sb.sops(), &moto)
        .args(["encrypt", "--age", AGE_A, "--kms", &arn, "--output"])
        .arg(&file)
        .arg(&plain));
    drop(moto);
    // KMS is gone: the age key opens the file, and no KMS call is made.
    let mut age = sb.nsec();
    age.env("SOPS_AGE_KEY_FILE", key_file("A"))
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    assert_eq!(decrypt(age, &file), PLAIN);
    // Without the age key: exit 128, the ARN and why.
    let mut none = sb.nsec();
    none.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "secret-must-not-show");
    let out = run(none.arg("decrypt").arg(&file));
    assert_eq!(code(&out), 128);
    let err = text(&out.stderr);
    assert!(err.contains(&format!("kms {arn}: cannot reach")), "{err}");
    assert!(!err.contains("secret-must-not-show"), "{err}");
    // No credentials at all: named as such.
    let out = run(sb
        .nsec()
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .arg("decrypt")
        .arg(&file));
    assert_eq!(code(&out), 128);
    assert!(
        text(&out.stderr).contains("no AWS credentials"),
        "{}",
        text(&out.stderr)
    );
}

/// A moto server with a new key, and a KMS-only file made by sops for it
/// in a new sandbox.
fn kms_setup() -> (Moto, String, Sandbox, std::path::PathBuf) {
    let moto = Moto::start();
    let arn = moto.create_key();
    let sb = Sandbox::new();
    let plain = sb.write("plain.yaml", PLAIN);
    let file = sb.path("kms.yaml");
    ok(aws(sb.sops(), &moto)
        .args(["encrypt", "--kms", &arn, "--output"])
        .arg(&file)
        .arg(&plain));
    (moto, arn, sb, file)
}

/// `CMD decrypt FILE`, which must fail for want of the data key (exit
/// 128) with an error naming the KMS key `arn`; returns stderr.
fn cannot_decrypt(mut cmd: Command, file: &Path, arn: &str) -> String {
    let out = run(cmd.arg("decrypt").arg(file));
    let err = text(&out.stderr);
    assert_eq!(code(&out), 128, "{err}");
    assert!(err.contains(&format!("kms {arn}: ")), "{err}");
    err
}

/// `sops` or `nsec` in the sandbox, by name.
fn either(sb: &Sandbox, program: &str) -> Command {
    match program {
        "sops" => sb.sops(),
        _ => sb.nsec(),
    }
}

/// A command for `moto`'s KMS without static keys in the environment: the
/// credential chain must find them elsewhere.
fn keyless(cmd: Command, moto: &Moto) -> Command {
    let mut cmd = aws(cmd, moto);
    cmd.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY");
    cmd
}

#[test]
fn web_identity_from_the_environment_and_from_a_profile() {
    let (moto, arn, sb, file) = kms_setup();
    let token = sb.write("token.jwt", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0In0.c2ln\n");
    let role = "arn:aws:iam::123456789012:role/ci";
    for program in ["sops", "nsec"] {
        // EKS / GitHub OIDC: the variables.
        let mut env = keyless(either(&sb, program), &moto);
        // The Go SDK's web-identity STS client takes the service's own
        // endpoint variable (not AWS_ENDPOINT_URL); nsec reads both.
        env.env("AWS_ENDPOINT_URL_STS", &moto.url)
            .env("AWS_WEB_IDENTITY_TOKEN_FILE", &token)
            .env("AWS_ROLE_ARN", role)
            .env("AWS_ROLE_SESSION_NAME", "ci-run");
        assert_eq!(decrypt(env, &file), PLAIN, "{program}");
        // A profile.
        let config = sb.write(
            "aws-config",
            format!(
                "[profile oidc]\nweb_identity_token_file = {}\nrole_arn = {role}\n",
                token.display()
            ),
        );
        let mut profile = keyless(either(&sb, program), &moto);
        profile
            .env("AWS_ENDPOINT_URL_STS", &moto.url)
            .env("AWS_CONFIG_FILE", &config)
            .env("AWS_PROFILE", "oidc");
        assert_eq!(decrypt(profile, &file), PLAIN, "{program}");
    }
    // A missing token file: the error names the source and the file.
    let mut missing = keyless(sb.nsec(), &moto);
    missing
        .env("AWS_WEB_IDENTITY_TOKEN_FILE", sb.path("nope.jwt"))
        .env("AWS_ROLE_ARN", role);
    let err = cannot_decrypt(missing, &file, &arn);
    assert!(
        err.contains("web identity (AWS_WEB_IDENTITY_TOKEN_FILE): cannot read the token file")
            && err.contains("nope.jwt"),
        "{err}"
    );
}

#[test]
fn credential_process_runs_as_the_go_sdk_runs_it() {
    let (moto, arn, sb, file) = kms_setup();
    // The Go SDK runs `sh -c COMMAND`: quotes group words and the
    // environment is the caller's. The script checks both, says something
    // on stderr (passed through, for MFA prompts) and prints the keys.
    let script = sb.write(
        "creds.sh",
        "#!/bin/sh\n[ \"$1\" = \"two words\" ] || { echo \"bad argument: $1\" >&2; exit 3; }\n[ \"$CREDS_MODE\" = ok ] || { echo '{\"Version\": 2, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"process-secret\"}'; exit 0; }\necho 'creds.sh was here' >&2\necho '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROCESS\", \"SecretAccessKey\": \"process-secret\", \"SessionToken\": \"t\", \"Expiration\": \"2099-01-01T00:00:00Z\"}'\n",
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = sb.write(
        "aws-config",
        format!(
            "[default]\ncredential_process = '{}' \"two words\"\n[profile fails]\ncredential_process = '{}' one\n",
            script.display(),
            script.display()
        ),
    );
    for program in ["sops", "nsec"] {
        let mut cmd = keyless(either(&sb, program), &moto);
        cmd.env("AWS_CONFIG_FILE", &config).env("CREDS_MODE", "ok");
        let out = run(cmd.arg("decrypt").arg(&file));
        assert!(out.status.success(), "{program}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), PLAIN);
        assert!(text(&out.stderr).contains("creds.sh was here"), "{program}");
    }
    // A failing process: the profile is named, its stderr passed through.
    let mut fails = keyless(sb.nsec(), &moto);
    fails
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_PROFILE", "fails");
    let err = cannot_decrypt(fails, &file, &arn);
    assert!(
        err.contains("credential_process of profile fails: the command failed")
            && err.contains("bad argument: one"),
        "{err}"
    );
    // Output of the wrong version: refused, and never echoed.
    let mut bad = keyless(sb.nsec(), &moto);
    bad.env("AWS_CONFIG_FILE", &config);
    let err = cannot_decrypt(bad, &file, &arn);
    assert!(
        err.contains("credential_process of profile default: the output's Version is not 1"),
        "{err}"
    );
    assert!(!err.contains("process-secret"), "{err}");
}

#[test]
fn container_credentials_with_a_token_and_a_token_file() {
    let (moto, arn, sb, file) = kms_setup();
    let fixture = CredsFixture::start("Bearer pod-token");
    let token_file = sb.write("pod-token", "Bearer pod-token");
    let uri = format!("{}/creds", fixture.url);
    for program in ["sops", "nsec"] {
        let cmd = |sb: &Sandbox| {
            let mut c = keyless(either(sb, program), &moto);
            c.env("AWS_CONTAINER_CREDENTIALS_FULL_URI", &uri);
            c
        };
        let mut token = cmd(&sb);
        token.env("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer pod-token");
        assert_eq!(decrypt(token, &file), PLAIN, "{program}");
        // EKS Pod Identity: the token file wins over the variable.
        let mut token_from_file = cmd(&sb);
        token_from_file
            .env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", &token_file)
            .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer wrong");
        assert_eq!(decrypt(token_from_file, &file), PLAIN, "{program}");
        // A wrong token fails in both.
        let mut wrong = cmd(&sb);
        wrong.env("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer wrong");
        let out = run(wrong.arg("decrypt").arg(&file));
        assert!(!out.status.success(), "{program}");
        if program == "nsec" {
            let err = text(&out.stderr);
            assert!(
                err.contains("container credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI): HTTP 401 wrong authorization token"),
                "{err}"
            );
            assert!(!err.contains("pod-token") && err.contains(&arn), "{err}");
        }
    }
    let served = fixture.requests();
    assert!(served.iter().any(|r| r == "/creds True"), "{served:?}");
    assert!(served.iter().any(|r| r == "/creds False"), "{served:?}");
}

#[test]
fn instance_metadata_imdsv2() {
    let (moto, arn, sb, file) = kms_setup();
    let imds = CredsFixture::start("t");
    for program in ["sops", "nsec"] {
        let mut cmd = keyless(either(&sb, program), &moto);
        cmd.env_remove("AWS_EC2_METADATA_DISABLED")
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds.url);
        assert_eq!(decrypt(cmd, &file), PLAIN, "{program}");
    }
    // Both took a session token first and used it for both reads.
    let served = imds.requests();
    assert!(served.iter().all(|r| r.ends_with(" True")), "{served:?}");
    let nsec_calls = &served[served.len() - 3..];
    assert_eq!(
        nsec_calls,
        [
            "PUT /latest/api/token True",
            "/latest/meta-data/iam/security-credentials/ True",
            "/latest/meta-data/iam/security-credentials/fixture-role True"
        ]
    );
    // Turned off: no credentials, and every source tried is named.
    let mut off = keyless(sb.nsec(), &moto);
    off.env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds.url);
    let err = cannot_decrypt(off, &file, &arn);
    for part in [
        "no AWS credentials found",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "instance metadata (disabled by AWS_EC2_METADATA_DISABLED)",
    ] {
        assert!(err.contains(part), "{part}: {err}");
    }
    // Nothing listening: a named failure.
    let mut closed = keyless(sb.nsec(), &moto);
    closed
        .env_remove("AWS_EC2_METADATA_DISABLED")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9");
    let err = cannot_decrypt(closed, &file, &arn);
    assert!(
        err.contains("instance metadata (http://127.0.0.1:9: cannot reach"),
        "{err}"
    );
}

#[test]
fn sso_profiles_with_a_cached_login() {
    let (moto, arn, sb, file) = kms_setup();
    let fixture = CredsFixture::start("sso-access-token");
    let config = sb.write(
        "aws-config",
        "[profile sso]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Admin\n\n[sso-session corp]\nsso_start_url = https://corp.example.invalid/start\nsso_region = us-east-1\n\n[profile legacy]\nsso_start_url = https://legacy.example.invalid/start\nsso_region = us-east-1\nsso_account_id = 123456789012\nsso_role_name = Admin\n",
    );
    // What `aws sso login` leaves: ~/.aws/sso/cache/<sha1 of the session
    // name, or of the start URL in the legacy form>.json.
    let cache = sb.home().join(".aws/sso/cache");
    std::fs::create_dir_all(&cache).unwrap();
    let token = |expires: &str| {
        format!(
            "{{\"startUrl\": \"https://corp.example.invalid/start\", \"region\": \"us-east-1\", \"accessToken\": \"sso-access-token\", \"expiresAt\": \"{expires}\"}}"
        )
    };
    // sha1("corp") and sha1("https://legacy.example.invalid/start").
    let corp = cache.join("ee0bfd2552fbd840c02cc48b6e823320543c450f.json");
    let legacy = cache.join("b266be612f3ac1b82705d9550c152ad2a9db0506.json");
    std::fs::write(&corp, token("2099-01-01T00:00:00Z")).unwrap();
    std::fs::write(&legacy, token("2099-01-01T00:00:00Z")).unwrap();
    for program in ["sops", "nsec"] {
        for profile in ["sso", "legacy"] {
            let mut cmd = keyless(either(&sb, program), &moto);
            cmd.env("AWS_CONFIG_FILE", &config)
                .env("AWS_PROFILE", profile)
                .env("AWS_ENDPOINT_URL_SSO", &fixture.url);
            assert_eq!(decrypt(cmd, &file), PLAIN, "{program} {profile}");
        }
    }
    assert_eq!(fixture.requests(), vec!["/federation/credentials True"; 4]);
    // Expired, and missing: the error says how to log in again.
    std::fs::write(&corp, token("2020-01-01T00:00:00Z")).unwrap();
    std::fs::remove_file(&legacy).unwrap();
    for (profile, why) in [
        ("sso", "the SSO login expired at 2020-01-01T00:00:00Z"),
        (
            "legacy",
            "no SSO login for https://legacy.example.invalid/start",
        ),
    ] {
        let mut cmd = keyless(sb.nsec(), &moto);
        cmd.env("AWS_CONFIG_FILE", &config)
            .env("AWS_PROFILE", profile)
            .env("AWS_ENDPOINT_URL_SSO", &fixture.url);
        let err = cannot_decrypt(cmd, &file, &arn);
        assert!(
            err.contains(why) && err.contains(&format!("run `aws sso login --profile {profile}`")),
            "{err}"
        );
        assert!(!err.contains("sso-access-token"), "{err}");
    }
}

/// A loopback port that accepts connections and closes them at once: a
/// dead KMS whose every contact is counted.
struct DeadEndpoint {
    url: String,
    contacts: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl DeadEndpoint {
    fn start() -> DeadEndpoint {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let contacts = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = contacts.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                drop(stream);
            }
        });
        DeadEndpoint { url, contacts }
    }

    /// Contacts since the last call.
    fn take(&self) -> usize {
        self.contacts.swap(0, std::sync::atomic::Ordering::SeqCst)
    }
}

#[test]
fn decryption_order_decides_which_key_is_tried_first_as_in_sops() {
    let moto = Moto::start();
    let gpg = GpgHome::new();
    let sb = Sandbox::new();
    let file = age_pgp_kms_file(&sb, &moto, &gpg, &[]);
    drop(moto);
    // Every key works except KMS, whose endpoint counts contacts and drops
    // them; gpg runs through a wrapper that logs each call.
    let kms = DeadEndpoint::start();
    let gpg_log = sb.path("gpg.log");
    let wrapper = sb.write(
        "gpg-wrapper",
        format!(
            "#!/bin/sh\necho called >> '{}'\nexec '{}' \"$@\"\n",
            gpg_log.display(),
            tool("gpg").display()
        ),
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let gpg_calls = || {
        let n = std::fs::read_to_string(&gpg_log)
            .map(|t| t.lines().count())
            .unwrap_or(0);
        let _ = std::fs::remove_file(&gpg_log);
        n
    };
    // (order, KMS contacted?, gpg run?), the same in sops and nsec:
    // unlisted types come after listed ones in sops' group order (kms,
    // pgp, age), so `kms` alone tries PGP before age.
    let cases: [(Option<&str>, bool, bool); 6] = [
        (None, false, false),
        (Some("age,pgp"), false, false),
        (Some("pgp"), false, true),
        (Some("kms,age"), true, false),
        (Some("kms"), true, true),
        (Some("vault,pgp"), false, true),
    ];
    for (order, kms_first, pgp_before_age) in cases {
        for program in ["sops", "nsec"] {
            let mut cmd = either(&sb, program);
            cmd.env("SOPS_AGE_KEY_FILE", key_file("A"))
                .env("GNUPGHOME", gpg.dir.path())
                .env("SOPS_GPG_EXEC", &wrapper)
                .env("AWS_ENDPOINT_URL", &kms.url)
                .env("AWS_ACCESS_KEY_ID", "testing")
                .env("AWS_SECRET_ACCESS_KEY", "testing")
                .env("NO_PROXY", "127.0.0.1");
            if let Some(o) = order {
                cmd.env("SOPS_DECRYPTION_ORDER", o);
            }
            assert_eq!(decrypt(cmd, &file), PLAIN, "{program} {order:?}");
            assert_eq!(kms.take() > 0, kms_first, "{program} {order:?}: KMS");
            assert_eq!(gpg_calls() > 0, pgp_before_age, "{program} {order:?}: gpg");
        }
    }
    // The flag, which wins over the variable; and in the legacy form.
    let mut flag = sb.nsec();
    flag.env("SOPS_AGE_KEY_FILE", key_file("A"))
        .env("GNUPGHOME", gpg.dir.path())
        .env("SOPS_GPG_EXEC", &wrapper)
        .env("SOPS_DECRYPTION_ORDER", "age")
        .args(["decrypt", "--decryption-order", "pgp"])
        .arg(&file);
    assert_eq!(text(&ok(&mut flag)), PLAIN);
    assert_eq!(gpg_calls(), 1);
    let mut legacy = sb.nsec();
    legacy
        .env("SOPS_AGE_KEY_FILE", key_file("A"))
        .env("GNUPGHOME", gpg.dir.path())
        .env("SOPS_GPG_EXEC", &wrapper)
        .args(["--decryption-order", "pgp", "-d"])
        .arg(&file);
    assert_eq!(text(&ok(&mut legacy)), PLAIN);
    assert_eq!(gpg_calls(), 1);
    // A type named twice is refused by both, before anything is tried.
    for program in ["sops", "nsec"] {
        let mut cmd = either(&sb, program);
        cmd.env("SOPS_AGE_KEY_FILE", key_file("A"))
            .env("SOPS_DECRYPTION_ORDER", "age,pgp,age");
        let out = run(cmd.arg("decrypt").arg(&file));
        assert!(!out.status.success(), "{program}");
        let err = text(&out.stderr).to_lowercase();
        assert!(
            err.contains("duplicate decryption key type"),
            "{program}: {err}"
        );
    }
}

#[test]
fn profile_roles_from_a_source_profile_and_the_environment() {
    let (moto, arn, sb, file) = kms_setup();
    let config = sb.write(
        "aws-config",
        "[profile base]\naws_access_key_id = testing\naws_secret_access_key = testing\n\n[profile ops]\nsource_profile = base\nrole_arn = arn:aws:iam::123456789012:role/ops\nrole_session_name = ops-session\n\n[profile from-env]\ncredential_source = Environment\nrole_arn = arn:aws:iam::123456789012:role/ops\n\n[profile mfa]\nsource_profile = base\nrole_arn = arn:aws:iam::123456789012:role/ops\nmfa_serial = arn:aws:iam::123456789012:mfa/me\n",
    );
    for program in ["sops", "nsec"] {
        for profile in ["ops", "from-env"] {
            // `ops` must not fall back on the environment's keys.
            let mut cmd = if profile == "ops" {
                keyless(either(&sb, program), &moto)
            } else {
                aws(either(&sb, program), &moto)
            };
            cmd.env("AWS_ENDPOINT_URL_STS", &moto.url)
                .env("AWS_CONFIG_FILE", &config)
                .env("AWS_PROFILE", profile);
            assert_eq!(decrypt(cmd, &file), PLAIN, "{program} {profile}");
        }
    }
    let mut mfa = keyless(sb.nsec(), &moto);
    mfa.env("AWS_CONFIG_FILE", &config)
        .env("AWS_PROFILE", "mfa");
    let err = cannot_decrypt(mfa, &file, &arn);
    assert!(err.contains("profile mfa has mfa_serial"), "{err}");
}
