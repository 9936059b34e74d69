//! The AWS credential chain, in the order of the AWS SDK for Go v2 that
//! sops is built on (`config.resolveCredentialChain` and
//! `resolveCredsFromProfile`):
//!
//! 1. the key's own `aws_profile` (sops' `--aws-profile`), resolved as a
//!    profile below;
//! 2. `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`);
//! 3. `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN` (+ `AWS_ROLE_SESSION_NAME`):
//!    STS `AssumeRoleWithWebIdentity` (EKS service accounts, GitHub OIDC);
//! 4. the profile `AWS_PROFILE` (else `default`) of `AWS_CONFIG_FILE`
//!    (`~/.aws/config`) and `AWS_SHARED_CREDENTIALS_FILE`
//!    (`~/.aws/credentials`). Within a profile, the first that applies:
//!    `source_profile` (that profile's credentials), static keys,
//!    `credential_source`, `web_identity_token_file`, SSO (`sso_session` or
//!    the legacy `sso_start_url`), `credential_process`; and when the
//!    profile configures none of them: container credentials
//!    (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`, then `_FULL_URI`), then the
//!    EC2 instance metadata service (IMDSv2). A profile's `role_arn` is then
//!    assumed with what was found.
//!
//! Nothing here runs unless a KMS key is used: a file without `kms` entries
//! never reads these files or touches the network.

use std::io::Read as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use zeroize::Zeroizing;

use super::{assume_role, assume_role_with_web_identity, send, RoleRequest, API, LOCAL};
use crate::time::Timestamp;

/// AWS credentials. The secret parts never print.
pub struct Credentials {
    /// The access key ID (not secret; it names the key).
    pub access_key_id: String,
    pub(super) secret_access_key: SecretString,
    pub(super) session_token: Option<SecretString>,
    /// Where they came from, for messages.
    pub source: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// Credentials from their parts.
    pub fn new(access_key_id: &str, secret: &str, token: Option<&str>, source: &str) -> Self {
        Credentials {
            access_key_id: access_key_id.to_string(),
            secret_access_key: SecretString::from(secret.to_string()),
            session_token: token
                .filter(|t| !t.is_empty())
                .map(|t| SecretString::from(t.to_string())),
            source: source.to_string(),
        }
    }
}

/// Where an environment variable is read from (the process, or a test's
/// map).
pub trait Env {
    /// The variable's value, if set and not empty.
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

/// The region and partition of the KMS key, which STS calls use too (as
/// sops' configuration does).
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    /// The region, from the key ARN.
    pub region: &'a str,
    /// The partition (`aws`, `aws-cn`, …).
    pub partition: &'a str,
}

fn home(env: &dyn Env) -> Option<PathBuf> {
    env.var("HOME").map(PathBuf::from)
}

fn config_file(env: &dyn Env) -> Option<PathBuf> {
    env.var("AWS_CONFIG_FILE")
        .map(PathBuf::from)
        .or_else(|| home(env).map(|h| h.join(".aws/config")))
}

