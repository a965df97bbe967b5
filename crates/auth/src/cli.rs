use std::io::Read;
use std::sync::Arc;

use anyhow::{bail, Context};

use crate::{AuthStore, Role, Users};

/// `detente user ...`: managing the people who may use a node.
#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from standard input.
    Add {
        name: String,
        /// Read the password from standard input (required: passwords never
        /// go on the command line, where other local users can see them).
        #[arg(long)]
        password_stdin: bool,
        #[arg(long, default_value = "officer")]
        role: String,
    },
    /// Replace a user's password, read from standard input.
    Passwd {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Issue a bearer token for a user; it is printed once and not stored.
    Token { name: String },
    /// Revoke all bearer tokens of a user.
    Revoke { name: String },
    /// List users and their roles.
    List,
    /// Delete a user and their tokens.
    Remove { name: String },
}

/// Runs a user command on the node's store.
pub fn run_user(store: Arc<dyn AuthStore>, cmd: UserCommand) -> anyhow::Result<()> {
    let users = Users::new(store);
    match cmd {
        UserCommand::Add {
            name,
            password_stdin,
            role,
        } => {
            let role: Role = role.parse()?;
            let password = read_password(password_stdin, std::io::stdin())?;
            users.add_user(&name, role, &password)?;
            println!("added user {name} ({role})");
        }
        UserCommand::Passwd {
            name,
            password_stdin,
        } => {
            let password = read_password(password_stdin, std::io::stdin())?;
            users.set_password(&name, &password)?;
            println!("password changed for {name}");
        }
        UserCommand::Token { name } => println!("{}", users.issue_token(&name)?),
        UserCommand::Revoke { name } => {
            println!("revoked {} token(s) of {name}", users.revoke(&name)?)
        }
        UserCommand::List => {
            for u in users.list_users()? {
                println!("{}\t{}\t{}", u.name, u.role, u.created);
            }
        }
        UserCommand::Remove { name } => {
            users.remove_user(&name)?;
            println!("removed user {name}");
        }
    }
    Ok(())
}

/// Reads the whole of `input` as the password, dropping one trailing newline
/// (as `echo` adds) but keeping any other whitespace, which may be intended.
fn read_password(password_stdin: bool, mut input: impl Read) -> anyhow::Result<String> {
    if !password_stdin {
        bail!("pass --password-stdin and provide the password on standard input");
    }
    let mut text = String::new();
    input
        .read_to_string(&mut text)
        .context("cannot read password from standard input")?;
    let text = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(&text);
    if text.is_empty() {
        bail!("empty password on standard input");
    }
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_reading() {
        assert_eq!(read_password(true, "pw\n".as_bytes()).unwrap(), "pw");
        assert_eq!(read_password(true, "pw\r\n".as_bytes()).unwrap(), "pw");
        assert_eq!(read_password(true, "pw \n\n".as_bytes()).unwrap(), "pw \n");
        assert!(read_password(true, "\n".as_bytes()).is_err());
        assert!(read_password(true, "".as_bytes()).is_err());
        assert!(read_password(false, "pw".as_bytes()).is_err());
    }

    #[test]
    fn run_user_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = detente_storage_sqlite::SqliteStore::open(&dir.path().join("detente.db"));
        let store: Arc<dyn AuthStore> = Arc::new(store.unwrap());
        run_user(store.clone(), UserCommand::Token { name: "x".into() }).unwrap_err();
        run_user(store, UserCommand::List).unwrap();
    }
}
