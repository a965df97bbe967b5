//! A fixed-size pool of PostgreSQL connections usable from any thread,
//! including a tokio worker that calls the store's synchronous methods.
//!
//! Written by hand because the ready-made pools do not fit the store's
//! synchronous traits: the `postgres` crate (and pools over it) runs each
//! call on its own runtime and panics when called from inside another
//! runtime, and async pools need their caller to be async. Here each
//! connection's I/O task runs on the store's own small runtime, and a caller
//! polls the client's futures where it stands (`futures_executor::block_on`):
//! tokio-postgres clients only talk to their connection task through
//! channels, so they need no runtime of their own.

use crate::sql::{Db, Session, Statements, Tx};
use detente_storage::StorageError;
use std::sync::{Condvar, Mutex};
use std::time::Duration;
use tokio_postgres::{Client, Config, IsolationLevel, NoTls};

/// How long a caller waits for a free connection before the store reports
/// itself unavailable.
const WAIT: Duration = Duration::from_secs(30);

/// Connection attempts give up after this long unless the URL says otherwise.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) struct Pool {
    config: Config,
    io: Io,
    size: usize,
    state: Mutex<State>,
    freed: Condvar,
}

struct State {
    idle: Vec<Session>,
    live: usize,
}

/// The runtime that drives the connections' sockets; shut down without
/// blocking, since the store may be dropped on an async worker.
struct Io(Option<tokio::runtime::Runtime>);

impl Drop for Io {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

impl Pool {
    pub fn new(mut config: Config, size: usize) -> Result<Pool, StorageError> {
        if config.get_connect_timeout().is_none() {
            // An unreachable host fails a call in seconds, not minutes.
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("postgres-io")
            .enable_all()
            .build()
            .map_err(|e| {
                StorageError::Database(format!("starting the PostgreSQL I/O thread: {e}"))
            })?;
        Ok(Pool {
            config,
            io: Io(Some(rt)),
            size: size.max(1),
            state: Mutex::new(State {
                idle: Vec::new(),
                live: 0,
            }),
            freed: Condvar::new(),
        })
    }

    /// The connection settings and the runtime that drives the sockets, for
    /// a connection the store drives itself (the LISTEN one of `wake`).
    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn io(&self) -> tokio::runtime::Handle {
        self.io
            .0
            .as_ref()
            .expect("runtime lives as long as the pool")
            .handle()
            .clone()
    }

    /// Opens one connection outside the pool (for LISTEN or session locks).
    pub fn connect(&self) -> Result<Client, StorageError> {
        let config = self.config.clone();
        let rt = self
            .io
            .0
            .as_ref()
            .expect("runtime lives as long as the pool");
        let task = rt.spawn(async move {
            let (client, connection) = config.connect(NoTls).await?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!("PostgreSQL connection ended: {e}");
                }
            });
            Ok::<_, tokio_postgres::Error>(client)
        });
        match futures_executor::block_on(task) {
            Ok(Ok(client)) => Ok(client),
            Ok(Err(e)) => Err(StorageError::Unavailable(crate::describe(&e))),
            Err(e) => Err(StorageError::Unavailable(e.to_string())),
        }
    }

    /// A connection for the caller's exclusive use until it is dropped.
    pub fn get(&self) -> Result<Conn<'_>, StorageError> {
        let mut state = self.state.lock().map_err(|_| poisoned())?;
        loop {
            while let Some(session) = state.idle.pop() {
                if !session.client.is_closed() {
                    return Ok(Conn {
                        pool: self,
                        session: Some(session),
                    });
                }
                state.live -= 1;
            }
            if state.live < self.size {
                state.live += 1;
                drop(state);
                return match self.connect() {
                    Ok(client) => Ok(Conn {
                        pool: self,
                        session: Some(Session {
                            client,
                            statements: Statements::default(),
                        }),
                    }),
                    Err(e) => {
                        self.state.lock().map_err(|_| poisoned())?.live -= 1;
                        self.freed.notify_one();
                        Err(e)
                    }
                };
            }
            let (next, timeout) = self
                .freed
                .wait_timeout(state, WAIT)
                .map_err(|_| poisoned())?;
            state = next;
            if timeout.timed_out() && state.idle.is_empty() {
                return Err(StorageError::Unavailable(format!(
                    "no PostgreSQL connection free after {}s",
                    WAIT.as_secs()
                )));
            }
        }
    }

    fn put(&self, session: Session) {
        if let Ok(mut state) = self.state.lock() {
            if session.client.is_closed() {
                state.live -= 1;
            } else {
                state.idle.push(session);
            }
        }
        self.freed.notify_one();
    }
}

fn poisoned() -> StorageError {
    StorageError::Database("connection pool lock poisoned".into())
}

pub(crate) struct Conn<'a> {
    pool: &'a Pool,
    session: Option<Session>,
}

impl Conn<'_> {
    fn session(&self) -> &Session {
        self.session.as_ref().expect("present until drop")
    }

    fn session_mut(&mut self) -> &mut Session {
        self.session.as_mut().expect("present until drop")
    }

    /// The bare client, for statements that are not worth preparing
    /// (migrations, administration).
    pub fn client_mut(&mut self) -> &mut Client {
        &mut self.session_mut().client
    }

    pub async fn transaction(&mut self) -> Result<Tx<'_>, tokio_postgres::Error> {
        let Session { client, statements } = self.session_mut();
        Ok(Tx::new(client.transaction().await?, statements))
    }

    /// A transaction whose every statement sees the latest commits, whatever
    /// the server's default isolation.
    pub async fn read_committed(&mut self) -> Result<Tx<'_>, tokio_postgres::Error> {
        let Session { client, statements } = self.session_mut();
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::ReadCommitted)
            .start()
            .await?;
        Ok(Tx::new(tx, statements))
    }
}

impl Db for Conn<'_> {
    type Inner = Client;
    fn inner(&self) -> &Client {
        &self.session().client
    }
    fn statements(&self) -> &Statements {
        &self.session().statements
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            self.pool.put(session);
        }
    }
}
