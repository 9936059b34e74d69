//! A small AWS client for exactly what sops needs: KMS `Encrypt` and
//! `Decrypt` (JSON protocol) and STS `AssumeRole` (query protocol), signed
//! with Signature Version 4, over a blocking HTTPS client (ureq with
//! rustls). `docs/kms.md` says why this and not the AWS SDK.
//!
//! Nothing here runs unless a file or rule has `kms` entries: no agent,
//! TLS configuration or credential lookup happens at start-up.
//!
//! Credentials, in this order: the key's own `aws_profile` (sops'
//! `--aws-profile`) from the shared files; else `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`; else the profile
//! `AWS_PROFILE` (or `default`) from `AWS_SHARED_CREDENTIALS_FILE`
//! (`~/.aws/credentials`) and `AWS_CONFIG_FILE` (`~/.aws/config`).
//! Endpoints: `AWS_ENDPOINT_URL_KMS` / `AWS_ENDPOINT_URL_STS`, else
//! `AWS_ENDPOINT_URL`, else the service's regional endpoint; the region is
//! the key ARN's, as in sops.

use std::time::Duration;

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::time::Timestamp;

/// AWS credentials. The secret parts never print.
pub struct Credentials {
    /// The access key ID (not secret; it names the key).
    pub access_key_id: String,
    secret_access_key: SecretString,
    session_token: Option<SecretString>,
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

fn home(env: &dyn Env) -> Option<std::path::PathBuf> {
    env.var("HOME").map(std::path::PathBuf::from)
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

/// Static credentials of a profile in the shared files.
fn profile_credentials(env: &dyn Env, profile: &str) -> Result<Credentials, String> {
    let files = [
        (
            env.var("AWS_SHARED_CREDENTIALS_FILE")
                .map(std::path::PathBuf::from)
                .or_else(|| home(env).map(|h| h.join(".aws/credentials"))),
            profile.to_string(),
        ),
        (
            env.var("AWS_CONFIG_FILE")
                .map(std::path::PathBuf::from)
                .or_else(|| home(env).map(|h| h.join(".aws/config"))),
            if profile == "default" {
                "default".to_string()
            } else {
                format!("profile {profile}")
            },
        ),
    ];
    let mut looked = Vec::new();
    for (path, section) in files {
        let Some(path) = path else { continue };
        looked.push(path.display().to_string());
        let Ok(bytes) = crate::fsio::read_small(&path) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        let Some(pairs) = ini_section(&text, &section) else {
            continue;
        };
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty())
        };
        if let (Some(id), Some(secret)) = (get("aws_access_key_id"), get("aws_secret_access_key")) {
            return Ok(Credentials::new(
                id,
                secret,
                get("aws_session_token"),
                &format!("profile {profile} in {}", path.display()),
            ));
        }
    }
    Err(format!(
        "no AWS credentials: profile {profile} has no aws_access_key_id and aws_secret_access_key in {} (nsec reads static keys from the environment and the shared files; it has no SSO, credential_process or instance-metadata support)",
        if looked.is_empty() {
            "the shared files (HOME is not set)".to_string()
        } else {
            looked.join(" or ")
        }
    ))
}

