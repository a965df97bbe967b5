use anyhow::bail;

use crate::store::{Collection, TaxiiStore};

/// `detente collection ...`: TAXII collections of a node.
#[derive(Debug, clap::Subcommand)]
pub enum CollectionCommand {
    /// Create a collection and print its id.
    Add {
        #[arg(long)]
        title: String,
        #[arg(long)]
        description: Option<String>,
        /// A short name clients may use in URLs instead of the id.
        #[arg(long)]
        alias: Option<String>,
        /// Who may read: user names or peer origins, comma-separated; `*` for
        /// every authenticated principal.
        #[arg(long, value_delimiter = ',')]
        read: Vec<String>,
        /// Who may write, same form as --read.
        #[arg(long, value_delimiter = ',')]
        write: Vec<String>,
        /// Who may read TLP:RED objects (named recipients only).
        #[arg(long, value_delimiter = ',')]
        red: Vec<String>,
    },
    /// List collections with their access lists.
    List,
    /// Delete a collection and all its objects.
    Remove { id: String },
}

/// Runs a collection command on the node's store.
pub fn run_collection(store: &dyn TaxiiStore, cmd: CollectionCommand) -> anyhow::Result<()> {
    match cmd {
        CollectionCommand::Add {
            title,
            description,
            alias,
            read,
            write,
            red,
        } => {
            let collection = new_collection(title, description, alias, read, write, red)?;
            store.create_collection(&collection)?;
            println!("{}", collection.id);
        }
        CollectionCommand::List => {
            for c in store.collections()? {
                println!(
                    "{}\t{}\tread={}\twrite={}",
                    c.id,
                    c.title,
                    c.read.join(","),
                    c.write.join(",")
                );
            }
        }
        CollectionCommand::Remove { id } => {
            if !store.remove_collection(&id)? {
                bail!("no collection {id}");
            }
            println!("removed collection {id}");
        }
    }
    Ok(())
}

fn new_collection(
    title: String,
    description: Option<String>,
    alias: Option<String>,
    read: Vec<String>,
    write: Vec<String>,
    red: Vec<String>,
) -> anyhow::Result<Collection> {
    if title.trim().is_empty() {
        bail!("--title must not be empty");
    }
    let clean = |v: Vec<String>| -> Vec<String> {
        v.into_iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    };
    Ok(Collection {
        id: uuid::Uuid::new_v4().to_string(),
        title,
        description,
        alias,
        read: clean(read),
        write: clean(write),
        red_recipients: clean(red),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_list_remove() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            detente_storage_sqlite::SqliteStore::open(&dir.path().join("detente.db")).unwrap();
        let add = CollectionCommand::Add {
            title: "feed".into(),
            description: None,
            alias: Some("feed".into()),
            read: vec!["*".into()],
            write: vec!["alice".into(), " ".into()],
            red: vec![],
        };
        run_collection(&store, add).unwrap();
        let all = store.collections().unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].write, vec!["alice"]);
        run_collection(&store, CollectionCommand::List).unwrap();
        let id = all[0].id.clone();
        run_collection(&store, CollectionCommand::Remove { id: id.clone() }).unwrap();
        assert!(run_collection(&store, CollectionCommand::Remove { id }).is_err());
    }

    #[test]
    fn refuses_empty_title() {
        assert!(new_collection(" ".into(), None, None, vec![], vec![], vec![]).is_err());
    }
}
