//! The data directory: `config.toml`, `node.key` (0600), `detente.db`, `tree/`
//! (the Merkle tree's level files) and `checkpoint` (the last signed checkpoint,
//! a copy outside the database that reveals a rolled-back database).

use crate::{Config, NodeError};
use detente_domain::{Country, NodeKey, Origin};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub const CONFIG_FILE: &str = "config.toml";
pub const KEY_FILE: &str = "node.key";
pub const CHECKPOINT_FILE: &str = "checkpoint";
pub const TREE_DIR: &str = "tree";

/// The origin `detente serve` gives a data directory it creates by itself.
pub const DEFAULT_ORIGIN: &str = "detente.localhost";

/// The SQLite file of the node in `dir`, as its `config.toml` names it (users,
/// TAXII collections and witness state live there next to the log).
pub fn database_file(dir: &Path) -> Result<PathBuf, NodeError> {
    let config = config_of(dir)?;
    config.sqlite_file(dir).ok_or_else(|| {
        NodeError::Config(format!(
            "database {:?}: users, TAXII and the witness need the SQLite database",
            config.database
        ))
    })
}

/// The store of the node in `dir`, for tools that need it without opening
/// the node (`detente user`): beside a running node, one more connection to
/// the same database, whose changes the node sees at once.
pub fn open_store(dir: &Path) -> Result<std::sync::Arc<dyn detente_storage::Store>, NodeError> {
    crate::node::open_store(&config_of(dir)?, dir)
}

fn config_of(dir: &Path) -> Result<Config, NodeError> {
    if !is_initialised(dir) {
        return Err(NodeError::Config(format!(
            "{} is not a detente data directory (run detente init first)",
            dir.display()
        )));
    }
    Config::load(&dir.join(CONFIG_FILE))
}

pub fn is_initialised(dir: &Path) -> bool {
    dir.join(CONFIG_FILE).exists()
}

/// Creates a data directory: config, a fresh Ed25519 key (mode 0600) and the
/// database with the log's first checkpoint. Refuses to overwrite an existing node.
pub fn init(dir: &Path, origin: &Origin, country: Option<Country>) -> Result<NodeKey, NodeError> {
    init_on(dir, origin, country, None)
}

/// As [`init`], with the node's tables in the database at `database` (a
/// `sqlite://` or `postgres://` URL) instead of the embedded default. A URL
/// with a password makes `config.toml` readable by its owner only.
pub fn init_on(
    dir: &Path,
    origin: &Origin,
    country: Option<Country>,
    database: Option<&str>,
) -> Result<NodeKey, NodeError> {
    if is_initialised(dir) {
        return Err(NodeError::Config(format!(
            "{} already holds a node; refusing to overwrite it",
            dir.display()
        )));
    }
    fs::create_dir_all(dir).map_err(|e| NodeError::io(dir, e))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .map_err(|e| NodeError::io(dir, e))?;
    let key = NodeKey::generate(origin.as_str())?;
    write_new(
        &dir.join(KEY_FILE),
        format!("{}\n", key.to_private_string()).as_bytes(),
        0o600,
    )?;
    let mut config = Config::new(origin, country);
    let mut mode = 0o644;
    if let Some(url) = database {
        config.database = url.to_string();
        if crate::backend::redact(url) != url {
            mode = 0o600;
        }
    }
    write_new(&dir.join(CONFIG_FILE), config.to_toml().as_bytes(), mode)?;
    Ok(key)
}

fn write_new(path: &Path, data: &[u8], mode: u32) -> Result<(), NodeError> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| NodeError::io(path, e))?;
    f.write_all(data).map_err(|e| NodeError::io(path, e))?;
    f.sync_all().map_err(|e| NodeError::io(path, e))
}

/// Loads the node key, refusing one that others can read.
pub fn load_key(dir: &Path, origin: &Origin) -> Result<NodeKey, NodeError> {
    let path = dir.join(KEY_FILE);
    let meta = fs::metadata(&path).map_err(|e| NodeError::io(&path, e))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(NodeError::Config(format!(
            "{} is readable by others (mode {:o}); run: chmod 600 {}",
            path.display(),
            meta.permissions().mode() & 0o777,
            path.display()
        )));
    }
    let text = fs::read_to_string(&path).map_err(|e| NodeError::io(&path, e))?;
    let key = NodeKey::parse(text.trim())?;
    if key.name() != origin.as_str() {
        return Err(NodeError::Config(format!(
            "{} is the key of {}, but config.toml says origin = {}",
            path.display(),
            key.name(),
            origin
        )));
    }
    Ok(key)
}

/// Replaces `path` atomically (write to a temporary file, then rename).
///
/// The temporary name is this process's and this call's own: replicas of one
/// node share its directory, and two writers of one temporary file would
/// rename it from under each other.
pub fn replace_file(path: &Path, data: &[u8]) -> Result<(), NodeError> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp: PathBuf = path.with_extension(format!("tmp.{}.{n}", std::process::id()));
    let done = fs::write(&tmp, data).and_then(|()| fs::rename(&tmp, path));
    if let Err(e) = done {
        let _ = fs::remove_file(&tmp);
        return Err(NodeError::io(path, e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_replacements_of_one_file_all_succeed() {
        // As replicas sharing a directory publish checkpoints at once.
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("checkpoint");
        std::thread::scope(|s| {
            for t in 0..4u8 {
                let path = &path;
                s.spawn(move || {
                    for _ in 0..300 {
                        replace_file(path, &[t; 64]).unwrap();
                    }
                });
            }
        });
        let left = fs::read(&path).unwrap();
        assert!(left.len() == 64 && left.iter().all(|b| *b == left[0]));
        assert_eq!(
            fs::read_dir(d.path()).unwrap().count(),
            1,
            "no temporary files left"
        );
    }

    #[test]
    fn init_writes_a_private_key_and_refuses_to_overwrite() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("n");
        let o = Origin::parse("cert.example.org").unwrap();
        let key = init(&dir, &o, None).unwrap();
        let mode = fs::metadata(dir.join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(load_key(&dir, &o).unwrap().verifier(), key.verifier());
        assert!(init(&dir, &o, None).is_err());
        fs::set_permissions(dir.join(KEY_FILE), fs::Permissions::from_mode(0o644)).unwrap();
        assert!(load_key(&dir, &o)
            .unwrap_err()
            .to_string()
            .contains("chmod 600"));
    }
}