fn credentials_file(env: &dyn Env) -> Option<PathBuf> {
    env.var("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| home(env).map(|h| h.join(".aws/credentials")))
}

/// The section `name` of an INI-style AWS file, as key/value pairs.
fn ini_section(text: &str, name: &str) -> Option<Vec<(String, String)>> {
    let mut found = None;
    let mut current: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = Some(section.split_whitespace().collect::<Vec<_>>().join(" "));
            if current.as_deref() == Some(name) && found.is_none() {
                found = Some(Vec::new());
            }
            continue;
        }
        if current.as_deref() == Some(name) {
            if let (Some(pairs), Some((k, v))) = (found.as_mut(), line.split_once('=')) {
                let pairs: &mut Vec<(String, String)> = pairs;
                pairs.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
    }
    found
}

/// A section read from a shared file, with the files it was looked for in.
struct Section {
    pairs: Vec<(String, String)>,
}

impl Section {
    fn get(&self, key: &str) -> Option<&str> {
        // The last value wins, as a later file (credentials) overrides an
        // earlier one (config).
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

/// A profile of the shared files: `[profile NAME]` (or `[default]`) of the
/// config file, then `[NAME]` of the credentials file, whose values win.
struct Profile {
    name: String,
    section: Section,
    /// The files looked in, for messages.
    looked: Vec<String>,
}

impl Profile {
    fn get(&self, key: &str) -> Option<&str> {
        self.section.get(key)
    }

    /// Loads the profile; `None` when no file has it.
    fn load(env: &dyn Env, name: &str) -> Result<Option<Profile>, String> {
        let config_names = if name == "default" {
            vec!["default".to_string(), "profile default".to_string()]
        } else {
            vec![format!("profile {name}")]
        };
        let files = [
            (config_file(env), config_names),
            (credentials_file(env), vec![name.to_string()]),
        ];
        let mut pairs = Vec::new();
        let mut found = false;
        let mut looked = Vec::new();
        for (path, sections) in files {
            let Some(path) = path else { continue };
            looked.push(path.display().to_string());
            let Some(text) = read_text(&path)? else {
                continue;
            };
            for section in &sections {
                if let Some(p) = ini_section(&text, section) {
                    found = true;
                    pairs.extend(p);
                }
            }
        }
        Ok(found.then(|| Profile {
            name: name.to_string(),
            section: Section { pairs },
            looked,
        }))
    }

    fn where_(&self) -> String {
        if self.looked.is_empty() {
            "the shared files (HOME is not set)".to_string()
        } else {
            self.looked.join(" and ")
        }
    }
}

/// A small text file, `None` when it does not exist.
fn read_text(path: &std::path::Path) -> Result<Option<String>, String> {
    if !path.exists() {
        return Ok(None);
    }
    crate::fsio::read_small(path)
        .map(|b| Some(String::from_utf8_lossy(&b).into_owned()))
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// The `[sso-session NAME]` section of the config file.
fn sso_session(env: &dyn Env, name: &str) -> Result<Option<Section>, String> {
    let Some(path) = config_file(env) else {
        return Ok(None);
    };
    let Some(text) = read_text(&path)? else {
        return Ok(None);
    };
    Ok(ini_section(&text, &format!("sso-session {name}")).map(|pairs| Section { pairs }))
}

/// Resolves credentials for a KMS key whose `aws_profile` is `profile`
/// ("" for none), as described in the module documentation. The error says
/// which source was used or, when none was found, every source tried.
pub fn credentials(env: &dyn Env, profile: &str, scope: Scope<'_>) -> Result<Credentials, String> {
    if !profile.is_empty() {
        let p = Profile::load(env, profile)?.ok_or_else(|| {
            format!(
                "the key's aws_profile {profile} is not in {}",
                Profile::load_where(env)
            )
        })?;
        return from_profile(env, &p, scope, 0);
    }
    if let (Some(id), Some(secret)) = (
        env.var("AWS_ACCESS_KEY_ID"),
        env.var("AWS_SECRET_ACCESS_KEY"),
    ) {
        return Ok(Credentials::new(
            &id,
            &secret,
            env.var("AWS_SESSION_TOKEN").as_deref(),
            "environment",
        ));
    }
    if let Some(file) = env.var("AWS_WEB_IDENTITY_TOKEN_FILE") {
        let role = env.var("AWS_ROLE_ARN").ok_or(
            "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not (web identity needs the role to assume)",
        )?;
        let session = env.var("AWS_ROLE_SESSION_NAME");
        return web_identity(env, &file, &role, session, scope)
            .map_err(|e| format!("web identity (AWS_WEB_IDENTITY_TOKEN_FILE): {e}"));
    }
    let (name, explicit) = match env
        .var("AWS_PROFILE")
        .or_else(|| env.var("AWS_DEFAULT_PROFILE"))
    {
        Some(p) => (p, true),
        None => ("default".to_string(), false),
    };
    match Profile::load(env, &name)? {
        Some(p) => from_profile(env, &p, scope, 0),
        None if explicit => Err(format!(
            "AWS_PROFILE names profile {name}, which is not in {}",
            Profile::load_where(env)
        )),
        // No default profile: the SDK goes on to the container and
        // instance credentials.
        None => {
            let p = Profile {
                name,
                section: Section { pairs: Vec::new() },
                looked: Vec::new(),
            };
            from_profile(env, &p, scope, 0).map_err(|e| {
                format!(
                    "no AWS credentials found; tried: the environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set), web identity (AWS_WEB_IDENTITY_TOKEN_FILE is not set), the default profile (not in {}), {e}",
                    Profile::load_where(env)
                )
            })
        }
    }
}

impl Profile {
    /// The shared files, for messages when a profile is not found.
    fn load_where(env: &dyn Env) -> String {
        let files: Vec<String> = [config_file(env), credentials_file(env)]
            .into_iter()
            .flatten()
            .map(|p| p.display().to_string())
            .collect();
        if files.is_empty() {
            "the shared files (HOME is not set)".to_string()
        } else {
            files.join(" or ")
        }
    }
}

/// Credentials of a profile, then its `role_arn` assumed with them.
fn from_profile(
    env: &dyn Env,
    p: &Profile,
    scope: Scope<'_>,
    depth: usize,
) -> Result<Credentials, String> {
    let name = &p.name;
    let static_keys = || match (p.get("aws_access_key_id"), p.get("aws_secret_access_key")) {
        (Some(id), Some(secret)) => Some(Credentials::new(
            id,
            secret,
            p.get("aws_session_token"),
            &format!("profile {name} in {}", p.where_()),
        )),
        _ => None,
    };
    let base = if let Some(source) = p.get("source_profile") {
        if source == name {
            // The SDK's special case: a profile that is its own source
            // assumes its role with its own static keys.
            static_keys().ok_or_else(|| {
                format!("profile {name} is its own source_profile but has no aws_access_key_id and aws_secret_access_key")
            })?
        } else if depth >= 8 {
            return Err(format!(
                "profile {name}: the source_profile chain is longer than 8 profiles (a cycle?)"
            ));
        } else {
            let src = Profile::load(env, source)?.ok_or_else(|| {
                format!(
                    "profile {name} names source_profile {source}, which is not in {}",
                    p.where_()
                )
            })?;
            from_profile(env, &src, scope, depth + 1)?
        }
    } else if let Some(creds) = static_keys() {
        creds
    } else if let Some(source) = p.get("credential_source") {
        match source {
            "Environment" => match (
                env.var("AWS_ACCESS_KEY_ID"),
                env.var("AWS_SECRET_ACCESS_KEY"),
            ) {
                (Some(id), Some(secret)) => Credentials::new(
                    &id,
                    &secret,
                    env.var("AWS_SESSION_TOKEN").as_deref(),
                    "environment",
                ),
                _ => return Err(format!("profile {name} has credential_source = Environment but AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set")),
            },
            "Ec2InstanceMetadata" => instance_metadata(env)?,
            "EcsContainer" => match env.var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
                Some(_) => container(env)?.ok_or("no container credentials")?,
                None => return Err(format!("profile {name} has credential_source = EcsContainer but AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is not set")),
            },
            other => {
                return Err(format!(
                    "profile {name}: credential_source `{other}` is not one of EcsContainer, Ec2InstanceMetadata, Environment"
                ))
            }
        }
    } else if let Some(file) = p.get("web_identity_token_file") {
        // The role is the one web identity assumes, not a second step.
        let role = p
            .get("role_arn")
            .ok_or_else(|| format!("profile {name} has web_identity_token_file but no role_arn"))?;
        let session = p.get("role_session_name").map(str::to_string);
        return web_identity(env, file, role, session, scope)
            .map_err(|e| format!("profile {name} (web_identity_token_file): {e}"));
    } else if [
        "sso_session",
        "sso_start_url",
        "sso_account_id",
        "sso_role_name",
        "sso_region",
    ]
    .iter()
    .any(|k| p.get(k).is_some())
    {
        sso(env, p)?
    } else if let Some(command) = p.get("credential_process") {
        credential_process(name, command)?
    } else if let Some(creds) = container(env)? {
        creds
    } else {
        instance_metadata(env).map_err(|e| {
            format!("container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and AWS_CONTAINER_CREDENTIALS_FULL_URI are not set), instance metadata ({e})")
        })?
    };
    let Some(role) = p.get("role_arn") else {
        return Ok(base);
    };
    if p.get("mfa_serial").is_some() {
        return Err(format!(
            "profile {name} has mfa_serial: nsec cannot ask for an MFA code (sops cannot either); use credentials that need none, or a credential_process that asks"
        ));
    }
    let mut extra = Vec::new();
    if let Some(id) = p.get("external_id") {
        extra.push(("ExternalId", id.to_string()));
    }
    if let Some(secs) = p.get("duration_seconds") {
        // The SDK passes the duration only when it is over 15 minutes.
        if secs.parse::<u64>().is_ok_and(|s| s > 15 * 60) {
            extra.push(("DurationSeconds", secs.to_string()));
        }
    }
    let session = p
        .get("role_session_name")
        .map(str::to_string)
        .unwrap_or_else(default_session_name);
    assume_role(
        env,
        &base,
        &RoleRequest {
            role_arn: role,
            session_name: &session,
            extra,
            region: scope.region,
            partition: scope.partition,
        },
    )
    .map_err(|e| format!("profile {name} (role_arn, with {}): {e}", base.source))
}

/// The Go SDK's default session name: the time in nanoseconds.
fn default_session_name() -> String {
    let now = Timestamp::now_utc();
    format!("{}{:09}", now.unix_seconds(), now.nanoseconds())
}

/// STS `AssumeRoleWithWebIdentity` with the token read from `file` (read at
/// each use: the platform rotates it).
fn web_identity(
    env: &dyn Env,
    file: &str,
    role: &str,
    session: Option<String>,
    scope: Scope<'_>,
) -> Result<Credentials, String> {
    let bytes = crate::fsio::read_small(std::path::Path::new(file))
        .map_err(|e| format!("cannot read the token file {file}: {e}"))?;
    let token = Zeroizing::new(String::from_utf8_lossy(&bytes).trim().to_string());
    if token.is_empty() {
        return Err(format!("the token file {file} is empty"));
    }
    let session = session.unwrap_or_else(default_session_name);
    let mut creds = assume_role_with_web_identity(
        env,
        &token,
        &RoleRequest {
            role_arn: role,
            session_name: &session,
            extra: Vec::new(),
            region: scope.region,
            partition: scope.partition,
        },
    )?;
    creds.source = format!("web identity token {file}, role {role}");
    Ok(creds)
}

/// Credentials from a JSON answer: `AccessKeyId`, `SecretAccessKey` and
/// the token under `token_field`.
fn json_credentials(answer: &[u8], token_field: &str, source: &str) -> Result<Credentials, String> {
    let v: serde_json::Value =
        serde_json::from_slice(answer).map_err(|_| format!("{source} did not answer with JSON"))?;
    let text = |k: &str| v.get(k).and_then(|x| x.as_str()).filter(|s| !s.is_empty());
    let id = text("AccessKeyId").ok_or_else(|| format!("{source} answered without AccessKeyId"))?;
    let secret = Zeroizing::new(
        text("SecretAccessKey")
            .ok_or_else(|| format!("{source} answered without SecretAccessKey"))?
            .to_string(),
    );
    Ok(Credentials::new(id, &secret, text(token_field), source))
}

/// The `message` (or `Message`) of a JSON error answer, or "".
fn json_message(answer: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(answer).unwrap_or_default();
    v.get("message")
        .or_else(|| v.get("Message"))
        .and_then(|m| m.as_str())
        .unwrap_or("")
        .to_string()
}

/// `credential_process`: run as the Go SDK runs it, `sh -c COMMAND`, with
/// nsec's environment, standard input and standard error (so it can
/// prompt), for at most a minute; its standard output is the JSON
/// credentials (`Version` 1). The output is never echoed in errors.
fn credential_process(profile: &str, command: &str) -> Result<Credentials, String> {
    let what = format!("credential_process of profile {profile}");
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("{what}: cannot run sh: {e}"))?;
    let mut stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut out = Zeroizing::new(Vec::new());
        let _ = stdout.by_ref().take(1 << 20).read_to_end(&mut out);
        out
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{what}: timed out after 60 s"));
            }
            Err(e) => return Err(format!("{what}: {e}")),
        }
    };
    let out = reader.join().unwrap_or_default();
    if !status.success() {
        return Err(format!("{what}: the command failed ({status})"));
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out).map_err(|_| format!("{what}: the output is not JSON"))?;
    if v.get("Version").and_then(|x| x.as_i64()) != Some(1) {
        return Err(format!("{what}: the output's Version is not 1"));
    }
    let mut creds = json_credentials(&out, "SessionToken", &what)?;
    creds.source = what;
    Ok(creds)
}

