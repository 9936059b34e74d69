//! Shared test helpers: the nsec binary, the real sops and age, the
//! throwaway keys of the vector corpus, and isolated environments.
//!
//! Interop tests run against the real Go sops 3.11 and age. They are never
//! skipped: a missing tool is a test failure that says how to install it
//! (`scripts/test.sh` does).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Public key of throwaway test key A.
pub const AGE_A: &str = "age1s57gtcmp6dt42ctny6gcgwsf3fgjd32mjzksulrggvqfzrk65aksxmwzle";
/// Public key of throwaway test key B.
pub const AGE_B: &str = "age19rlf2ksa8h9lz4q9avw74rwz9ycwa6x0kg927n5pxg9ue2a2df9qdj0506";
/// Public key of throwaway test key C.
pub const AGE_C: &str = "age1dmdvc2mzj9mz0eyffvfcf6xr3486gryuc9ed8y3w7rsu85yag58se6dsn6";

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The copied sops 3.11 vector corpus.
pub fn vectors() -> PathBuf {
    repo_root().join("tests/data/vectors")
}

/// A throwaway key file of the corpus: "A", "B" or "C".
pub fn key_file(name: &str) -> PathBuf {
    vectors().join(format!("keys/age-test-key-{name}.txt"))
}

/// The nsec binary under test.
pub fn nsec_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_nsec"))
}

/// The one rule for finding the real programs (shared with the unit tests).
#[path = "../../crates/secrets-core/src/test_tools.rs"]
mod test_tools;
pub use test_tools::tool;

/// The `node_modules` directory holding typage (npm `age-encryption`).
pub fn node_modules() -> PathBuf {
    test_tools::node_modules()
}

/// The real Go sops 3.11 binary. Panics (fails the test) when missing.
pub fn sops_bin() -> PathBuf {
    test_tools::sops()
}

/// A Go `age` tool (`age`, `age-keygen`). Panics when missing.
pub fn age_bin(name: &str) -> PathBuf {
    tool(name)
}

/// Fails the test unless the nsec under test has the crash tests' fault
/// injection compiled in (`cargo test --features secrets-cli/fault-injection`,
/// which scripts/test.sh uses): such a test must not pass by not crashing.
pub fn require_fault_injection() {
    let out = Command::new(nsec_bin()).arg("--version").output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("fault injection compiled in"),
        "this test needs nsec built with fault injection: cargo test --features secrets-cli/fault-injection (scripts/test.sh does)"
    );
}

/// An isolated environment: a private HOME, no SOPS_* or NSEC_* variables
/// from the caller, the sops version check off.
pub struct Sandbox {
    /// The temporary directory (HOME is `dir/home`, work happens in `dir/work`).
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    /// A new sandbox.
    pub fn new() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        std::fs::create_dir_all(dir.path().join("work")).unwrap();
        Sandbox { dir }
    }

    /// The private HOME.
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// The working directory.
    pub fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    /// A path inside the working directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.work().join(rel)
    }

    /// Writes a file in the working directory (creating parents).
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, contents).unwrap();
        p
    }

    /// A command in the sandbox's environment, run from `work()`.
    pub fn cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().into_owned();
            if k.starts_with("SOPS_")
                || k.starts_with("NSEC_")
                || k.starts_with("AWS_")
                || k == "XDG_CONFIG_HOME"
                || k == "EDITOR"
                || k == "VISUAL"
            {
                c.env_remove(&k);
            }
        }
        // No test may reach the EC2 instance metadata address: the AWS
        // credential chain (nsec's and the Go SDK's) ends there.
        c.env("HOME", self.home())
            .env("SOPS_DISABLE_VERSION_CHECK", "1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .current_dir(self.work())
            .stdin(Stdio::null());
        c
    }

    /// `nsec ARGS` in the sandbox.
    pub fn nsec(&self) -> Command {
        self.cmd(nsec_bin())
    }

    /// The real git in the sandbox, as a user with `key` as identity: nsec
    /// first on PATH (the hooks and drivers `nsec git install` writes run
    /// `nsec`), and a fixed author.
    pub fn git(&self, key: &Path) -> Command {
        let path = format!(
            "{}:{}",
            nsec_bin().parent().unwrap().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut c = self.cmd(tool("git"));
        c.env("PATH", path)
            .env("SOPS_AGE_KEY_FILE", key)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.org")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.org");
        c
    }

    /// The real `sops ARGS` in the sandbox.
    pub fn sops(&self) -> Command {
        self.cmd(sops_bin())
    }
}

/// Runs a command, returning its output (never panics on a non-zero exit).
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("the program could not be started")
}

