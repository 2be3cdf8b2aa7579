//! A throwaway PostgreSQL server in a temporary directory, for tests, benchmarks and trying
//! the PostgreSQL backend without installing a service.
//!
//! It runs the server binaries of the Debian `postgresql` package
//! (`/usr/lib/postgresql/VERSION/bin`, the newest version found; `PLATONE_PG_BIN` overrides
//! the directory). PostgreSQL refuses to run as root, so when this process is root the server
//! runs as the `postgres` system user (through `runuser`) in a directory handed to that user.
//! It listens on 127.0.0.1 on a free port with trust authentication, and is stopped
//! (`pg_ctl stop -m immediate`) when the handle is dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::error::{Result, TestkitError};

/// A running throwaway PostgreSQL server.
#[derive(Debug)]
pub struct TempPostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres_user: bool,
    /// The `pg_ctl -o` options it runs with (port included), for a restart.
    start_options: String,
}

/// How durable the throwaway server is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// PostgreSQL's defaults (fsync on): for benchmarks.
    Durable,
    /// fsync and synchronous commit off: fast, for tests.
    Fast,
}

fn server_error(what: &str, out: &Output) -> TestkitError {
    TestkitError::Postgres(format!(
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

/// Where Debian installs the server binaries, one directory per major version.
const DEBIAN_ROOT: &str = "/usr/lib/postgresql";

/// The directory holding `initdb`, `pg_ctl` and `postgres`: `$PLATONE_PG_BIN` when set, else
/// the newest `/usr/lib/postgresql/VERSION/bin`. The error says which Debian package to install.
pub fn find_bin_dir() -> Result<PathBuf> {
    locate_bin_dir(std::env::var_os("PLATONE_PG_BIN"), Path::new(DEBIAN_ROOT))
}

/// [`find_bin_dir`] with its inputs given: the override and the versions' root.
fn locate_bin_dir(overridden: Option<std::ffi::OsString>, root: &Path) -> Result<PathBuf> {
    if let Some(dir) = overridden {
        let dir = PathBuf::from(dir);
        return if dir.join("initdb").is_file() {
            Ok(dir)
        } else {
            Err(TestkitError::Postgres(format!(
                "PLATONE_PG_BIN={} holds no `initdb` (unset it to use the Debian package \
                 `postgresql`: apt-get install postgresql)",
                dir.display()
            )))
        };
    }
    let missing = || {
        TestkitError::Postgres(format!(
            "no PostgreSQL server binaries under {}: install the Debian package `postgresql` \
             (apt-get install postgresql) or set PLATONE_PG_BIN",
            root.display()
        ))
    };
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .map_err(|_| missing())?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).ok_or_else(missing)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|e| TestkitError::Postgres(format!("finding a free port: {e}")))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| TestkitError::Postgres(format!("finding a free port: {e}")))
}