/// Hosts a container credentials `FULL_URI` may name, as the Go SDK allows:
/// loopback, the ECS agent and the EKS Pod Identity agent.
fn allowed_container_host(host: &str) -> bool {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};
    let allowed = |ip: IpAddr| {
        ip.is_loopback()
            || ip == IpAddr::V4(Ipv4Addr::new(169, 254, 170, 2))
            || ip == IpAddr::V4(Ipv4Addr::new(169, 254, 170, 23))
            || ip == IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23))
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return allowed(ip);
    }
    // A name: every address it resolves to must be allowed.
    match (bare, 0).to_socket_addrs() {
        Ok(addrs) => {
            let addrs: Vec<_> = addrs.collect();
            !addrs.is_empty() && addrs.iter().all(|a| allowed(a.ip()))
        }
        Err(_) => false,
    }
}

/// The container credentials URL and the variable it came from, or `None`
/// when neither variable is set. A `FULL_URI` host must be allowed.
fn container_url(env: &dyn Env) -> Result<Option<(String, &'static str)>, String> {
    if let Some(rel) = env.var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
        return Ok(Some((
            format!("http://169.254.170.2{rel}"),
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        )));
    }
    let Some(full) = env.var("AWS_CONTAINER_CREDENTIALS_FULL_URI") else {
        return Ok(None);
    };
    let host = super::split_url(&full)
        .map(|(h, _)| h)
        .map_err(|e| format!("AWS_CONTAINER_CREDENTIALS_FULL_URI: {e}"))?;
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    if !allowed_container_host(host) {
        return Err(format!(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI names host {host}; only loopback, 169.254.170.2, 169.254.170.23 and fd00:ec2::23 are allowed (as in the AWS SDKs)"
        ));
    }
    Ok(Some((full, "AWS_CONTAINER_CREDENTIALS_FULL_URI")))
}