/// Resolves credentials as described in the module documentation.
pub fn credentials(env: &dyn Env, profile: &str) -> Result<Credentials, String> {
    if !profile.is_empty() {
        return profile_credentials(env, profile);
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
    let profile = env.var("AWS_PROFILE").unwrap_or_else(|| "default".into());
    profile_credentials(env, &profile)
}

/// The endpoint of `service` (`kms`, `sts`) in `region`.
pub fn endpoint(env: &dyn Env, service: &str, region: &str, partition: &str) -> String {
    let ignore = env
        .var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if !ignore {
        let specific = format!("AWS_ENDPOINT_URL_{}", service.to_ascii_uppercase());
        if let Some(url) = env.var(&specific).or_else(|| env.var("AWS_ENDPOINT_URL")) {
            return url.trim_end_matches('/').to_string();
        }
    }
    let suffix = if partition == "aws-cn" {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://{service}.{region}.{suffix}")
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// A request to sign: method, host, path, headers (lower-case names,
/// besides host and x-amz-date) and body.
struct Signable<'a> {
    method: &'a str,
    host: &'a str,
    path: &'a str,
    headers: Vec<(String, String)>,
    body: &'a [u8],
}

/// Signs with SigV4 at `amz_date` (`YYYYMMDDTHHMMSSZ`); returns every header
/// to send, including `Authorization`.
fn sign(
    req: &Signable<'_>,
    creds: &Credentials,
    region: &str,
    service: &str,
    amz_date: &str,
) -> Vec<(String, String)> {
    let mut headers = req.headers.clone();
    headers.push(("host".into(), req.host.to_string()));
    headers.push(("x-amz-date".into(), amz_date.to_string()));
    if let Some(token) = &creds.session_token {
        headers.push((
            "x-amz-security-token".into(),
            token.expose_secret().to_string(),
        ));
    }
    headers.sort();
    let canonical_headers: String = headers
        .iter()
        .map(|(k, v)| format!("{k}:{}\n", v.trim()))
        .collect();
    let signed: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    let signed = signed.join(";");
    let canonical = format!(
        "{}\n{}\n\n{canonical_headers}\n{signed}\n{}",
        req.method,
        req.path,
        hex(&Sha256::digest(req.body))
    );
    let date = &amz_date[..8];
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let secret = Zeroizing::new(format!("AWS4{}", creds.secret_access_key.expose_secret()));
    let k_date = Zeroizing::new(hmac(secret.as_bytes(), date.as_bytes()));
    let k_region = Zeroizing::new(hmac(&k_date, region.as_bytes()));
    let k_service = Zeroizing::new(hmac(&k_region, service.as_bytes()));
    let k_signing = Zeroizing::new(hmac(&k_service, b"aws4_request"));
    let signature = hex(&hmac(&k_signing, to_sign.as_bytes()));
    headers.retain(|(k, _)| k != "host");
    headers.push((
        "authorization".into(),
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
            creds.access_key_id
        ),
    ));
    headers
}

fn amz_date_now() -> String {
    Timestamp::now_utc()
        .to_rfc3339_seconds()
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect()
}

/// Host and path of an endpoint URL.
fn split_url(url: &str) -> Result<(&str, &str), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("endpoint `{url}` is not an http(s) URL"))?;
    Ok(match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    })
}

/// A signed POST; returns the status and the body (zeroized when dropped:
/// a KMS `Decrypt` answer holds the data key).
fn post(
    url: &str,
    service: &str,
    region: &str,
    creds: &Credentials,
    headers: Vec<(String, String)>,
    body: &[u8],
) -> Result<(u16, Zeroizing<Vec<u8>>), String> {
    let (host, path) = split_url(url)?;
    let signed = sign(
        &Signable {
            method: "POST",
            host,
            path,
            headers,
            body,
        },
        creds,
        region,
        service,
        &amz_date_now(),
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::PlatformVerifier)
                .build(),
        )
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .user_agent(concat!("nsec/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let target = if path == "/" {
        format!("{url}/")
    } else {
        url.to_string()
    };
    let mut request = agent.post(&target);
    for (k, v) in &signed {
        request = request.header(k.as_str(), v.as_str());
    }
    let mut response = request
        .send(body)
        .map_err(|e| format!("cannot reach {url}: {e}"))?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_vec()
        .map_err(|e| format!("reading the answer of {url}: {e}"))?;
    Ok((status, Zeroizing::new(body)))
}

/// An AWS JSON error (`__type`, `message`) as text.
fn json_error(status: u16, body: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let kind = v
        .get("__type")
        .and_then(|t| t.as_str())
        .map(|t| t.rsplit('#').next().unwrap_or(t).to_string());
    let msg = v
        .get("message")
        .or_else(|| v.get("Message"))
        .and_then(|m| m.as_str());
    match (kind, msg) {
        (Some(k), Some(m)) => format!("{k}: {m} (HTTP {status})"),
        (Some(k), None) => format!("{k} (HTTP {status})"),
        _ => format!("HTTP {status}"),
    }
}

/// A KMS key as sops addresses it, with where to reach it.
pub struct KmsTarget<'a> {
    /// The key ARN.
    pub arn: &'a str,
    /// The region, from the ARN.
    pub region: &'a str,
    /// The ARN's partition (`aws`, `aws-cn`, …).
    pub partition: &'a str,
    /// The encryption context, sorted.
    pub context: &'a std::collections::BTreeMap<String, String>,
}

fn context_json(context: &std::collections::BTreeMap<String, String>) -> String {
    let map: serde_json::Map<String, serde_json::Value> = context
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    serde_json::Value::Object(map).to_string()
}