impl TempPostgres {
    /// Creates a cluster in a new temporary directory and starts the server.
    pub fn start(durability: Durability) -> Result<Self> {
        let bin = find_bin_dir()?;
        let as_postgres_user = is_root();
        let dir = tempfile::Builder::new()
            .prefix("platone-pg-")
            .tempdir()
            .map_err(|e| TestkitError::Postgres(format!("creating a temporary directory: {e}")))?;
        std::fs::create_dir(dir.path().join("sock"))
            .map_err(|e| TestkitError::io(dir.path().join("sock"), e))?;
        if as_postgres_user {
            let out = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .output()
                .map_err(|e| TestkitError::Postgres(format!("running chown: {e}")))?;
            if !out.status.success() {
                return Err(server_error("chown to the postgres user", &out));
            }
        }
        let mut server = TempPostgres {
            dir,
            bin,
            port: 0,
            as_postgres_user,
            start_options: String::new(),
        };
        let data = server.data_dir();
        let out = server.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ],
        )?;
        if !out.status.success() {
            return Err(server_error("initdb", &out));
        }
        let mut options = format!(
            "-c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c max_connections=100",
            server.dir.path().join("sock").display()
        );
        if durability == Durability::Fast {
            options.push_str(" -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
        }
        // A port taken between the probe and the start makes pg_ctl fail: try a few.
        let mut last = None;
        for _ in 0..5 {
            let port = free_port()?;
            let log = server.dir.path().join("server.log").display().to_string();
            let opts = format!("{options} -p {port}");
            let out = server.run(
                "pg_ctl",
                &[
                    "-D", &data, "-l", &log, "-o", &opts, "-w", "-t", "60", "start",
                ],
            )?;
            if out.status.success() {
                server.port = port;
                server.start_options = opts;
                return Ok(server);
            }
            last = Some(server_error("pg_ctl start", &out));
        }
        Err(last.unwrap_or_else(|| TestkitError::Postgres("pg_ctl start failed".into())))
    }

    fn data_dir(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<Output> {
        let exe = self.bin.join(program);
        let mut cmd = if self.as_postgres_user {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        cmd.args(args)
            .current_dir(self.dir.path())
            .output()
            .map_err(|e| TestkitError::Postgres(format!("running {}: {e}", exe.display())))
    }

    /// The port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `db` on this server.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Makes sure the server is stopped and its directory removed once this process exits,
    /// even when the handle is never dropped (e.g. kept in a `static` shared by the tests of
    /// one binary): a small shell watchdog waits for this process to end, then stops the server.
    pub fn stop_when_process_exits(&self) -> Result<()> {
        let pg_ctl = self.bin.join("pg_ctl").display().to_string();
        let stop = if self.as_postgres_user {
            format!("runuser -u postgres -- {pg_ctl}")
        } else {
            pg_ctl
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; \
             {stop} -D '{data}' -m immediate -w stop >/dev/null 2>&1; rm -rf '{dir}'",
            pid = std::process::id(),
            data = self.data_dir(),
            dir = self.dir.path().display(),
        );
        Command::new("sh")
            .args(["-c", &script])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| TestkitError::Postgres(format!("starting the watchdog: {e}")))?;
        Ok(())
    }

    /// Stops the server (fast shutdown: open connections are closed), keeping its data, to test
    /// what a client does while the database is down.
    pub fn stop(&self) -> Result<()> {
        let data = self.data_dir();
        let out = self.run("pg_ctl", &["-D", &data, "-m", "fast", "-w", "stop"])?;
        if !out.status.success() {
            return Err(server_error("pg_ctl stop", &out));
        }
        Ok(())
    }

    /// Starts a stopped server again, on the same port with the same data.
    pub fn restart(&self) -> Result<()> {
        let data = self.data_dir();
        let log = self.dir.path().join("server.log").display().to_string();
        let out = self.run(
            "pg_ctl",
            &[
                "-D",
                &data,
                "-l",
                &log,
                "-o",
                &self.start_options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        )?;
        if !out.status.success() {
            return Err(server_error("pg_ctl start", &out));
        }
        Ok(())
    }

    /// Creates database `name` and returns its URL.
    pub fn create_database(&self, name: &str) -> Result<String> {
        let port = self.port.to_string();
        let out = self.run(
            "createdb",
            &["-h", "127.0.0.1", "-p", &port, "-U", "postgres", name],
        )?;
        if !out.status.success() {
            return Err(server_error(&format!("createdb {name}"), &out));
        }
        Ok(self.url(name))
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        let data = self.data_dir();
        let _ = self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_binaries_name_the_debian_package() {
        let dir = tempfile::tempdir().unwrap();
        let err = locate_bin_dir(None, &dir.path().join("nothing")).unwrap_err();
        assert!(
            err.to_string().contains("Debian package `postgresql`"),
            "{err}"
        );
        let err = locate_bin_dir(None, dir.path()).unwrap_err();
        assert!(
            err.to_string().contains("apt-get install postgresql"),
            "{err}"
        );
        let err = locate_bin_dir(Some(dir.path().into()), dir.path()).unwrap_err();
        assert!(err.to_string().contains("PLATONE_PG_BIN="), "{err}");
        for version in ["13", "16", "9"] {
            let bin = dir.path().join(version).join("bin");
            std::fs::create_dir_all(&bin).unwrap();
            std::fs::write(bin.join("initdb"), "").unwrap();
        }
        assert_eq!(
            locate_bin_dir(None, dir.path()).unwrap(),
            dir.path().join("16").join("bin")
        );
    }

    #[test]
    fn starts_serves_a_database_and_stops_on_drop() {
        let server = TempPostgres::start(Durability::Fast).unwrap();
        let port = server.port();
        let url = server.create_database("kit").unwrap();
        assert_eq!(url, format!("postgres://postgres@127.0.0.1:{port}/kit"));
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        let dir = server.dir.path().to_path_buf();
        drop(server);
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
}