/// Container credentials (ECS, Fargate, EKS Pod Identity), or `None` when
/// neither variable is set.
fn container(env: &dyn Env) -> Result<Option<Credentials>, String> {
    let Some((url, var)) = container_url(env)? else {
        return Ok(None);
    };
    let token = match env.var("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") {
        Some(file) => {
            let bytes = crate::fsio::read_small(std::path::Path::new(&file)).map_err(|e| {
                format!("cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE {file}: {e}")
            })?;
            Some(Zeroizing::new(
                String::from_utf8_lossy(&bytes).trim().to_string(),
            ))
        }
        None => env
            .var("AWS_CONTAINER_AUTHORIZATION_TOKEN")
            .map(Zeroizing::new),
    };
    let mut headers = vec![("accept".to_string(), "application/json".to_string())];
    if let Some(t) = &token {
        if t.contains(['\r', '\n']) {
            return Err("the container authorization token contains a line break".into());
        }
        headers.push(("authorization".to_string(), t.to_string()));
    }
    let source = format!("container credentials ({var})");
    let (status, answer) =
        send("GET", &url, &headers, None, LOCAL).map_err(|e| format!("{source}: {e}"))?;
    if status != 200 {
        let msg = json_message(&answer);
        return Err(format!("{source}: HTTP {status} {msg}").trim().to_string());
    }
    json_credentials(&answer, "Token", &source).map(Some)
}