fn kms_call(
    env: &dyn Env,
    target: &KmsTarget<'_>,
    creds: &Credentials,
    action: &str,
    body: &[u8],
) -> Result<Zeroizing<Vec<u8>>, String> {
    let url = endpoint(env, "kms", target.region, target.partition);
    let headers = vec![
        (
            "content-type".to_string(),
            "application/x-amz-json-1.1".to_string(),
        ),
        ("x-amz-target".to_string(), format!("TrentService.{action}")),
    ];
    let (status, answer) = post(&url, "kms", target.region, creds, headers, body)?;
    if status != 200 {
        return Err(format!(
            "KMS {action} failed: {}",
            json_error(status, &answer)
        ));
    }
    Ok(answer)
}

/// KMS `Encrypt`: the ciphertext blob, base64 as sops stores it.
pub fn kms_encrypt(
    env: &dyn Env,
    target: &KmsTarget<'_>,
    creds: &Credentials,
    plaintext: &[u8],
) -> Result<String, String> {
    use base64::Engine as _;
    let b64 = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(plaintext));
    let mut body = Zeroizing::new(String::new());
    body.push_str("{\"KeyId\":");
    body.push_str(&serde_json::Value::String(target.arn.to_string()).to_string());
    body.push_str(",\"Plaintext\":\"");
    body.push_str(&b64);
    body.push('"');
    if !target.context.is_empty() {
        body.push_str(",\"EncryptionContext\":");
        body.push_str(&context_json(target.context));
    }
    body.push('}');
    let answer = kms_call(env, target, creds, "Encrypt", body.as_bytes())?;
    #[derive(serde::Deserialize)]
    struct Out {
        #[serde(rename = "CiphertextBlob")]
        blob: Option<String>,
    }
    let out: Out =
        serde_json::from_slice(&answer).map_err(|e| format!("KMS Encrypt answer: {e}"))?;
    out.blob
        .filter(|b| !b.is_empty())
        .ok_or_else(|| "KMS Encrypt answered without a CiphertextBlob".into())
}

/// KMS `Decrypt` of a base64 ciphertext blob.
pub fn kms_decrypt(
    env: &dyn Env,
    target: &KmsTarget<'_>,
    creds: &Credentials,
    blob_b64: &str,
) -> Result<Zeroizing<Vec<u8>>, String> {
    use base64::Engine as _;
    let mut body = String::from("{\"CiphertextBlob\":");
    body.push_str(&serde_json::Value::String(blob_b64.to_string()).to_string());
    body.push_str(",\"KeyId\":");
    body.push_str(&serde_json::Value::String(target.arn.to_string()).to_string());
    if !target.context.is_empty() {
        body.push_str(",\"EncryptionContext\":");
        body.push_str(&context_json(target.context));
    }
    body.push('}');
    let answer = kms_call(env, target, creds, "Decrypt", body.as_bytes())?;
    #[derive(serde::Deserialize)]
    struct Out {
        #[serde(rename = "Plaintext")]
        plaintext: Option<String>,
    }
    let out: Out = serde_json::from_slice(&answer)
        .map_err(|_| "KMS Decrypt answer is not JSON".to_string())?;
    let b64 = Zeroizing::new(out.plaintext.unwrap_or_default());
    let key = base64::engine::general_purpose::STANDARD
        .decode(b64.as_bytes())
        .map_err(|_| "KMS Decrypt answered with a Plaintext that is not base64".to_string())?;
    Ok(Zeroizing::new(key))
}