/// Runs a command that must succeed; returns stdout.
pub fn ok(cmd: &mut Command) -> Vec<u8> {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed with {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Runs a command with `input` on stdin.
pub fn run_with_stdin(cmd: &mut Command, input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the program could not be started");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// The exit code of an output (-1 when killed by a signal).
pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// A throwaway GnuPG home made for one test (mode 0700), with the real
/// `gpg`. Its gpg-agent, which gpg starts on first use, is stopped when
/// the home is dropped.
pub struct GpgHome {
    /// The directory (GNUPGHOME).
    pub dir: tempfile::TempDir,
}

impl GpgHome {
    /// An empty home.
    pub fn new() -> GpgHome {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        GpgHome { dir }
    }

    /// Sets GNUPGHOME and SOPS_GPG_EXEC (the real gpg) on a command, for
    /// sops and nsec alike.
    pub fn apply<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        cmd.env("GNUPGHOME", self.dir.path())
            .env("SOPS_GPG_EXEC", tool("gpg"))
    }

    /// `gpg ARGS` in this home.
    pub fn gpg(&self) -> Command {
        let mut c = Command::new(tool("gpg"));
        c.env("GNUPGHOME", self.dir.path())
            .arg("--batch")
            .stdin(Stdio::null());
        c
    }

    /// A new key without passphrase (ed25519 with a cv25519 encryption
    /// subkey); returns its fingerprint.
    pub fn generate(&self, uid: &str) -> String {
        ok(self
            .gpg()
            .args(["--passphrase", "", "--quick-gen-key", uid])
            .args(["default", "default", "never"]));
        let listing = ok(self.gpg().args(["--with-colons", "--list-keys", uid]));
        String::from_utf8_lossy(&listing)
            .lines()
            .find_map(|l| l.strip_prefix("fpr:"))
            .and_then(|l| l.split(':').find(|f| f.len() == 40))
            .expect("a fingerprint")
            .to_string()
    }

    /// The public key `fp`, armored.
    pub fn export_public(&self, fp: &str) -> Vec<u8> {
        ok(self.gpg().args(["--armor", "--export", fp]))
    }

    /// Imports keys into this home.
    pub fn import(&self, armored: &[u8]) {
        let out = run_with_stdin(self.gpg().arg("--import"), armored);
        assert!(
            out.status.success(),
            "gpg --import: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for GpgHome {
    fn drop(&mut self) {
        let _ = Command::new(tool("gpgconf"))
            .env("GNUPGHOME", self.dir.path())
            .args(["--kill", "all"])
            .stdin(Stdio::null())
            .output();
    }
}

/// A moto server (PyPI `moto[server]`, installed by scripts/test.sh) on a
/// free loopback port, started for one test and killed when dropped. It
/// is the AWS KMS and STS the KMS tests talk to; nothing else is contacted.
pub struct Moto {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Moto {
    /// Starts the server and waits until it answers.
    pub fn start() -> Moto {
        let server = tool("moto_server");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server could not be started");
        let moto = Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "moto_server did not listen on {port} within 30 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        moto
    }

    /// Points a command at this server: AWS_ENDPOINT_URL, dummy
    /// credentials, a region, no proxy, and no shared AWS files (HOME is
    /// the sandbox's).
    pub fn apply<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        for var in [
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "http_proxy",
            "https_proxy",
            "all_proxy",
            "AWS_PROFILE",
            "AWS_ENDPOINT_URL_KMS",
            "AWS_ENDPOINT_URL_STS",
            "AWS_SESSION_TOKEN",
            "AWS_CONFIG_FILE",
            "AWS_SHARED_CREDENTIALS_FILE",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("AWS_ENDPOINT_URL", &self.url)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            // Anything not on the loopback goes to a closed loopback port,
            // not to the network (both Go and nsec honour these).
            .env("HTTPS_PROXY", "http://127.0.0.1:9")
            .env("NO_PROXY", "127.0.0.1")
    }

    /// Runs a boto3 snippet (moto's own dependency, in the same venv)
    /// against this server; returns its stdout, trimmed.
    pub fn boto3(&self, code: &str) -> String {
        let mut cmd = Command::new(venv_python());
        self.apply(&mut cmd);
        let script = format!(
            "import boto3\nkms = boto3.client('kms', region_name='us-east-1')\nsts = boto3.client('sts', region_name='us-east-1')\niam = boto3.client('iam', region_name='us-east-1')\n{code}\n"
        );
        let out = ok(cmd.arg("-c").arg(script));
        String::from_utf8_lossy(&out).trim().to_string()
    }

    /// A new symmetric KMS key; returns its ARN.
    pub fn create_key(&self) -> String {
        self.boto3("print(kms.create_key()['KeyMetadata']['Arn'])")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback HTTP server (Python's `http.server`, from the moto venv) that
/// speaks the documented wire formats of the AWS credential endpoints no
/// real peer here serves as the AWS SDK expects: the container credentials
/// endpoint (ECS, EKS Pod Identity; `GET /creds` with an `Authorization`
/// header), the IAM Identity Center portal (`GET /federation/credentials`
/// with an `x-amz-sso_bearer_token` header) and EC2 instance metadata
/// (IMDSv2: `PUT /latest/api/token`, then the role and its credentials
/// with `x-aws-ec2-metadata-token`; moto's own answers lack the `Code`
/// field the Go SDK requires). Each answers with the credentials
/// `AKIDFIXTURE`/`fixture-secret`, which moto accepts, only to the right
/// token. Tests run the real sops against the same fixture, which shows it
/// speaks what the AWS SDK expects.
pub struct CredsFixture {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// One line per request: `PATH AUTHORIZED`.
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

const CREDS_FIXTURE: &str = r#"
import datetime, http.server, json, sys, urllib.parse
token, log = sys.argv[1], sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        query = urllib.parse.parse_qs(url.query)
        expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
        if url.path == "/creds":
            ok = self.headers.get("Authorization") == token
            body = {"AccessKeyId": "AKIDFIXTURE", "SecretAccessKey": "fixture-secret",
                    "Token": "fixture-session", "Expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}
            err = {"code": "AccessDenied", "message": "wrong authorization token"}
        elif url.path.startswith("/latest/meta-data/iam/security-credentials/"):
            ok = self.headers.get("x-aws-ec2-metadata-token") == "imds-" + token
            role = url.path.rsplit("/", 1)[1]
            if role == "":
                self.send_response(200 if ok else 401)
                self.end_headers()
                self.wfile.write(b"fixture-role\n" if ok else b"")
                with open(log, "a") as f:
                    f.write(f"{url.path} {ok}\n")
                return
            body = {"Code": "Success", "LastUpdated": "2026-01-01T00:00:00Z", "Type": "AWS-HMAC",
                    "AccessKeyId": "AKIDFIXTURE", "SecretAccessKey": "fixture-secret",
                    "Token": "fixture-session", "Expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}
            ok = ok and role == "fixture-role"
            err = {"Code": "Unauthorized"}
        elif url.path == "/federation/credentials":
            ok = (self.headers.get("x-amz-sso_bearer_token") == token
                  and query.get("account_id") == ["123456789012"]
                  and query.get("role_name") == ["Admin"])
            body = {"roleCredentials": {"accessKeyId": "AKIDFIXTURE", "secretAccessKey": "fixture-secret",
                    "sessionToken": "fixture-session", "expiration": int(expires.timestamp() * 1000)}}
            err = {"message": "Session token not found or invalid"}
        else:
            ok, body, err = False, None, {"message": "not found"}
        with open(log, "a") as f:
            f.write(f"{url.path} {ok}\n")
        self.reply(200, body) if ok else self.reply(401 if body else 404, err)
    def do_PUT(self):
        ok = self.path == "/latest/api/token" and self.headers.get("x-aws-ec2-metadata-token-ttl-seconds") is not None
        data = ("imds-" + token).encode() if ok else b""
        self.send_response(200 if ok else 400)
        if ok:
            # IMDS echoes the token's lifetime; the Go SDK reads it.
            self.send_header("x-aws-ec2-metadata-token-ttl-seconds",
                             self.headers.get("x-aws-ec2-metadata-token-ttl-seconds"))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        with open(log, "a") as f:
            f.write(f"PUT {self.path} {ok}\n")
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), H)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

impl CredsFixture {
    /// Starts the server; requests must carry `token`.
    pub fn start(token: &str) -> CredsFixture {
        use std::io::BufRead;
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("requests.log");
        std::fs::write(&log, "").unwrap();
        let mut child = Command::new(venv_python())
            .arg("-c")
            .arg(CREDS_FIXTURE)
            .arg(token)
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the credentials fixture could not be started");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line.trim().parse().expect("the fixture prints its port");
        CredsFixture {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
            _dir: dir,
        }
    }

    /// The requests served so far.
    pub fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for CredsFixture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Python of the venv that holds moto (and boto3).
pub fn venv_python() -> PathBuf {
    let server = tool("moto_server").canonicalize().unwrap();
    server.parent().unwrap().join("python")
}