/// EC2 instance metadata (IMDSv2): a session token (PUT), the role name,
/// then its credentials. Short timeouts and no retries, so that a machine
/// off EC2 fails in about a second.
fn instance_metadata(env: &dyn Env) -> Result<Credentials, String> {
    if env
        .var("AWS_EC2_METADATA_DISABLED")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        return Err("disabled by AWS_EC2_METADATA_DISABLED".into());
    }
    let base = match env.var("AWS_EC2_METADATA_SERVICE_ENDPOINT") {
        Some(url) => url.trim_end_matches('/').to_string(),
        None if env
            .var("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE")
            .is_some_and(|m| m.eq_ignore_ascii_case("ipv6")) =>
        {
            "http://[fd00:ec2::254]".to_string()
        }
        None => "http://169.254.169.254".to_string(),
    };
    let (status, token) = send(
        "PUT",
        &format!("{base}/latest/api/token"),
        &[(
            "x-aws-ec2-metadata-token-ttl-seconds".to_string(),
            "21600".to_string(),
        )],
        Some(b""),
        LOCAL,
    )
    .map_err(|e| format!("{base}: {e}"))?;
    let mut headers = Vec::new();
    match status {
        200 => {
            let token = Zeroizing::new(String::from_utf8_lossy(&token).trim().to_string());
            headers.push(("x-aws-ec2-metadata-token".to_string(), token.to_string()));
        }
        // An IMDSv1-only service: the SDK falls back unless told not to.
        404 | 405
            if !env
                .var("AWS_EC2_METADATA_V1_DISABLED")
                .is_some_and(|v| v.eq_ignore_ascii_case("true")) => {}
        _ => {
            return Err(format!(
                "{base}: the session token request answered HTTP {status}"
            ))
        }
    }
    let get = |path: &str| -> Result<Zeroizing<Vec<u8>>, String> {
        let url = format!("{base}/latest/meta-data/iam/security-credentials/{path}");
        let (status, body) = send("GET", &url, &headers, None, LOCAL)?;
        match status {
            200 => Ok(body),
            404 => Err(format!("{base}: no IAM role is attached to this instance")),
            _ => Err(format!("{url}: HTTP {status}")),
        }
    };
    let roles = get("")?;
    let role = String::from_utf8_lossy(&roles)
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
        .ok_or_else(|| format!("{base}: no IAM role is attached to this instance"))?;
    let answer = get(&role)?;
    // The Go SDK takes only an answer whose `Code` is `Success`.
    let v: serde_json::Value = serde_json::from_slice(&answer).unwrap_or_default();
    match v.get("Code").and_then(|c| c.as_str()) {
        Some("Success") => {}
        code => {
            return Err(format!(
                "{base}: the credentials of role {role} came with Code {}",
                code.unwrap_or("(none)")
            ))
        }
    }
    json_credentials(
        &answer,
        "Token",
        &format!("instance metadata ({base}, role {role})"),
    )
}