/// The text of one XML element (the first), unescaped.
fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    Some(
        xml[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

/// The STS session name sops uses: `sops@` and the host name, without
/// characters STS refuses, at most 64 characters.
pub fn session_name() -> String {
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_default();
    // sops' pattern `[^a-zA-Z0-9=,.@-_]+`: `@-_` is the range @ to _.
    let clean: String = host
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "=,.".contains(*c) || ('@'..='_').contains(c))
        .collect();
    let mut name = format!("sops@{clean}");
    name.truncate(64);
    name
}

fn form_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// STS `AssumeRole`: temporary credentials for `role_arn`.
pub fn assume_role(
    env: &dyn Env,
    creds: &Credentials,
    role_arn: &str,
    region: &str,
    partition: &str,
) -> Result<Credentials, String> {
    let url = endpoint(env, "sts", region, partition);
    let body = format!(
        "Action=AssumeRole&RoleArn={}&RoleSessionName={}&Version=2011-06-15",
        form_escape(role_arn),
        form_escape(&session_name())
    );
    let headers = vec![(
        "content-type".to_string(),
        "application/x-www-form-urlencoded; charset=utf-8".to_string(),
    )];
    let (status, answer) = post(&url, "sts", region, creds, headers, body.as_bytes())?;
    let text = Zeroizing::new(String::from_utf8_lossy(&answer).into_owned());
    if status != 200 {
        let code = xml_text(&text, "Code").unwrap_or_default();
        let msg = xml_text(&text, "Message").unwrap_or_default();
        return Err(format!(
            "failed to assume role {role_arn}: {code}: {msg} (HTTP {status})"
        ));
    }
    let field = |t: &str| {
        xml_text(&text, t)
            .map(Zeroizing::new)
            .ok_or_else(|| format!("STS AssumeRole answered without {t}"))
    };
    let (id, secret, token) = (
        field("AccessKeyId")?,
        field("SecretAccessKey")?,
        field("SessionToken")?,
    );
    Ok(Credentials::new(
        &id,
        &secret,
        Some(&token),
        &format!("role {role_arn}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct MapEnv(HashMap<&'static str, String>);
    impl Env for MapEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).cloned().filter(|v| !v.is_empty())
        }
    }

    /// The signature botocore's SigV4Auth computes for the same request
    /// (botocore 1.x, by hand in the moto test environment).
    #[test]
    fn sigv4_matches_botocore() {
        let creds = Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            Some("SESSIONTOKEN"),
            "test",
        );
        let body = br#"{"KeyId":"arn:aws:kms:us-east-1:123456789012:key/k","Plaintext":"AAAA"}"#;
        let headers = sign(
            &Signable {
                method: "POST",
                host: "kms.us-east-1.amazonaws.com",
                path: "/",
                headers: vec![
                    ("content-type".into(), "application/x-amz-json-1.1".into()),
                    ("x-amz-target".into(), "TrentService.Encrypt".into()),
                ],
                body,
            },
            &creds,
            "us-east-1",
            "kms",
            "20150830T123600Z",
        );
        let auth = &headers
            .iter()
            .find(|(k, _)| k == "authorization")
            .unwrap()
            .1;
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/kms/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, Signature=d03476e0491dcb9d9caec95b04a0a7dfb45a33ae79364490e7f919d465053db1"
        );
        assert!(!format!("{creds:?}").contains("EXAMPLEKEY"));
    }

    #[test]
    fn credentials_and_endpoints_from_the_environment_and_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".aws")).unwrap();
        std::fs::write(
            dir.path().join(".aws/credentials"),
            "[default]\naws_access_key_id = D\naws_secret_access_key = ds\n\n[dev]\naws_access_key_id=V\naws_secret_access_key=vs\naws_session_token=vt\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join(".aws/config"),
            "[profile cfg]\naws_access_key_id = C\naws_secret_access_key = cs\n",
        )
        .unwrap();
        let home = dir.path().display().to_string();
        let env = |pairs: &[(&'static str, &str)]| {
            let mut m: HashMap<&'static str, String> =
                pairs.iter().map(|(k, v)| (*k, v.to_string())).collect();
            m.insert("HOME", home.clone());
            MapEnv(m)
        };
        let id = |e: &MapEnv, p: &str| credentials(e, p).map(|c| c.access_key_id);
        assert_eq!(id(&env(&[]), "").unwrap(), "D");
        assert_eq!(id(&env(&[("AWS_PROFILE", "dev")]), "").unwrap(), "V");
        assert_eq!(id(&env(&[]), "cfg").unwrap(), "C");
        let keys = [("AWS_ACCESS_KEY_ID", "E"), ("AWS_SECRET_ACCESS_KEY", "es")];
        assert_eq!(id(&env(&keys), "").unwrap(), "E");
        // A key's own profile wins over the environment's keys.
        assert_eq!(id(&env(&keys), "dev").unwrap(), "V");
        let err = id(&env(&[]), "nope").unwrap_err();
        assert!(err.contains("profile nope"), "{err}");

        let e = env(&[]);
        assert_eq!(
            endpoint(&e, "kms", "eu-west-1", "aws"),
            "https://kms.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            endpoint(&e, "kms", "cn-north-1", "aws-cn"),
            "https://kms.cn-north-1.amazonaws.com.cn"
        );
        let e = env(&[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1/"),
            ("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:2"),
        ]);
        assert_eq!(endpoint(&e, "kms", "r", "aws"), "http://127.0.0.1:1");
        assert_eq!(endpoint(&e, "sts", "r", "aws"), "http://127.0.0.1:2");
    }

    #[test]
    fn session_names_as_sops() {
        let n = session_name();
        assert!(n.starts_with("sops@") && n.len() <= 64, "{n}");
        assert_eq!(form_escape("a:b/c+d"), "a%3Ab%2Fc%2Bd");
        assert_eq!(
            xml_text("<R><Code>A&amp;B</Code></R>", "Code").as_deref(),
            Some("A&B")
        );
    }
}