/// AWS IAM Identity Center (SSO): the access token `aws sso login` cached,
/// traded at the SSO portal (`GetRoleCredentials`) for the account's role.
/// nsec does not refresh tokens: an expired one is an error saying how to
/// log in again.
fn sso(env: &dyn Env, p: &Profile) -> Result<Credentials, String> {
    let name = &p.name;
    let login = format!("run `aws sso login --profile {name}`");
    let (start_url, region, cache_key) = match p.get("sso_session") {
        Some(session) => {
            let s = sso_session(env, session)?.ok_or_else(|| {
                format!(
                    "profile {name} names sso_session {session}, but there is no [sso-session {session}] section in {}",
                    config_file(env).map(|f| f.display().to_string()).unwrap_or_else(|| "the config file (HOME is not set)".into())
                )
            })?;
            let field = |k: &str| {
                s.get(k)
                    .map(str::to_string)
                    .ok_or_else(|| format!("[sso-session {session}] has no {k}"))
            };
            (
                field("sso_start_url")?,
                field("sso_region")?,
                session.to_string(),
            )
        }
        None => {
            let field = |k: &str| {
                p.get(k)
                    .map(str::to_string)
                    .ok_or_else(|| format!("profile {name} has SSO settings but no {k}"))
            };
            let url = field("sso_start_url")?;
            (url.clone(), field("sso_region")?, url)
        }
    };
    let field = |k: &str| {
        p.get(k)
            .ok_or_else(|| format!("profile {name} has SSO settings but no {k}"))
    };
    let (account, role) = (field("sso_account_id")?, field("sso_role_name")?);
    let cache = home(env)
        .ok_or("HOME is not set, so the SSO token cache cannot be found")?
        .join(".aws/sso/cache")
        .join(format!(
            "{}.json",
            super::sha1::hex_digest(cache_key.as_bytes())
        ));
    let Some(text) = read_text(&cache)? else {
        return Err(format!(
            "profile {name}: no SSO login for {start_url} (no token in {}); {login}",
            cache.display()
        ));
    };
    let text = Zeroizing::new(text);
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|_| {
        format!(
            "profile {name}: the SSO token cache {} is not JSON; {login}",
            cache.display()
        )
    })?;
    let token = v
        .get("accessToken")
        .and_then(|t| t.as_str())
        .filter(|t| !t.is_empty())
        .map(|t| Zeroizing::new(t.to_string()))
        .ok_or_else(|| {
            format!(
                "profile {name}: the SSO token cache {} has no accessToken; {login}",
                cache.display()
            )
        })?;
    let expires = v.get("expiresAt").and_then(|t| t.as_str()).unwrap_or("");
    match Timestamp::parse_rfc3339(expires) {
        Some(t) if t.unix_seconds() > Timestamp::now_utc().unix_seconds() => {}
        Some(_) => {
            return Err(format!(
                "profile {name}: the SSO login expired at {expires}; {login}"
            ))
        }
        None => {
            return Err(format!(
                "profile {name}: the SSO token cache {} has no valid expiresAt; {login}",
                cache.display()
            ))
        }
    }
    let partition = if region.starts_with("cn-") {
        "aws-cn"
    } else {
        "aws"
    };
    let base = super::endpoint(env, "sso", &region, partition);
    let base = if env.var("AWS_ENDPOINT_URL_SSO").is_none() && env.var("AWS_ENDPOINT_URL").is_none()
    {
        base.replacen("https://sso.", "https://portal.sso.", 1)
    } else {
        base
    };
    let url = format!(
        "{base}/federation/credentials?account_id={}&role_name={}",
        super::form_escape(account),
        super::form_escape(role)
    );
    let headers = [("x-amz-sso_bearer_token".to_string(), token.to_string())];
    let (status, answer) = send("GET", &url, &headers, None, API)?;
    if status != 200 {
        let msg = json_message(&answer);
        let hint = if status == 401 || status == 403 {
            format!("; {login}")
        } else {
            String::new()
        };
        return Err(format!(
            "profile {name}: SSO GetRoleCredentials for account {account}, role {role}: HTTP {status} {msg}{hint}"
        ));
    }
    let v: serde_json::Value = serde_json::from_slice(&answer).unwrap_or_default();
    let rc = v.get("roleCredentials").cloned().unwrap_or_default();
    let text = |k: &str| rc.get(k).and_then(|x| x.as_str()).filter(|s| !s.is_empty());
    let source = format!("SSO profile {name} (account {account}, role {role})");
    match (text("accessKeyId"), text("secretAccessKey")) {
        (Some(id), Some(secret)) => Ok(Credentials::new(id, secret, text("sessionToken"), &source)),
        _ => Err(format!(
            "{source}: GetRoleCredentials answered without credentials"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::MapEnv;
    use super::*;
    use std::collections::HashMap;

    const SCOPE: Scope<'static> = Scope {
        region: "us-east-1",
        partition: "aws",
    };

    #[test]
    fn credentials_from_the_environment_and_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".aws")).unwrap();
        std::fs::write(
            dir.path().join(".aws/credentials"),
            "[default]\naws_access_key_id = D\naws_secret_access_key = ds\n\n[dev]\naws_access_key_id=V\naws_secret_access_key=vs\naws_session_token=vt\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join(".aws/config"),
            "[profile cfg]\naws_access_key_id = C\naws_secret_access_key = cs\n[profile self]\nsource_profile = self\nrole_arn = arn:aws:iam::1:role/r\n[profile bad]\ncredential_source = Somewhere\n",
        )
        .unwrap();
        let home = dir.path().display().to_string();
        let env = |pairs: &[(&'static str, &str)]| {
            let mut m: HashMap<&'static str, String> =
                pairs.iter().map(|(k, v)| (*k, v.to_string())).collect();
            m.insert("HOME", home.clone());
            m.insert("AWS_EC2_METADATA_DISABLED", "true".into());
            MapEnv(m)
        };
        let id = |e: &MapEnv, p: &str| credentials(e, p, SCOPE).map(|c| c.access_key_id);
        assert_eq!(id(&env(&[]), "").unwrap(), "D");
        assert_eq!(id(&env(&[("AWS_PROFILE", "dev")]), "").unwrap(), "V");
        assert_eq!(id(&env(&[]), "cfg").unwrap(), "C");
        let keys = [("AWS_ACCESS_KEY_ID", "E"), ("AWS_SECRET_ACCESS_KEY", "es")];
        assert_eq!(id(&env(&keys), "").unwrap(), "E");
        // A key's own profile wins over the environment's keys.
        assert_eq!(id(&env(&keys), "dev").unwrap(), "V");
        let err = id(&env(&[]), "nope").unwrap_err();
        assert!(err.contains("aws_profile nope"), "{err}");
        let err = id(&env(&[("AWS_PROFILE", "nope")]), "").unwrap_err();
        assert!(err.contains("AWS_PROFILE names profile nope"), "{err}");
        let err = id(&env(&[]), "self").unwrap_err();
        assert!(err.contains("its own source_profile"), "{err}");
        let err = id(&env(&[]), "bad").unwrap_err();
        assert!(err.contains("credential_source `Somewhere`"), "{err}");
        let err = id(&env(&[("AWS_WEB_IDENTITY_TOKEN_FILE", "/x")]), "").unwrap_err();
        assert!(err.contains("AWS_ROLE_ARN is not"), "{err}");

        // No file at all: every source tried is named, IMDS disabled.
        let empty = tempfile::tempdir().unwrap();
        let mut m = HashMap::new();
        m.insert("HOME", empty.path().display().to_string());
        m.insert("AWS_EC2_METADATA_DISABLED", "True".into());
        let err = credentials(&MapEnv(m), "", SCOPE).unwrap_err();
        for part in [
            "no AWS credentials found",
            "AWS_ACCESS_KEY_ID",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "the default profile",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "disabled by AWS_EC2_METADATA_DISABLED",
        ] {
            assert!(err.contains(part), "{part}: {err}");
        }
    }

    #[test]
    fn container_hosts_as_the_sdk_allows() {
        for ok in [
            "127.0.0.1",
            "127.1.2.3",
            "[::1]",
            "169.254.170.2",
            "169.254.170.23",
            "[fd00:ec2::23]",
            "localhost",
        ] {
            assert!(allowed_container_host(ok), "{ok}");
        }
        // (No host name here: checking one resolves it.)
        for bad in ["10.0.0.1", "169.254.169.254"] {
            assert!(!allowed_container_host(bad), "{bad}");
        }
        let env = |pairs: &[(&'static str, &str)]| {
            MapEnv(pairs.iter().map(|(k, v)| (*k, v.to_string())).collect())
        };
        let full = "AWS_CONTAINER_CREDENTIALS_FULL_URI";
        let relative = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI";
        let err = container_url(&env(&[(full, "http://10.0.0.1:80/creds")])).unwrap_err();
        assert!(err.contains("host 10.0.0.1"), "{err}");
        // ECS: the relative URI is on the agent's address, and wins.
        assert_eq!(
            container_url(&env(&[
                (relative, "/v2/credentials/x"),
                (full, "http://127.0.0.1:1/")
            ]))
            .unwrap(),
            Some((
                "http://169.254.170.2/v2/credentials/x".to_string(),
                relative
            ))
        );
        assert_eq!(
            container_url(&env(&[(full, "http://[::1]:8080/creds")])).unwrap(),
            Some(("http://[::1]:8080/creds".to_string(), full))
        );
        assert_eq!(container_url(&env(&[])).unwrap(), None);
    }
}
